"""Rollups of 1-minute candles are exactly the candles of the same ticks over 5m/15m/1h."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from streams.marketdata.candles import CandleAggregator
from streams.marketdata.rollups import CandleRollup, RollupVerdict
from topics.catalogue import by_name
from topics.contracts import Candle, Tick

from .md_support import T0

FIELDS = ("open", "high", "low", "close", "volume", "notional", "vwap", "trades",
          "window_start", "window_end", "ts_event")


def _ticks(seed: int, n: int, mean_gap_s: float) -> list[Tick]:
    rng = random.Random(seed)
    out, t = [], 0.0
    for i in range(n):
        t += rng.expovariate(1 / mean_gap_s)
        venue = rng.choice(("binance", "okx"))
        out.append(Tick(event_id=f"{venue}:X-USDT:{i}", ts_event=T0 + timedelta(seconds=t),
                        venue=venue, symbol="X-USDT", trade_id=i,
                        price=Decimal(rng.randint(90_000, 110_000)) / 1000,
                        qty=Decimal(rng.randint(1, 10**9)) / 10**9, side="buy"))
    return out


def _run(ticks: list[Tick], drain_every: int, restart: bool, seed: int
         ) -> tuple[list[Candle], dict[str, Candle]]:
    """Ticks → 1m aggregator → rollup (with drains and restarts anywhere) and, beside it,
    one aggregator per long interval straight from the same ticks."""
    minute = CandleAggregator("X-USDT", "1m", grace_s=5)
    direct = {iv: CandleAggregator("X-USDT", iv, grace_s=5) for iv in ("5m", "15m", "1h")}
    rollup = CandleRollup("X-USDT")
    rng = random.Random(seed)
    out: list[Candle] = []
    for n, tick in enumerate(ticks):
        minute.add(tick)
        for agg in direct.values():
            agg.add(tick)
        if n % drain_every == 0:
            for candle in minute.drain():
                rollup.add(candle)
            out += rollup.drain()
            if restart and rng.random() < 0.3:
                rollup = CandleRollup.from_state(json.loads(json.dumps(rollup.to_state())))
    for candle in minute.drain():
        rollup.add(candle)
    out += rollup.drain()
    finals = {c.event_id: c for agg in direct.values() for c in agg.drain() if c.final}
    return out, finals


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 40), st.booleans(),
       st.sampled_from([0.5, 3.0, 20.0]))
@example(seed=312, drain_every=1, restart=False, gap_s=20.0)  # last 5m window's minute empty
def test_rollups_equal_direct_candles_of_the_same_ticks(seed: int, drain_every: int,
                                                        restart: bool, gap_s: float) -> None:
    ticks = _ticks(seed, 400, gap_s)
    out, direct = _run(ticks, drain_every, restart, seed)
    finals = {c.event_id: c for c in out if c.final}
    # A rollup is final once a final minute ending at or after its end arrives. When a
    # window's last minute had no tick, the direct aggregator (on its tick watermark) may close
    # it before the minutes show it complete: at the end of the stream such a rollup is still
    # open. Only the last window of an interval can be in that state.
    assert set(finals) <= set(direct)
    lagging = set(direct) - set(finals)
    for interval in ("5m", "15m", "1h"):
        late = [direct[e] for e in lagging if direct[e].interval == interval]
        done = [c.window_end for c in finals.values() if c.interval == interval]
        assert len(late) <= 1, late
        assert all(c.window_end > max(done, default=c.window_start) for c in late)
        assert all(any(o.event_id == c.event_id for o in out) for c in late)  # published open
    for event_id, want in direct.items():
        if event_id in lagging:
            continue
        for field in FIELDS:
            assert getattr(finals[event_id], field) == getattr(want, field), (event_id, field)
    # one final per window, and versions of a window strictly increase
    seen: dict[str, int] = {}
    for c in out:
        assert c.version > seen.get(c.event_id, 0)
        seen[c.event_id] = c.version
    assert sum(1 for c in out if c.final) == len(finals)


def _minute(start_min: int, version: int, final: bool, price: str = "100",
            qty: str = "1") -> Candle:
    start = T0 + timedelta(minutes=start_min)
    return Candle(event_id=f"X-USDT:1m:{start.isoformat()}", ts_event=start + timedelta(
        seconds=30), symbol="X-USDT", interval="1m", window_start=start,
        window_end=start + timedelta(minutes=1), open=Decimal(price), high=Decimal(price),
        low=Decimal(price), close=Decimal(price), volume=Decimal(qty),
        notional=Decimal(price) * Decimal(qty), vwap=Decimal(price), trades=1,
        version=version, final=final)


def test_live_minutes_update_the_rollup_and_a_later_final_minute_closes_it() -> None:
    r = CandleRollup("X-USDT", ("5m",))
    assert r.add(_minute(0, 1, False, "100")) is RollupVerdict.ACCEPTED
    (live,) = r.drain()
    assert (live.interval, live.version, live.final, live.close) == ("5m", 1, False, 100)
    r.add(_minute(0, 2, True, "101"))  # the minute's final replaces its live version
    r.add(_minute(4, 1, False, "104"))
    (upd,) = r.drain()
    assert (upd.version, upd.open, upd.close, upd.volume) == (2, 101, 104, 2)
    r.add(_minute(4, 2, True, "104"))  # the last minute of the window is final: so is it
    (final,) = r.drain()
    assert final.final and final.version == 3 and final.window_end == T0 + timedelta(minutes=5)
    assert by_name("md.candles").decode(by_name("md.candles").encode(final)) == final


def _same(a: Candle, b: Candle) -> bool:
    skip = {"version", "ts_init", "causation_id"}
    return a.model_dump(exclude=skip) == b.model_dump(exclude=skip)


def test_replays_republish_rollups_without_changing_their_numbers() -> None:
    """A crash may leave state ahead of Kafka: replayed minutes re-publish, never re-count."""
    r = CandleRollup("X-USDT", ("5m",))
    r.add(_minute(1, 1, True))
    r.add(_minute(7, 1, False))  # the next window, still live
    r.add(_minute(6, 1, True))  # a final minute past the first window: it is final
    first, live = r.drain()
    assert (first.final, first.version, live.final, live.version) == (True, 1, False, 1)
    # this agent crashed: the minutes come again (same versions)
    assert r.add(_minute(1, 1, True)) is RollupVerdict.REPLAYED
    assert r.add(_minute(7, 1, False)) is RollupVerdict.REPLAYED
    again, live_again = r.drain()
    assert again.final and again.version == 2 and _same(again, first)
    assert not live_again.final and live_again.version == 2 and _same(live_again, live)
    # the candle agent crashed: it re-publishes a final minute with a higher version
    assert r.add(_minute(1, 2, True)) is RollupVerdict.REPLAYED
    (third,) = r.drain()
    assert third.version == 3 and _same(third, first)


def test_a_minute_of_a_window_final_long_ago_is_stale() -> None:
    r = CandleRollup("X-USDT", ("5m",))
    for i in range(0, 200, 5):  # 40 windows: the first ones leave the recent finals
        r.add(_minute(i, 1, True))
    r.drain()
    assert r.add(_minute(0, 2, True)) is RollupVerdict.STALE


def test_other_intervals_are_not_rolled_up_and_bad_state_is_refused() -> None:
    r = CandleRollup("X-USDT")
    five = _minute(0, 1, True).model_copy(update={"interval": "5m"})
    assert r.add(five) is RollupVerdict.NOT_A_MINUTE
    with pytest.raises(ValueError, match="format"):
        CandleRollup.from_state({"format": 0})
    with pytest.raises(ValueError, match="unknown rollup"):
        CandleRollup("X-USDT", ("2m",))
