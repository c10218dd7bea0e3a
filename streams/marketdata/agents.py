"""Market-data agents: ``md.ticks`` → 1-minute candles on ``md.candles``.

Thin glue: decode and validate at the boundary, hand ticks to the pure
:class:`~streams.marketdata.candles.CandleAggregator`, persist its state, publish its output.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import mode
import structlog

from streams.app import app, state_table
from streams.batching import as_current
from streams.deadletters import send_dead_letter
from streams.inbox import Inbox, venue_time_ns
from streams.marketdata.candles import CandleAggregator, Verdict
from streams.output import BatchOutput
from topics.catalogue import by_name

__all__ = ["build_candles", "candle_state"]

log = structlog.get_logger(__name__)

TICKS = by_name("md.ticks")
CANDLES = by_name("md.candles")
BATCH_SIZE = 2000

ticks_topic = app.topic(TICKS.name, key_serializer="raw", value_serializer="raw")
output = BatchOutput()  # candles are in Kafka before the batch's offsets are committed

# One record per symbol holding the open windows and the duplicate filter, so both are
# written in one changelog message, on the md.ticks partition that owns the symbol.
candle_state = state_table("candle-state", TICKS.partitions)


# A crash inside the agent stops the worker (CrashingSupervisor) instead of restarting the
# agent: a restarted agent would go on after the batch it dropped, and those ticks would never
# be counted. A restarted worker resumes from the committed offsets and loses nothing.
inbox = Inbox([TICKS.name], name="candles")
inbox.connect(app)


async def _add_tick(event: Any, touched: dict[str, tuple[CandleAggregator, Any]],
                    rejected: defaultdict[str, int]) -> None:
    tick = await inbox.decode(event, lambda t: t.symbol)
    if tick is None:
        rejected["invalid"] += 1
        return
    if tick.symbol in touched:
        agg = touched[tick.symbol][0]
    else:
        with as_current(event):
            state = candle_state.get(tick.symbol)
        agg = CandleAggregator.from_state(state) if state else CandleAggregator(tick.symbol)
    touched[tick.symbol] = (agg, event)
    verdict = agg.add(tick, venue_time_ns(event.message))
    if verdict is not Verdict.ACCEPTED:
        await send_dead_letter(event, verdict.value, f"{verdict.value} tick {tick.event_id}")
        rejected[verdict.value] += 1


# A crash inside the agent stops the worker (CrashingSupervisor) instead of restarting the
# agent: a restarted agent would go on after the batch it dropped, and those ticks would never
# be counted. A restarted worker resumes from the committed offsets and loses nothing.
@app.agent(ticks_topic, supervisor_strategy=mode.CrashingSupervisor)
async def build_candles(stream: Any) -> None:
    async for events in inbox.batches(stream, BATCH_SIZE):
        touched: dict[str, tuple[CandleAggregator, Any]] = {}
        rejected: defaultdict[str, int] = defaultdict(int)
        for event in events:
            async with inbox.guard(event):
                await _add_tick(event, touched, rejected)
        for symbol, (agg, event) in touched.items():
            for candle in agg.drain():
                output.send(CANDLES.name, symbol.encode(), CANDLES.encode(candle))
            with as_current(event):
                candle_state[symbol] = agg.to_state()
        if rejected:
            log.info("ticks rejected", **rejected)
