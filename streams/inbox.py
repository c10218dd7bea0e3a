"""The one agent skeleton: what every input message goes through before domain code sees it.

Any client may produce to our topics — kcat, another language, another partitioner — and
Faust's consumer is not the only thing between Kafka and our state. So before an agent's
domain code runs, :class:`Inbox`:

* **re-routes** a message that arrived on a partition that does not own its key (Kafka's
  murmur2 of the key, what Java, aiokafka and our producers use; librdkafka's default
  ``consistent_random`` is CRC32): keyed state is only ever read or written under the
  partition that owns the key, so a foreign partitioner can neither read an empty store nor
  write a stale copy. A message with no key becomes a dead letter.
* **fills gaps**: within one assignment, offsets of a partition arrive in order and without
  holes; if a run of offsets is missing (seen once after an eager rebalance), they are read
  back from Kafka and processed first, and offsets seen already are dropped. No message is
  ever skipped without an outcome or a dead letter.
* **contains failures**: :meth:`Inbox.guard` turns any exception raised while processing one
  message into a dead letter (reason ``processing_error``) and the worker goes on; only
  infrastructure failures (Kafka delivery, the state store, memory) propagate and crash the
  worker, which resumes from committed offsets.
* **flushes** the batch's table changelogs and then the worker's output (results and dead
  letters) at the end of each batch, before Faust acknowledges it.

Engine time comes from :func:`venue_time_ns`: the broker's log-append time of the message
(input topics are created with ``message.timestamp.type=LogAppendTime``), never a field a
client fills.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType
from typing import Any

import structlog
from aiokafka.partitioner import murmur2
from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME, KafkaException

from infra.metrics import (
    AGENT_BATCH_SECONDS,
    AGENT_BATCH_SIZE,
    AGENT_EVENTS,
    REBALANCES,
)
from infra.settings import get_settings
from streams.changelog import flush_changelogs, track_changelogs
from streams.deadletters import send_dead_letter
from streams.event_batches import event_batches
from streams.kafka import read_range
from streams.output import BatchOutput
from topics.catalogue import ContractError, by_name

__all__ = ["INFRASTRUCTURE_ERRORS", "Inbox", "Reread", "owner_partition", "venue_time_ns"]

log = structlog.get_logger(__name__)

# What crashes a worker instead of becoming a dead letter: the platform failed, not the input.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    KafkaException, OSError, MemoryError, asyncio.CancelledError,
)
LOG_APPEND_TIME = 1


@lru_cache(maxsize=65_536)
def owner_partition(key: bytes, partitions: int) -> int:
    """The partition that owns ``key``: Kafka's default (murmur2) partitioner."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def venue_time_ns(message: Any) -> int:
    """The venue's time for ``message``, in ns: the broker's log-append time.

    A topic still on CreateTime (created by hand, not by ``strikeflow topics apply``) carries
    the client's clock: it is capped at the worker's own clock so no client can move time
    forward.
    """
    ms = round(message.timestamp * 1000)
    if getattr(message, "timestamp_type", LOG_APPEND_TIME) != LOG_APPEND_TIME:
        ms = min(ms, int(time.time() * 1000))
    return ms * 1_000_000


def _faust_timestamp_type(msg: Any) -> int:
    """librdkafka says 1 for CreateTime and 2 for LogAppendTime; Faust (Kafka's own
    numbering) 0 and 1."""
    return LOG_APPEND_TIME if msg.timestamp()[0] == TIMESTAMP_LOG_APPEND_TIME else 0


