"""Changelog messages through the worker's librdkafka producer: what is sent, on which
partition, in which order, and what a flush records or raises.

Faust's own ``Table`` on an in-memory store; librdkafka's producer is replaced by a recorder
that delivers on ``flush`` (the real producer is exercised by the integration tests and the
fault drill).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import faust
import orjson
import pytest
from confluent_kafka import KafkaException
from faust.serializers import codecs

from streams import changelog
from streams.batching import as_partition
from streams.changelog import ChangelogTable, flush_changelogs
from streams.deliveries import TrackedProducer

TOPIC = "changelog-test-input"


class RecordingProducer:
    """Queues what is produced; ``poll`` (the delivery-report thread) delivers it with
    per-partition offsets once ``delivering`` is set, as Kafka's acknowledgements would."""

    def __init__(self, fail: bool = False) -> None:
        self.queued: list[dict[str, Any]] = []
        self.delivered: list[dict[str, Any]] = []
        self.fail = fail
        self.delivering = threading.Event()
        self._lock = threading.Lock()
        self._next: dict[tuple[str, int], int] = {}

    def produce(self, topic: str, *, key: bytes, value: bytes | None, partition: int,
                on_delivery: Any) -> None:
        with self._lock:
            self.queued.append({"topic": topic, "key": key, "value": value,
                                "partition": partition, "cb": on_delivery})

    def poll(self, timeout: float) -> int:
        if not self.delivering.wait(timeout):
            return 0
        with self._lock:
            queued, self.queued = self.queued, []
        for m in queued:
            where = (m["topic"], m["partition"])
            offset = self._next.get(where, 0)
            self._next[where] = offset + 1
            msg = SimpleNamespace(topic=lambda m=m: m["topic"],
                                  partition=lambda m=m: m["partition"],
                                  offset=lambda o=offset: o)
            m["cb"]("broker down" if self.fail else None, msg)
            self.delivered.append(m)
        time.sleep(0.001)
        return len(queued)


@pytest.fixture
def producer(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingProducer]:
    fake = RecordingProducer()
    monkeypatch.setattr(changelog._Changelogs, "producer", TrackedProducer(fake, offsets=True))
    monkeypatch.setattr(changelog._Changelogs, "tables", {})
    yield fake


def _flush() -> None:
    """What a batch does at its end, with Kafka acknowledging."""
    async def flush() -> None:
        await flush_changelogs()
    asyncio.run(flush())


def _table() -> tuple[ChangelogTable, dict[Any, int]]:
    app = faust.App("changelog-test", store="memory://", autodiscover=False)
    table = ChangelogTable(app, name="t", default=None, partitions=4, key_type=bytes,
                           schema=faust.Schema(key_serializer="raw", value_serializer="json"))
    table._verify_source_topic_partitions = lambda topic: None  # type: ignore[method-assign]
    persisted: dict[Any, int] = {}
    table.data.set_persisted_offset = lambda tp, offset: persisted.__setitem__(tp, offset)
    return table, persisted


def test_writes_and_deletes_go_to_their_events_partition_in_order(
        producer: RecordingProducer) -> None:
    table, _ = _table()
    table.data[b"acct/o7"] = {"o1": "held"}
    with as_partition(TOPIC, 2):
        table[b"acct/j"] = {"w": 3, "parts": {"": {"cash": "1.5"}}}
        table[b"acct"] = {"w": 3}
        del table[b"acct/o7"]
    with as_partition(TOPIC, 0):
        table[b"other"] = [1, 2]
    sent = [(m["partition"], m["key"], m["value"]) for m in producer.queued]
    assert sent == [(2, b"acct/j", b'{"w":3,"parts":{"":{"cash":"1.5"}}}'),
                    (2, b"acct", b'{"w":3}'), (2, b"acct/o7", None), (0, b"other", b"[1,2]")]
    assert {m["topic"] for m in producer.queued} == {table.changelog_topic.get_topic_name()}
    assert table.data[b"acct"] == {"w": 3}  # the store has it too


def test_values_are_fausts_own_json_so_a_restore_reads_them_back(
        producer: RecordingProducer) -> None:
    table, _ = _table()
    value = {"positions": {"BTC-USDT": ["0.5", "100", "0", True]}, "tokens": 1.25, "n": None}
    with as_partition(TOPIC, 1):
        table[b"k"] = value
    raw = producer.queued[0]["value"]
    assert orjson.loads(raw) == value
    assert codecs.loads("json", raw) == value  # what Faust's recovery decodes it with


def test_a_flush_records_the_highest_offset_delivered_per_partition(
        producer: RecordingProducer) -> None:
    table, persisted = _table()
    with as_partition(TOPIC, 3):
        for n in range(5):
            table[f"k{n}".encode()] = n
    with as_partition(TOPIC, 1):
        table[b"x"] = 0
    producer.delivering.set()
    _flush()
    topic = table.changelog_topic.get_topic_name()
    assert {(tp.topic, tp.partition): o for tp, o in persisted.items()} == {
        (topic, 3): 4, (topic, 1): 0}
    assert len(producer.delivered) == 6


def test_an_undelivered_changelog_message_crashes_the_worker(
        producer: RecordingProducer) -> None:
    table, persisted = _table()
    producer.fail = True
    producer.delivering.set()
    with as_partition(TOPIC, 0):
        table[b"k"] = 1
    with pytest.raises(KafkaException, match="changelog not delivered"):
        _flush()
    assert persisted == {}  # nothing claimed persisted that Kafka does not hold


def test_a_flush_with_nothing_sent_waits_for_nothing(producer: RecordingProducer) -> None:
    _flush()
    assert producer.delivered == []
