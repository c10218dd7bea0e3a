"""1-minute candles on ``md.candles`` → 5m, 15m and 1h candles on ``md.candles``.

Thin glue around :class:`~streams.marketdata.rollups.CandleRollup` (why rolling up the final
minutes is exact: see that module). It reads the topic it writes: its own 5m/15m/1h candles
come back and are skipped as ``not_a_minute``. ``md.candles`` is an input with a dead-letter
topic for that reason.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import mode
import structlog

from streams.app import app, state_table
from streams.batching import as_current
from streams.inbox import Inbox
from streams.marketdata.rollups import CandleRollup, RollupVerdict
from topics.catalogue import by_name

__all__ = ["roll_up_candles", "rollup_state"]

log = structlog.get_logger(__name__)

CANDLES = by_name("md.candles")

candles_in = app.topic(CANDLES.name, key_serializer="raw", value_serializer="raw")
candles_out = app.topic(CANDLES.name, key_serializer="raw", value_serializer="raw")

rollup_state = state_table("md-rollup-state", CANDLES.partitions)


inbox = Inbox([CANDLES.name], name="rollups")
inbox.connect(app)


@app.agent(candles_in, supervisor_strategy=mode.CrashingSupervisor)
async def roll_up_candles(stream: Any) -> None:
    async for events in inbox.batches(stream, 1000):
        touched: dict[str, tuple[CandleRollup, Any]] = {}
        skipped: Counter[str] = Counter()
        for event in events:
            async with inbox.guard(event):
                candle = await inbox.decode(event, lambda c: c.symbol)
                if candle is None:
                    continue
                if candle.symbol in touched:
                    rollup = touched[candle.symbol][0]
                else:
                    with as_current(event):
                        state = rollup_state.get(candle.symbol)
                    rollup = (CandleRollup.from_state(state) if state
                              else CandleRollup(candle.symbol))
                verdict = rollup.add(candle)
                if verdict in (RollupVerdict.NOT_A_MINUTE, RollupVerdict.STALE):
                    skipped[verdict.value] += 1
                    continue
                touched[candle.symbol] = (rollup, event)
        for symbol, (rollup, event) in touched.items():
            for candle in rollup.drain():
                await candles_out.send(key=symbol.encode(), value=CANDLES.encode(candle))
            with as_current(event):
                rollup_state[symbol] = rollup.to_state()
        if skipped:
            log.debug("candles not rolled up", **skipped)
