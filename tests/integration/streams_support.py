"""Run a real worker process and read topics, for the streams tests."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from confluent_kafka import TopicPartition

from infra.settings import Settings
from streams.kafka import end_offsets, make_consumer
from streams.worker_process import WorkerProcess


@contextmanager
def running_worker(settings: Settings, web_port: int = 16170,
                   agents: str = "streams.marketdata.agents") -> Iterator[WorkerProcess]:
    """A worker running only ``agents`` (JSON list or one name), with its own group."""
    env = {"STRIKEFLOW_WORKER__AGENTS": f'["{agents}"]'}
    worker = WorkerProcess(settings, f"test-{uuid.uuid4().hex[:8]}", web_port, env=env)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def collect(settings: Settings, topic: str, keep: Callable[[Any], bool],
            until: Callable[[list[Any]], bool], timeout_s: float = 60,
            since: dict[int, int] | None = None) -> list[Any]:
    """Read ``topic`` from the beginning (or from ``since``), keeping what ``keep`` accepts."""
    consumer = make_consumer(settings, f"test-reader-{uuid.uuid4().hex[:8]}")
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    start = since or {}
    consumer.assign([TopicPartition(topic, p, start.get(p, 0)) for p in meta.partitions])
    kept: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not until(kept):
            for msg in consumer.consume(2000, 0.5):
                if not msg.error() and keep(msg):
                    kept.append(msg)
    finally:
        consumer.close()
    if not until(kept):
        raise AssertionError(f"timed out reading {topic}: got {len(kept)} matching messages")
    return kept


def value(msg: Any) -> dict[str, Any]:
    return json.loads(msg.value())


__all__ = ["WorkerProcess", "collect", "end_offsets", "running_worker", "value"]
