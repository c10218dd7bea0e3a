"""``strikeflow`` services in child processes: what the demo, the tests and benchmarks run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from infra.settings import Settings

__all__ = ["ChildProcess", "ElasticsearchSinkProcess", "ExporterProcess", "SinkProcess",
           "WorkerProcess"]


class ChildProcess:
    """A ``strikeflow`` sub-command in its own process group, with its log under ``logs/``."""

    def __init__(self, settings: Settings, name: str, args: list[str], ready_mark: bytes,
                 env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.args = args
        self.ready_mark = ready_mark
        kafka = settings.kafka  # a private broker (benchmarks, drills) goes with the settings
        self.env = {"STRIKEFLOW_DATA_DIR": str(settings.data_dir),
                    "STRIKEFLOW_KAFKA__PORT": str(kafka.port),
                    "STRIKEFLOW_KAFKA__CONTROLLER_PORT": str(kafka.controller_port),
                    "STRIKEFLOW_KAFKA__BROKERS": str(kafka.brokers)} | (env or {})
        self.log = settings.data_dir / "logs" / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 120) -> None:
        """Start, and wait until the process logs that it is ready."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "strikeflow.cli", *self.args], env=os.environ | self.env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{' '.join(self.args)} exited; see {self.log}")
            if self.ready_mark in self.log.read_bytes()[offset:]:
                return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{' '.join(self.args)} not ready after {timeout_s:.0f}s; "
                           f"see {self.log}")

    def check_alive(self) -> None:
        """Raise if the process has exited: a caller watching its output should not wait on."""
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{' '.join(self.args)} exited with {self.proc.returncode}; "
                               f"see {self.log}")

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


class WorkerProcess(ChildProcess):
    """A Faust worker with its own app id (consumer group, tables)."""

    def __init__(self, settings: Settings, app_id: str | None = None, web_port: int | None = None,
                 offset_reset: str | None = None, env: dict[str, str] | None = None) -> None:
        self.app_id = app_id or settings.worker.app_id
        env = {"STRIKEFLOW_WORKER__APP_ID": self.app_id} | (env or {})
        if web_port is not None:
            env["STRIKEFLOW_WORKER__WEB_PORT"] = str(web_port)
        if offset_reset is not None:
            env["STRIKEFLOW_WORKER__OFFSET_RESET"] = offset_reset
        super().__init__(settings, f"worker-{self.app_id}", ["worker"], b"Worker]: Ready", env)


class SinkProcess(ChildProcess):
    """The ClickHouse sink; ready once it answers SQL (or, for a server DSN, once it consumes)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, "sink-clickhouse", ["sink", "clickhouse"], b"sink running")


class ElasticsearchSinkProcess(ChildProcess):
    """The Elasticsearch sink; ready once its indices are set up and it consumes."""

    def __init__(self, settings: Settings, env: dict[str, str] | None = None) -> None:
        super().__init__(settings, "sink-elasticsearch", ["sink", "elasticsearch"],
                         b"elasticsearch sink running", env)


class ExporterProcess(ChildProcess):
    """``strikeflow ops exporter``: consumer lag and the ledger's balance as metrics."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, "ops-exporter", ["ops", "exporter"], b"metrics on")
