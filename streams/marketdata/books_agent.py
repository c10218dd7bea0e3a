"""``md.l2`` → venue books, feed health, the consolidated book and the index.

Thin glue around :class:`~streams.marketdata.market.SymbolMarket`: validate at the boundary,
apply in arrival order, persist one JSON record per symbol (written under the partition of an
event of that symbol), publish to ``md.book``, ``md.index`` and ``md.feed.status``.

Dead letters (``md.l2.dlq``): ``invalid`` (breaks the contract), ``wrong_key`` (the Kafka key
is not the symbol, so the message sits on another symbol's partition and its state would be
split), ``duplicate`` (already applied: a redelivery) and ``crossed`` (a delta that crossed the
venue's book; the book is dropped and resynchronised). A sequence gap is not a dead letter —
the message is fine, one before it was lost — it becomes a resync request on
``md.feed.status``.

Output (books, index, feed health) leaves through the worker's librdkafka producer
(``inbox.output``, flushed after the batch's table changelog and before the offsets are
committed), not Faust's ``topic.send``: aiokafka's producer is pure Python and cost ~7% of the
worker at 2.8k updates/s, for messages that need no Faust feature.

It does not read ``md.ticks``: the index is made of book mids (see
:mod:`streams.marketdata.index`), and a second subscriber on ``md.ticks`` would cost the candle
agent about a third of its throughput (every message is handed to each agent in Python).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import mode
import structlog

from infra.metrics import INDEX_PRICE_TIME
from streams.app import app, state_table
from streams.batching import as_current
from streams.deadletters import send_dead_letter
from streams.inbox import Inbox
from streams.marketdata.l2book import L2Verdict
from streams.marketdata.market import BookParams, SymbolMarket
from streams.marketdata.producers import warm_producer
from streams.marketdata.settings import get_marketdata_settings
from topics.catalogue import by_name
from topics.contracts import BookUpdate, IndexPrice, L2Update

__all__ = ["build_books", "market_state"]

log = structlog.get_logger(__name__)

L2 = by_name("md.l2")
BOOK = by_name("md.book")
INDEX = by_name("md.index")
FEED = by_name("md.feed.status")
BATCH_SIZE = 2000
PARAMS = BookParams.from_settings(get_marketdata_settings())
_DEAD = {L2Verdict.DUPLICATE: "duplicate", L2Verdict.CROSSED: "crossed"}

l2_topic = app.topic(L2.name, key_serializer="raw", value_serializer="raw")

# One record per symbol: every venue's book, sequence and health, and the output counters.
market_state = state_table("md-market-state", L2.partitions)


inbox = Inbox([L2.name], name="books")
inbox.connect(app)


def _symbol(update: L2Update) -> str:
    return update.symbol


def _publish(market: SymbolMarket) -> None:
    send = inbox.output.send
    for out in market.drain():
        if isinstance(out, BookUpdate):
            send(BOOK.name, out.symbol.encode(), BOOK.encode(out))
        elif isinstance(out, IndexPrice):
            send(INDEX.name, out.underlying.encode(), INDEX.encode(out))
            INDEX_PRICE_TIME.labels(out.underlying).set_to_current_time()
        else:
            send(FEED.name, out.symbol.encode(), FEED.encode(out))


# CrashingSupervisor: an invariant broken in here stops the worker, which resumes from the
# committed offsets; a restarted agent would go on after the batch it dropped.
@app.agent(l2_topic, supervisor_strategy=mode.CrashingSupervisor)
async def build_books(stream: Any) -> None:
    await asyncio.to_thread(warm_producer, inbox.output.producer.producer, INDEX.name)
    async for events in inbox.batches(stream, BATCH_SIZE):
        touched: dict[str, tuple[SymbolMarket, Any]] = {}
        rejected: Counter[str] = Counter()
        for event in events:
            async with inbox.guard(event):
                update = await inbox.decode(event, _symbol)
                if update is None:
                    rejected["invalid"] += 1
                    continue
                if update.symbol in touched:
                    market = touched[update.symbol][0]
                else:
                    with as_current(event):
                        state = market_state.get(update.symbol)
                    market = (SymbolMarket.from_state(state, PARAMS) if state
                              else SymbolMarket(update.symbol, PARAMS))
                touched[update.symbol] = (market, event)
                verdict = market.apply(update)
                if verdict in _DEAD:
                    await send_dead_letter(event, _DEAD[verdict],
                                           f"{verdict.value} L2 {update.event_id} "
                                           f"seq {update.seq}")
                    rejected[_DEAD[verdict]] += 1
        for symbol, (market, event) in touched.items():
            _publish(market)
            with as_current(event):
                market_state[symbol] = market.to_state()
        if rejected:
            log.info("L2 updates rejected", **rejected)
