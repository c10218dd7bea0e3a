"""Helpers for the market-data integration tests: a worker reading from the live end, a
reader that starts at the end of topics (their history can be long), and a producer that
returns offsets."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from confluent_kafka import TopicPartition

from infra.settings import Settings
from streams.kafka import make_consumer, make_producer
from streams.worker_process import WorkerProcess

__all__ = ["Tail", "free_port", "live_worker", "produce", "value"]


def free_port() -> int:
    """A loopback port nobody listens on now (other suites start workers too)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_worker(settings: Settings, env: dict[str, str] | None = None
                ) -> Iterator[WorkerProcess]:
    """A worker of the market-data agents (candles too: rollups need them), with a fresh
    group that starts at the end of its topics: it sees only what a test produces, not the
    history other runs left (days of it, on a shared broker)."""
    only_marketdata = {"STRIKEFLOW_WORKER__AGENTS": '["streams.marketdata"]'}
    worker = WorkerProcess(settings, f"test-md-{uuid.uuid4().hex[:8]}", free_port(),
                           offset_reset="latest", env=only_marketdata | (env or {}))
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


class Tail:
    """Reads topics from where they ended when it was created."""

    def __init__(self, settings: Settings, topics: Iterable[str]) -> None:
        self.consumer = make_consumer(settings, f"test-tail-{uuid.uuid4().hex[:8]}")
        parts = []
        for topic in topics:
            meta = self.consumer.list_topics(topic, timeout=10).topics[topic]
            for p in meta.partitions:
                _, high = self.consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                              timeout=10)
                parts.append(TopicPartition(topic, p, high))
        self.consumer.assign(parts)
        self.seen: list[Any] = []

    def collect(self, keep: Callable[[Any], bool], until: Callable[[list[Any]], bool],
                timeout_s: float = 60) -> list[Any]:
        """Messages (since creation) that ``keep`` accepts, once ``until`` holds on them."""
        deadline = time.monotonic() + timeout_s
        while True:
            kept = [m for m in self.seen if keep(m)]
            if until(kept):
                return kept
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out: {len(kept)} matching messages")
            for msg in self.consumer.consume(500, 0.3):
                if not msg.error():
                    self.seen.append(msg)

    def close(self) -> None:
        self.consumer.close()


def produce(settings: Settings, messages: list[tuple[str, bytes, bytes]]) -> list[int]:
    """Produce ``(topic, key, value)`` in order; returns each message's offset."""
    producer = make_producer(settings)
    offsets: dict[int, int] = {}
    for n, (topic, key, value) in enumerate(messages):
        producer.produce(topic, key=key, value=value,
                         on_delivery=lambda err, msg, n=n: offsets.__setitem__(n, msg.offset()))
        producer.poll(0)
    producer.flush(30)
    assert len(offsets) == len(messages)
    return [offsets[n] for n in range(len(messages))]


def value(msg: Any) -> dict[str, Any]:
    return json.loads(msg.value())
