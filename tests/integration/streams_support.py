"""Run a real ``strikeflow worker`` process and read topics, for the streams tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from confluent_kafka import TopicPartition

from infra.settings import Settings
from streams.kafka import make_consumer


class WorkerProcess:
    """A ``strikeflow worker`` in its own process group, with its own app id and log."""

    def __init__(self, settings: Settings, app_id: str, web_port: int) -> None:
        self.settings = settings
        self.app_id = app_id
        self.web_port = web_port
        self.log = settings.data_dir / "logs" / f"worker-{app_id}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 90) -> None:
        env = os.environ | {"STRIKEFLOW_WORKER__APP_ID": self.app_id,
                            "STRIKEFLOW_WORKER__WEB_PORT": str(self.web_port),
                            "STRIKEFLOW_DATA_DIR": str(self.settings.data_dir)}
        self.log.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker", "-l", "info"], env=env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited: see {self.log}")
            if b"Worker]: Ready" in self.log.read_bytes()[offset:]:
                return
            time.sleep(0.3)
        raise AssertionError(f"worker not ready after {timeout_s}s: see {self.log}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit, as in a crash."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def running_worker(settings: Settings, web_port: int = 16170) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(settings, f"test-{uuid.uuid4().hex[:8]}", web_port)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def collect(settings: Settings, topic: str, keep: Callable[[Any], bool],
            until: Callable[[list[Any]], bool], timeout_s: float = 60) -> list[Any]:
    """Read ``topic`` from the beginning, keeping the messages ``keep`` accepts."""
    consumer = make_consumer(settings, f"test-reader-{uuid.uuid4().hex[:8]}")
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
    kept: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not until(kept):
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            if keep(msg):
                kept.append(msg)
    finally:
        consumer.close()
    if not until(kept):
        raise AssertionError(f"timed out reading {topic}: got {len(kept)} matching messages")
    return kept


def value(msg: Any) -> dict[str, Any]:
    return json.loads(msg.value())


__all__ = ["Path", "WorkerProcess", "collect", "running_worker", "value"]
