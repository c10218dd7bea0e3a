"""Candle aggregation: event time, out-of-order arrival, duplicates, lateness, persistence."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.marketdata.candles import CandleAggregator, Verdict
from topics.contracts import Candle, Tick

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def tick(seconds: float, price: str, qty: str = "1", trade_id: int = 1,
         venue: str = "binance") -> Tick:
    return Tick(event_id=f"{venue}:BTC-USDT:{trade_id}", ts_event=T0 + timedelta(seconds=seconds),
                venue=venue, symbol="BTC-USDT", trade_id=trade_id, price=Decimal(price),
                qty=Decimal(qty), side="buy")


def finals(candles: list[Candle]) -> dict[str, Candle]:
    return {c.event_id: c for c in candles if c.final}


def test_ohlcv_of_one_window() -> None:
    agg = CandleAggregator("BTC-USDT", grace_s=5)
    for i, (s, p, q) in enumerate([(1, "100", "1"), (20, "105", "2"), (40, "95", "1"),
                                   (59, "101", "4")], start=1):
        assert agg.add(tick(s, p, q, trade_id=i)) is Verdict.ACCEPTED
    live = agg.drain()
    assert [(c.final, c.version) for c in live] == [(False, 1)]
    agg.add(tick(66, "102", trade_id=5))  # watermark 66 >= 60 + 5: the first minute is final
    out = agg.drain()
    first = finals(out)["BTC-USDT:1m:2026-11-23T12:00:00Z"]
    assert (first.open, first.high, first.low, first.close) == (100, 105, 95, 101)
    assert first.volume == 8 and first.trades == 4 and first.version == 2
    assert first.notional == Decimal(100 + 210 + 95 + 404)
    assert first.vwap == Decimal("101.125")
    assert [c.final for c in out] == [True, False]


def test_out_of_order_ticks_set_open_and_close_by_event_time() -> None:
    agg = CandleAggregator("BTC-USDT")
    agg.add(tick(30, "110", trade_id=2))
    agg.add(tick(10, "90", trade_id=1))  # arrives later but happened first
    agg.add(tick(50, "100", trade_id=3))
    candle = agg.drain()[0]
    assert (candle.open, candle.close, candle.low, candle.high) == (90, 100, 90, 110)


def test_duplicates_are_reported_and_not_counted() -> None:
    agg = CandleAggregator("BTC-USDT")
    assert agg.add(tick(1, "100", trade_id=7)) is Verdict.ACCEPTED
    assert agg.add(tick(1, "100", trade_id=7)) is Verdict.DUPLICATE
    assert agg.add(tick(2, "100", trade_id=7, venue="okx")) is Verdict.ACCEPTED  # other venue
    assert agg.drain()[0].trades == 2


def test_lateness_is_judged_on_arrival_not_at_the_next_drain() -> None:
    agg = CandleAggregator("BTC-USDT", grace_s=5)
    agg.add(tick(10, "100", trade_id=1))
    agg.add(tick(70, "100", trade_id=2))  # no drain in between
    assert agg.add(tick(59, "999", trade_id=1, venue="okx")) is Verdict.LATE


def test_late_tick_after_the_window_is_final_is_rejected() -> None:
    late = CandleAggregator("BTC-USDT", grace_s=5)
    late.add(tick(10, "100", trade_id=1))
    late.add(tick(70, "100", trade_id=2, venue="okx"))
    assert [c.final for c in late.drain()] == [True, False]
    assert late.add(tick(59, "999", trade_id=2)) is Verdict.LATE
    assert late.add(tick(59, "999", trade_id=1)) is Verdict.DUPLICATE


def test_tick_within_grace_updates_the_previous_window() -> None:
    agg = CandleAggregator("BTC-USDT", grace_s=10)
    agg.add(tick(10, "100", trade_id=1))
    agg.add(tick(65, "100", trade_id=2))
    agg.drain()
    assert agg.add(tick(59, "120", trade_id=3, venue="okx")) is Verdict.ACCEPTED
    updated = agg.drain()
    assert updated[0].high == 120 and updated[0].version == 2 and not updated[0].final


def test_gap_in_trade_ids_closes_when_the_window_is_final() -> None:
    agg = CandleAggregator("BTC-USDT", grace_s=0)
    agg.add(tick(1, "100", trade_id=10))
    agg.add(tick(2, "100", trade_id=5000))  # a venue restart skipped numbers
    agg.add(tick(61, "100", trade_id=5001))
    agg.drain()
    seen = agg.seen["binance"]
    assert seen.low == 5001 and not seen.above


def _stream(n: int, seed: int) -> list[Tick]:
    rng = random.Random(seed)
    ids = {"binance": 0, "okx": 0}
    out = []
    for i in range(n):
        venue = rng.choice(list(ids))
        ids[venue] += 1
        out.append(tick(i * 0.9, str(100 + rng.randint(-50, 50)), str(rng.randint(1, 9)),
                        trade_id=ids[venue], venue=venue))
    return out


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), jitter=st.integers(0, 8), dup=st.floats(0, 0.3))
def test_shuffled_and_duplicated_arrival_gives_the_same_final_candles(
    seed: int, jitter: int, dup: float
) -> None:
    ticks = _stream(300, seed)
    rng = random.Random(seed)
    # Shuffle inside a bounded distance (less than the grace period), and repeat some.
    arrival = sorted(ticks, key=lambda t: t.ts_event.timestamp() + rng.uniform(0, jitter))
    arrival = [t for t in arrival for _ in range(2 if rng.random() < dup else 1)]
    flush_tick = tick(10_000, "100", trade_id=10_000)

    def run(seq: list[Tick], drain_every: int) -> dict[str, Candle]:
        agg = CandleAggregator("BTC-USDT", grace_s=10)
        out: list[Candle] = []
        for i, t in enumerate([*seq, flush_tick]):
            agg.add(t)
            if i % drain_every == 0:
                out += agg.drain()
        return finals(out + agg.drain())

    # Batch boundaries (how often the agent drains) must not change the result either.
    expected, got = run(ticks, 17), run(arrival, 1 + seed % 40)
    strip = {"version", "ts_init"}
    assert {k: v.model_dump(exclude=strip) for k, v in got.items()} == \
        {k: v.model_dump(exclude=strip) for k, v in expected.items()}
    assert sum(c.trades for c in expected.values()) == len(ticks)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.integers(1, 299))
def test_state_round_trip_continues_exactly(seed: int, cut: int) -> None:
    ticks = _stream(300, seed)
    whole = CandleAggregator("BTC-USDT")
    for t in ticks:
        whole.add(t)
    resumed = CandleAggregator("BTC-USDT")
    for t in ticks[:cut]:
        resumed.add(t)
    resumed = CandleAggregator.from_state(resumed.to_state())
    for t in ticks[cut:]:
        resumed.add(t)
    assert resumed.to_state() == whole.to_state()


def test_a_replayed_tick_republishes_its_candle_open_or_final() -> None:
    """After a crash the state may be ahead of what was published: replays re-publish."""
    agg = CandleAggregator("BTC-USDT", grace_s=0)
    first = tick(1, "100", trade_id=1)
    agg.add(first)
    agg.add(tick(61, "101", trade_id=2))
    published = agg.drain()
    final = finals(published)["BTC-USDT:1m:2026-11-23T12:00:00Z"]
    assert agg.drain() == []  # nothing changed, nothing to say
    assert agg.add(first) is Verdict.DUPLICATE  # the replay after a crash
    again = agg.drain()
    assert [c.event_id for c in again] == [final.event_id]
    assert again[0].final and again[0].version > final.version
    assert again[0].model_dump(exclude={"version", "ts_init"}) == \
        final.model_dump(exclude={"version", "ts_init"})
    assert agg.add(tick(61, "101", trade_id=2)) is Verdict.DUPLICATE
    assert [c.final for c in agg.drain()] == [False]  # the open window is re-published too


def test_state_of_format_1_is_read_and_unknown_formats_refused() -> None:
    agg = CandleAggregator("BTC-USDT")
    agg.add(tick(1, "100", trade_id=1))
    old = agg.to_state()
    old["format"] = 1
    del old["finals"]
    assert CandleAggregator.from_state(old).to_state() == agg.to_state()
    with pytest.raises(ValueError, match="format 99"):
        CandleAggregator.from_state(old | {"format": 99})


def test_a_tick_from_the_future_cannot_move_the_watermark() -> None:
    """Time is the venue's: a tick stamped an hour ahead of the broker's clock would finalise
    every open window; it is refused and the open minute stays open."""
    now_ns = int((T0 + timedelta(seconds=30)).timestamp()) * 1_000_000_000
    agg = CandleAggregator("BTC-USDT", grace_s=5)
    assert agg.add(tick(10, "100", trade_id=1), now_ns) is Verdict.ACCEPTED
    assert agg.add(tick(3600, "100", trade_id=2), now_ns) is Verdict.FUTURE
    assert agg.add(tick(34, "101", trade_id=3), now_ns) is Verdict.ACCEPTED  # within 5 s
    assert [c.final for c in agg.drain()] == [False]
    assert agg.add(tick(20, "99", trade_id=4), now_ns) is Verdict.ACCEPTED  # not late
