"""``md.index`` → option marks and Greeks per chain on ``md.marks`` (compacted, by option).

Thin glue around :class:`~streams.marketdata.marks.UnderlyingMarks`: of each batch only the
newest index per underlying is offered (marks are a latest-value feed), at most once per
``marks_interval_s`` of wall time per chain and only when the index moved (see
:mod:`streams.marketdata.marks`). The schedule and the chain's listing (date and reference)
are one JSON record per underlying.

Marks need no replay protection: ``md.marks`` holds the latest mark per option (compacted)
and every mark has a deterministic id (option and index event). A mark lost in the producer
buffer at a crash is superseded by the next re-mark, at most ``marks_interval_s`` after the
index next moves (or ``marks_refresh_s`` of event time if it does not).

That is also why the marks go out through librdkafka (:func:`streams.kafka.make_producer`,
the same murmur2 partitioner) rather than Faust's producer: a chain is a burst of hundreds of
messages, and Faust/aiokafka's ``send`` costs ~0.3 ms of the event loop per message in Python
(150 ms for a 500-option chain, during which no other agent runs) against ~5 us for
librdkafka, whose I/O runs in its own thread. Nothing here needs Faust's producer: the marks
are not tied to the input offsets.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import mode
import structlog
from confluent_kafka import Producer

from infra.settings import get_settings
from streams.app import app, state_table
from streams.batching import as_current
from streams.inbox import Inbox
from streams.kafka import make_producer
from streams.marketdata.marks import ChainParams, UnderlyingMarks
from streams.marketdata.producers import warm_producer
from streams.marketdata.settings import get_marketdata_settings
from topics.catalogue import by_name
from topics.contracts import IndexPrice

__all__ = ["mark_options", "marks_state"]

log = structlog.get_logger(__name__)

INDEX = by_name("md.index")
MARKS = by_name("md.marks")
PARAMS = ChainParams.from_settings(get_marketdata_settings())

index_topic = app.topic(INDEX.name, key_serializer="raw", value_serializer="raw")
_producer: Producer | None = None
_failed = {"marks": 0}


def _delivered(err: Any, _msg: Any) -> None:
    if err is not None:
        _failed["marks"] += 1
        log.warning("mark not delivered", error=str(err), failed=_failed["marks"])


def _marks_producer() -> Producer:
    global _producer
    if _producer is None:
        _producer = make_producer(get_settings(), **{"linger.ms": 2})
    return _producer


def _produce(producer: Producer, key: bytes, value: bytes) -> None:
    while True:
        try:
            producer.produce(MARKS.name, key=key, value=value, on_delivery=_delivered)
            return
        except BufferError:  # librdkafka's queue is full: let it drain
            producer.poll(0.05)


@app.on_before_shutdown.connect
async def _flush_marks(_app: Any, **_kwargs: Any) -> None:
    if _producer is not None:
        _producer.flush(5)

marks_state = state_table("md-marks-state", INDEX.partitions)


inbox = Inbox([INDEX.name], name="marks")
inbox.connect(app)


@app.agent(index_topic, supervisor_strategy=mode.CrashingSupervisor)
async def mark_options(stream: Any) -> None:
    await asyncio.to_thread(warm_producer, _marks_producer(), MARKS.name)
    async for events in inbox.batches(stream, 1000):
        newest: dict[str, tuple[IndexPrice, Any]] = {}
        for event in events:
            async with inbox.guard(event):
                index = await inbox.decode(event, lambda i: i.underlying)
                if index is None:
                    continue
                have = newest.get(index.underlying)
                if have is None or index.ts_event >= have[0].ts_event:
                    newest[index.underlying] = (index, event)
        for underlying, (index, event) in newest.items():
            with as_current(event):
                state = marks_state.get(underlying)
            marks = UnderlyingMarks(underlying, PARAMS, state)
            out = marks.offer(index, time.time())
            if not out:
                continue
            producer = _marks_producer()
            for n, mark in enumerate(out, start=1):
                _produce(producer, mark.symbol.encode(), MARKS.encode(mark))
                if n % 100 == 0:  # a big chain: let the other agents run between slices
                    producer.poll(0)
                    await asyncio.sleep(0)
            producer.poll(0)
            with as_current(event):
                marks_state[underlying] = marks.to_state()
            log.debug("chain marked", underlying=underlying, options=len(out),
                      index=str(index.price))
