"""Table changelogs written through librdkafka instead of Faust's aiokafka producer.

Every table write is also a changelog message. Faust sends it through its aiokafka producer —
a future, a buffer entry and a pure-Python record batch per message — which cost the trading
worker ~17% of its CPU (py-spy, backlog drained; risk alone writes about one changelog
message per request). :class:`ChangelogTable` hands the same bytes to one librdkafka producer
per worker process instead, keyed and partitioned exactly as Faust would, and
:func:`flush_changelogs` waits for them at the end of each batch, before the batch's output is
flushed and its offsets acknowledged (:mod:`streams.inbox`).

Two things Faust's producer did are kept:

* **persisted offsets** — after a flush, each table's store records the highest changelog
  offset delivered per partition (what ``Table._on_changelog_sent`` did per message), so a
  restarted worker reads back only the changelog written after its own store;
* **failures crash the worker** — a message not delivered is an infrastructure failure:
  :func:`flush_changelogs` raises ``KafkaException`` and the worker resumes from committed
  offsets.

Within one partition librdkafka's idempotent producer keeps the order the messages were
given in, which risk's atomic saves rely on (ring record first, core last:
:mod:`streams.risk.records`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from faust.types import TP
from faust.utils import json as faust_json

from infra.metrics import FLUSH_SECONDS
from infra.settings import get_settings
from streams.kafka import make_batch_producer, produce_waiting

__all__ = ["ChangelogTable", "flush_changelogs"]

MAX_MESSAGE_BYTES = 64 * 2**20  # matching's snapshots of busy books are large


class _Changelogs:
    """The process's changelog producer and what its deliveries reported since the last
    flush: the highest offset per (table, partition), and the errors."""

    producer: Producer | None = None
    offsets: dict[tuple[ChangelogTable, str, int], int] = {}  # noqa: RUF012 - process-wide
    errors: list[str] = []  # noqa: RUF012 - process-wide
    pending = 0

    @classmethod
    def get(cls) -> Producer:
        if cls.producer is None:  # created in the worker, not at import
            cls.producer = make_batch_producer(get_settings(),
                                               **{"message.max.bytes": MAX_MESSAGE_BYTES})
        return cls.producer


def _delivered(table: ChangelogTable) -> Any:
    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            _Changelogs.errors.append(str(err))
            return
        where = (table, msg.topic(), msg.partition())
        offset = msg.offset()
        if offset > _Changelogs.offsets.get(where, -1):
            _Changelogs.offsets[where] = offset
    return on_delivery


class ChangelogTable(faust.Table):
    """A :class:`faust.Table` whose changelog messages go through the worker's librdkafka
    changelog producer. Keys are raw bytes and values JSON, as :func:`streams.app.state_table`
    declares every table; the value bytes are Faust's own JSON encoding."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_delivery = _delivered(self)

    def on_key_set(self, key: Any, value: Any) -> None:
        partition = self.partition_for_key(key)
        self.send_changelog(partition, key, value)
        self._maybe_set_key_ttl(key, partition)
        self._sensor_on_set(self, key, value)

    def on_key_del(self, key: Any) -> None:
        partition = self.partition_for_key(key)
        self.send_changelog(partition, key, None)
        self._maybe_del_key_ttl(key, partition)
        self._sensor_on_del(self, key)

    def send_changelog(self, partition: int | None, key: Any, value: Any,
                       key_serializer: Any = None, value_serializer: Any = None) -> None:
        """Queue one changelog message (``value`` ``None``: a tombstone) on ``partition``,
        the partition of the event the write happens under."""
        if partition is None:
            raise RuntimeError(f"{self.name}: a changelog write needs its key's partition")
        producer = _Changelogs.get()
        topic = self.changelog_topic.get_topic_name()
        data = None if value is None else faust_json.dumps(value)
        produce_waiting(producer, topic, key=key, value=data, partition=partition,
                        on_delivery=self._on_delivery)
        _Changelogs.pending += 1


async def flush_changelogs(app: faust.App | None = None, timeout_s: float = 60.0) -> None:
    """Wait until every changelog message sent so far is in Kafka, then record each table's
    persisted offsets; raise (crashing the worker) if anything was not delivered. With
    ``app``, Faust's own producer is flushed too (anything else Faust sent)."""
    if app is not None:
        await app.producer.flush()
    producer = _Changelogs.producer
    if producer is None or not (_Changelogs.pending or _Changelogs.errors):
        return
    with FLUSH_SECONDS.labels("changelog").time():
        left = await asyncio.to_thread(producer.flush, timeout_s)
    _Changelogs.pending = 0
    offsets, _Changelogs.offsets = _Changelogs.offsets, {}
    if left or _Changelogs.errors:
        errors, _Changelogs.errors = _Changelogs.errors[:5], []
        raise KafkaException(f"changelog not delivered: {left} left, errors {errors}")
    for (table, topic, partition), offset in offsets.items():
        table.data.set_persisted_offset(TP(topic, partition), offset)
