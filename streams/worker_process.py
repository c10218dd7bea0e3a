"""A ``strikeflow worker`` in a child process: what the demo, the tests and benchmarks run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from infra.settings import Settings

__all__ = ["WorkerProcess"]

READY_MARK = b"Worker]: Ready"


class WorkerProcess:
    """One worker with its own app id (consumer group, tables) and log under ``logs/``."""

    def __init__(self, settings: Settings, app_id: str | None = None, web_port: int | None = None,
                 offset_reset: str | None = None) -> None:
        self.settings = settings
        self.app_id = app_id or settings.worker.app_id
        self.env = {"STRIKEFLOW_WORKER__APP_ID": self.app_id,
                    "STRIKEFLOW_DATA_DIR": str(settings.data_dir)}
        if web_port is not None:
            self.env["STRIKEFLOW_WORKER__WEB_PORT"] = str(web_port)
        if offset_reset is not None:
            self.env["STRIKEFLOW_WORKER__OFFSET_RESET"] = offset_reset
        self.log = settings.data_dir / "logs" / f"worker-{self.app_id}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 120) -> None:
        """Start and wait until Faust says the worker is ready."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker"], env=os.environ | self.env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the worker exited; see {self.log}")
            if READY_MARK in self.log.read_bytes()[offset:]:
                return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"the worker was not ready after {timeout_s:.0f}s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit, as in a crash."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM and wait; SIGKILL if it does not stop in time."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
