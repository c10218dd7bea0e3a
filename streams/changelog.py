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

from contextlib import nullcontext
from typing import Any

import faust
from faust.types import TP
from faust.utils import json as faust_json

from infra.metrics import FLUSH_SECONDS
from infra.settings import get_settings
from streams.deliveries import TrackedProducer
from streams.kafka import make_batch_producer

__all__ = ["ChangelogTable", "flush_changelogs", "track_changelogs"]

MAX_MESSAGE_BYTES = 64 * 2**20  # matching's snapshots of busy books are large


class _Changelogs:
    """The process's changelog producer, and the table of each changelog topic."""

    producer: TrackedProducer | None = None
    tables: dict[str, ChangelogTable] = {}  # noqa: RUF012 - process-wide

    @classmethod
    def get(cls) -> TrackedProducer:
        if cls.producer is None:  # created in the worker, not at import
            cls.producer = TrackedProducer(make_batch_producer(
                get_settings(), **{"message.max.bytes": MAX_MESSAGE_BYTES}), offsets=True)
        return cls.producer


class ChangelogTable(faust.Table):
    """A :class:`faust.Table` whose changelog messages go through the worker's librdkafka
    changelog producer. Keys are raw bytes and values JSON, as :func:`streams.app.state_table`
    declares every table; the value bytes are Faust's own JSON encoding."""

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
        topic = self.changelog_topic.get_topic_name()
        _Changelogs.tables[topic] = self
        data = None if value is None else faust_json.dumps(value)
        _Changelogs.get().send(topic, key=key, value=data, partition=partition)


def track_changelogs() -> None:
    """Count this task's changelog messages from here on, also those written by tasks it
    starts (``asyncio.gather``: they copy its context). An agent calls it before its first
    batch: a table written first inside such a child would otherwise be counted there, and
    the agent's wait would not see it."""
    _Changelogs.get().current()


async def flush_changelogs(app: faust.App | None = None, timeout_s: float = 60.0) -> None:
    """Wait until every changelog message this task sent is in Kafka, then record each
    table's persisted offsets; raise (crashing the worker) if anything was not delivered.
    With ``app``, Faust's own producer is flushed too (anything else Faust sent)."""
    if app is not None:
        await app.producer.flush()
    producer = _Changelogs.producer
    if producer is None:
        return
    # delivered already (nothing to time), or waited for: either way the offsets are recorded
    timer = FLUSH_SECONDS.labels("changelog").time() if producer.pending() else nullcontext()
    with timer:
        offsets = await producer.wait("changelog", timeout_s)
    for (topic, partition), offset in offsets.items():
        _Changelogs.tables[topic].data.set_persisted_offset(TP(topic, partition), offset)
