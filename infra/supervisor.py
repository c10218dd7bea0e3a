"""Run the stack's programs under supervisord, and talk to it over its XML-RPC socket.

supervisord gives us what hand-written daemon code would get wrong: process groups killed as a
whole, one log file per program, restarts of crashed programs, and a control socket that works
from any later ``strikeflow`` invocation.
"""

from __future__ import annotations

import math
import os
import shlex
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

import psutil
from supervisor.xmlrpc import SupervisorTransport

from infra.services import Service, depth
from infra.settings import Settings

__all__ = ["Supervisor"]

_STOPPED = ("STOPPED", "EXITED", "FATAL", "UNKNOWN")
_CREATE_TIME_SLACK_S = 2.0


def _exited(pid: int) -> bool:
    """Gone, or a zombie: supervisord daemonizes, so whoever reaps it (init) may take a
    while, and a zombie holds nothing."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _kill_leftovers(groups: dict[int, float]) -> None:
    """SIGKILL processes still in the process group of a program supervisord ran.

    ``groups`` maps each group id (the program's pid: supervisord makes it the group leader)
    to when it was told to stop. Only processes created before that count: a group id can be
    reused by an unrelated process once the old group is gone.
    """
    killed: list[psutil.Process] = []
    for proc in psutil.process_iter(["create_time"]):
        try:
            since = groups.get(os.getpgid(proc.pid))
            if since is not None and proc.info["create_time"] < since:
                proc.kill()
                killed.append(proc)
        except (ProcessLookupError, psutil.Error):
            continue
    # SIGKILL is delivered asynchronously: return only once they are gone (or reaped by
    # whoever is their parent), so that "infra down" means nothing of ours still runs.
    psutil.wait_procs(killed, timeout=10)


class Supervisor:
    """One supervisord per data directory, controlled through a unix socket in it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.run_dir = settings.data_dir / "run"
        self.log_dir = settings.data_dir / "logs"
        self.conf = settings.data_dir / "conf" / "supervisord.conf"
        self.socket = self.run_dir / "supervisor.sock"
        self._stopped_groups: dict[int, float] = {}  # for the sweep after shutdown

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
            # supervisord stops by falling priority when it is itself told to exit: dependants
            # (higher depth) first, as ``infra down`` does.
            lines += [
                f"[program:{svc.name}]",
                f"command={command.replace('%', '%%')}",
                f"priority={100 + 10 * depth(svc, services)}",
                "autostart=false", "autorestart=unexpected", "startsecs=2", "startretries=3",
                f"stopsignal={svc.stop_signal}", f"stopwaitsecs={math.ceil(svc.stop_timeout_s)}",
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

    def programs(self) -> dict[str, dict[str, Any]]:
        """What supervisord runs now, by program name (whatever the settings say today)."""
        if not self.is_running():
            return {}
        return {p["name"]: p for p in self.rpc().getAllProcessInfo()}

    def stop_together(self, names: list[str], timeout_s: float) -> None:
        """Stop several programs at once and wait until all have stopped.

        supervisord's own ``stopAllProcesses`` stops one program after the other, each
        waiting up to its ``stopwaitsecs``. Here they all get their stop signal at once and
        supervisord escalates to SIGKILL per program; ``timeout_s`` only guards against a
        supervisord that stopped answering.
        """
        self._remember_groups(names)
        rpc = self.rpc()
        for name in names:
            try:
                rpc.stopProcess(name, False)
            except xmlrpc.client.Fault as fault:
                if "NOT_RUNNING" not in fault.faultString:
                    raise
        self._wait(lambda: all(self.programs().get(n, {}).get("statename") in _STOPPED
                               for n in names), timeout_s, f"{', '.join(names)} did not stop")

    def shutdown(self, timeout_s: float = 60) -> None:
        """Stop what still runs, then supervisord itself; kill anything left in the
        programs' process groups (a child that outlived its parent, say)."""
        if not self.is_running():
            return
        self._remember_groups(list(self.programs()))
        rpc = self.rpc()
        pid = rpc.getPID()
        # No ``stopAllProcesses(wait)`` first: supervisord answers a waiting call only on
        # its next 1 s tick. Told to shut down, it stops whatever still runs itself (by
        # falling priority, each within its stopwaitsecs) and exits.
        rpc.shutdown()
        self._wait(lambda: _exited(pid), timeout_s, "supervisord did not exit")
        self.socket.unlink(missing_ok=True)
        _kill_leftovers(self._stopped_groups)

    def _remember_groups(self, names: list[str]) -> None:
        # psutil's create_time is the boot time, a whole second in /proc/stat, plus clock
        # ticks: it can read up to a second late, so a child started just before the stop
        # would look younger than it. Two seconds of slack; a group id is not reused as fast.
        now = time.time() + _CREATE_TIME_SLACK_S
        for name, proc in self.programs().items():
            if name in names and proc.get("pid"):
                self._stopped_groups.setdefault(proc["pid"], now)

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