@dataclass(frozen=True, slots=True)
class RereadMessage:
    """A message read back from Kafka to fill a gap: the fields agents use of Faust's."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float
    timestamp_type: int


@dataclass(frozen=True, slots=True, weakref_slot=True)  # table writes hold a weak ref
class Reread:
    """An event for a re-read message (Faust's events carry the message as ``.message``)."""

    message: RereadMessage


class Inbox:
    """The input side of one agent: ownership, gaps, failures and the end-of-batch flush."""

    def __init__(self, topics: Iterable[str], *, name: str,
                 keyed: bool = True, reroute: bool = True) -> None:
        self.name = name
        self.partitions = {topic: by_name(topic).partitions for topic in topics}
        self.keyed = keyed
        # False: another agent of the same worker reads these topics and re-routes (and
        # dead-letters keyless messages) — this one skips them and processes the copy that
        # lands on the owning partition, so nothing is re-sent or dead-lettered twice.
        self.reroute = reroute
        self.output = BatchOutput()
        self._next: dict[tuple[str, int], int] = {}
        self.rerouted = 0
        self.refilled = 0
        self._app: Any = None

    # -- Faust's assignment -----------------------------------------------------------------
    def forget(self, partitions: Iterable[Any]) -> None:
        """Partitions revoked or assigned: offsets restart from the committed position."""
        for tp in partitions:
            self._next.pop((tp.topic, tp.partition), None)

    def connect(self, app: Any) -> None:
        self._app = app
        async def _on_change(sender: Any, partitions: Any, **_: Any) -> None:
            self.forget(partitions)

        async def _on_assigned(sender: Any, partitions: Any, **_: Any) -> None:
            REBALANCES.labels(self.name).inc()
            self.forget(partitions)

        app.on_partitions_revoked.connect(_on_change, weak=False)
        app.on_partitions_assigned.connect(_on_assigned, weak=False)

    # -- the batch loop ---------------------------------------------------------------------
    async def batches(self, stream: Any, size: int) -> AsyncIterator[list[Any]]:
        """The agent's events in batches (:func:`~streams.event_batches.event_batches`: what
        is queued, up to ``size``, without waiting for more), screened; the output is
        flushed when the agent asks for the next."""
        self.output.producer.current()  # this agent's deliveries, seen by the tasks it starts
        track_changelogs()
        events = AGENT_EVENTS.labels(self.name)
        sizes = AGENT_BATCH_SIZE.labels(self.name)
        seconds = AGENT_BATCH_SECONDS.labels(self.name)
        async for batch in event_batches(stream, size):
            started = time.perf_counter()
            screened = await self.screen(batch)
            if screened:
                yield screened
            await self.flush()
            events.inc(len(batch))
            sizes.observe(len(batch))
            seconds.observe(time.perf_counter() - started)

    async def flush(self) -> None:
        """The batch's state and its output, both waited for at once: the batch is
        acknowledged only once everything it wrote is in Kafka.

        Both producers send while the batch runs (a few ms of linger), so waiting for one and
        then the other never ordered them — it only doubled the wait, ~20 ms a flush here.
        State and output reach Kafka in either order, and a replay after a kill between the
        two finds what it needs: a decision already sent is re-sent as the same message (the
        worker's store remembers it; downstream agents drop a repeated command id), and a
        state already written re-emits its output."""
        await asyncio.gather(flush_changelogs(self._app), self.output.flush())

    async def screen(self, batch: list[Any]) -> list[Any]:
        out: list[Any] = []
        for event in batch:
            for item in await self._in_order(event):
                if await self._owned(item):
                    out.append(item)
        return out

    async def _in_order(self, event: Any) -> list[Any]:
        msg = event.message
        where = (msg.topic, msg.partition)
        expected = self._next.get(where)
        self._next[where] = max(expected or 0, msg.offset + 1)
        if expected is None or msg.offset == expected:
            return [event]
        if msg.offset < expected:
            return []  # delivered again within this assignment: processed already
        missing = await asyncio.to_thread(read_range, get_settings(), msg.topic,
                                          msg.partition, expected, msg.offset)
        self.refilled += len(missing)
        log.warning("offsets skipped by the consumer read back", agent=self.name,
                    topic=msg.topic, partition=msg.partition, start=expected, end=msg.offset,
                    found=len(missing))
        return [Reread(RereadMessage(msg.topic, msg.partition, m.offset(), m.key(), m.value(),
                                     m.timestamp()[1] / 1000, _faust_timestamp_type(m)))
                for m in missing] + [event]

    async def _owned(self, event: Any) -> bool:
        if not self.keyed:
            return True
        msg = event.message
        key = msg.key
        if not key and not self.reroute:
            return False
        if not key:
            await send_dead_letter(event, "missing_key",
                                   f"{msg.topic} is keyed; a message without a key has no owner")
            return False
        owner = owner_partition(bytes(key), self.partitions[msg.topic])
        if owner == msg.partition:
            return True
        if not self.reroute:
            return False
        # Re-route: the owning partition's worker processes it, under that partition's state.
        self.output.send(msg.topic, bytes(key), msg.value, partition=owner)
        self.rerouted += 1
        log.info("message re-routed to the partition owning its key", agent=self.name,
                 topic=msg.topic, partition=msg.partition, offset=msg.offset, owner=owner)
        return False

    # -- the boundary -----------------------------------------------------------------------
    async def decode(self, event: Any, key_of: Callable[[Any], str] | None = None) -> Any:
        """The message's record by its topic's contract, or None once it is a dead letter:
        ``invalid`` when it breaks the contract, ``wrong_key`` when its Kafka key is not
        ``key_of(record)`` (the key decides the partition, and so whose state it touches)."""
        msg = event.message
        try:
            record = by_name(msg.topic).decode(msg.value)
        except ContractError as exc:
            await send_dead_letter(event, "invalid", str(exc))
            return None
        if key_of is not None and bytes(msg.key or b"") != key_of(record).encode():
            await send_dead_letter(event, "wrong_key",
                                   f"key {msg.key!r} but the record is {key_of(record)!r}'s")
            return None
        return record

    # -- failures ---------------------------------------------------------------------------
    def guard(self, event: Any, on_error: Callable[[], None] | None = None) -> _Guard:
        """``async with inbox.guard(event):`` one message's processing; bad input → dead
        letter. ``on_error`` runs first (e.g. to drop a half-updated in-memory state)."""
        return _Guard(event, self.name, on_error)


class _Guard:
    __slots__ = ("event", "name", "on_error")

    def __init__(self, event: Any, name: str, on_error: Callable[[], None] | None) -> None:
        self.event, self.name, self.on_error = event, name, on_error

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool:
        if exc is None or not isinstance(exc, Exception) \
                or isinstance(exc, INFRASTRUCTURE_ERRORS):
            return False
        msg = self.event.message
        log.error("message failed; dead-lettered", agent=self.name, topic=msg.topic,
                  partition=msg.partition, offset=msg.offset, error=repr(exc))
        if self.on_error is not None:
            self.on_error()
        where = traceback.extract_tb(tb)[-1] if tb is not None else None
        at = f" at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}" if where else ""
        await send_dead_letter(self.event, "processing_error",
                               f"{type(exc).__name__}: {exc}{at}")
        return True
