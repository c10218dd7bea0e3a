"""The agent skeleton's screening: ownership, gaps, failures (no Kafka: a recording producer)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import pytest

import streams.deadletters as deadletters
import streams.inbox as inbox_module
from streams.inbox import Inbox, owner_partition, venue_time_ns
from streams.output import BatchOutput

TOPIC = "orders.requests"  # 6 partitions


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def produce(self, topic: str, key: bytes | None, value: bytes, on_delivery: Any,
                partition: int | None = None) -> None:
        self.sent.append({"topic": topic, "key": key, "value": value, "partition": partition})

    def poll(self, timeout: float) -> int:  # the delivery-report thread's
        time.sleep(timeout)
        return 0


@dataclass
class Msg:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: float = 1_796_000_000.0
    timestamp_type: int = 1


@dataclass
class Event:
    message: Msg


@pytest.fixture
def producer(monkeypatch: pytest.MonkeyPatch) -> RecordingProducer:
    recording = RecordingProducer()
    monkeypatch.setattr(deadletters, "_output", BatchOutput(recording))
    return recording


def _inbox(producer: RecordingProducer) -> Inbox:
    box = Inbox([TOPIC], name="test")
    box.output = BatchOutput(producer)
    return box


def _key_on(partition: int) -> bytes:
    n = 0
    while owner_partition(f"acct-{n}".encode(), 6) != partition:
        n += 1
    return f"acct-{n}".encode()


def test_a_message_on_a_partition_that_does_not_own_its_key_is_rerouted(
    producer: RecordingProducer,
) -> None:
    box = _inbox(producer)
    key = _key_on(2)
    wrong = Event(Msg(TOPIC, 4, 10, key, b"{}"))
    right = Event(Msg(TOPIC, 2, 7, key, b"{}"))
    out = asyncio.run(box.screen([wrong, right]))
    assert out == [right]
    assert producer.sent == [{"topic": TOPIC, "key": key, "value": b"{}", "partition": 2}]


def test_a_message_without_a_key_becomes_a_dead_letter(producer: RecordingProducer) -> None:
    box = _inbox(producer)
    out = asyncio.run(box.screen([Event(Msg(TOPIC, 0, 3, None, b"{}"))]))
    assert out == []
    letter = json.loads(producer.sent[0]["value"])
    assert producer.sent[0]["topic"] == f"{TOPIC}.dlq"
    assert (letter["reason"], letter["source_partition"], letter["source_offset"]) == \
        ("missing_key", 0, 3)


def test_skipped_offsets_are_read_back_and_repeats_dropped(
    producer: RecordingProducer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = _key_on(1)

    class Raw:
        def __init__(self, offset: int) -> None:
            self._offset = offset

        def offset(self) -> int:
            return self._offset

        def key(self) -> bytes:
            return key

        def value(self) -> bytes:
            return b'{"n": %d}' % self._offset

        def timestamp(self) -> tuple[int, int]:
            return (2, 1_796_000_000_000 + self._offset)

    asked: list[tuple[int, int]] = []

    def read_range(settings: Any, topic: str, partition: int, start: int, end: int
                   ) -> list[Raw]:
        asked.append((start, end))
        return [Raw(o) for o in range(start, end)]

    monkeypatch.setattr(inbox_module, "read_range", read_range)
    box = _inbox(producer)
    events = [Event(Msg(TOPIC, 1, o, key, b"{}")) for o in (5, 6, 9, 6, 10)]
    out = asyncio.run(box.screen(events))
    assert [e.message.offset for e in out] == [5, 6, 7, 8, 9, 10]
    assert asked == [(7, 9)]
    assert venue_time_ns(out[2].message) == (1_796_000_000_000 + 7) * 1_000_000
    box.forget([type("TP", (), {"topic": TOPIC, "partition": 1})()])
    again = asyncio.run(box.screen([Event(Msg(TOPIC, 1, 6, key, b"{}"))]))
    assert [e.message.offset for e in again] == [6]  # a new assignment starts afresh


def test_a_failure_while_processing_one_message_becomes_a_dead_letter(
    producer: RecordingProducer,
) -> None:
    box = _inbox(producer)
    event = Event(Msg(TOPIC, 0, 42, b"k", b'{"x": 1}'))
    dropped: list[bool] = []

    async def run() -> None:
        async with box.guard(event, on_error=lambda: dropped.append(True)):
            raise ZeroDivisionError("boom")

    asyncio.run(run())
    letter = json.loads(producer.sent[0]["value"])
    assert letter["reason"] == "processing_error" and "ZeroDivisionError: boom" in letter["error"]
    assert letter["source_offset"] == 42 and dropped == [True]


def test_infrastructure_failures_still_crash_the_worker(producer: RecordingProducer) -> None:
    from confluent_kafka import KafkaException

    box = _inbox(producer)
    event = Event(Msg(TOPIC, 0, 1, b"k", b"{}"))

    async def run() -> None:
        async with box.guard(event):
            raise KafkaException("broker gone")

    with pytest.raises(KafkaException):
        asyncio.run(run())
    assert producer.sent == []


def test_a_client_timestamp_cannot_run_ahead_of_the_worker_clock() -> None:
    far = Msg(TOPIC, 0, 1, b"k", b"{}", timestamp=4_000_000_000.0, timestamp_type=0)
    assert venue_time_ns(far) < 4_000_000_000 * 10**9
    broker = Msg(TOPIC, 0, 1, b"k", b"{}", timestamp=1_796_000_000.123, timestamp_type=1)
    assert venue_time_ns(broker) == 1_796_000_000_123 * 1_000_000
