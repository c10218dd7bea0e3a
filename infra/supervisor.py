"""Run the stack's programs under supervisord, and talk to it over its XML-RPC socket.

supervisord gives us what hand-written daemon code would get wrong: process groups killed as a
whole, one log file per program, restarts of crashed programs, and a control socket that works
from any later ``strikeflow`` invocation.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from infra.services import Service
from infra.settings import Settings

__all__ = ["Supervisor"]


class Supervisor:
    """One supervisord per data directory, controlled through a unix socket in it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.run_dir = settings.data_dir / "run"
        self.log_dir = settings.data_dir / "logs"
        self.conf = settings.data_dir / "conf" / "supervisord.conf"
        self.socket = self.run_dir / "supervisor.sock"

    # -- configuration --------------------------------------------------------------------
    def render(self, services: tuple[Service, ...]) -> str:
        lines = [
            "[unix_http_server]", f"file={self.socket}", "chmod=0700", "",
            "[supervisord]", f"logfile={self.log_dir / 'supervisord.log'}",
            f"pidfile={self.run_dir / 'supervisord.pid'}", f"childlogdir={self.log_dir}",
            f"directory={self.settings.data_dir}", "logfile_maxbytes=10MB", "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "",
            "[supervisorctl]", f"serverurl=unix://{self.socket}", "",
        ]
        for svc in services:
            command = " ".join(shlex.quote(part) for part in svc.command(self.settings))
            lines += [
                f"[program:{svc.name}]",
                f"command={command.replace('%', '%%')}",
                "autostart=false", "autorestart=unexpected", "startsecs=2", "startretries=3",
                f"stopsignal={svc.stop_signal}", "stopwaitsecs=60",
                "stopasgroup=true", "killasgroup=true", "redirect_stderr=true",
                f"stdout_logfile={self.log_path(svc.name)}",
                "stdout_logfile_maxbytes=50MB", "stdout_logfile_backups=2",
            ]
            if user := svc.user():
                lines.append(f"user={user}")
            lines.append("")
        return "\n".join(lines)

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    # -- the daemon -----------------------------------------------------------------------
    def rpc(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def is_running(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return self.rpc().getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Fault):
            return False

    def ensure_running(self, services: tuple[Service, ...]) -> None:
        """Start supervisord, or make a running one pick up a changed configuration."""
        for folder in (self.run_dir, self.log_dir, self.conf.parent):
            folder.mkdir(parents=True, exist_ok=True)
        text = self.render(services)
        changed = not self.conf.exists() or self.conf.read_text() != text
        self.conf.write_text(text)
        if not self.is_running():
            self.socket.unlink(missing_ok=True)
            subprocess.run([sys.executable, "-m", "supervisor.supervisord", "-c",
                            str(self.conf)], check=True)
            self._wait(self.is_running, 15, "supervisord did not come up")
            return
        if changed:
            rpc = self.rpc()
            added, modified, removed = rpc.reloadConfig()[0]
            for name in modified + removed:
                rpc.stopProcessGroup(name, True)
                rpc.removeProcessGroup(name)
            for name in added + modified:
                rpc.addProcessGroup(name)

    def shutdown(self, timeout_s: float = 90) -> None:
        if not self.is_running():
            return
        rpc = self.rpc()
        rpc.stopAllProcesses(True)
        pid = rpc.getPID()
        rpc.shutdown()
        self._wait(lambda: not Path(f"/proc/{pid}").exists(), timeout_s,
                   "supervisord did not exit")
        self.socket.unlink(missing_ok=True)

    def info(self, name: str) -> dict[str, Any] | None:
        if not self.is_running():
            return None
        try:
            return self.rpc().getProcessInfo(name)
        except xmlrpc.client.Fault:
            return None

    @staticmethod
    def _wait(condition: Any, timeout_s: float, message: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.2)
        raise TimeoutError(message)
