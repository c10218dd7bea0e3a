"""OHLCV candles by event time for one symbol across venues — pure, no Faust.

Why it is shaped like this:

* **Event time, not arrival time.** A tick belongs to the window of its ``ts_event``. Open and
  close are the earliest and latest ticks by ``(ts_event, event_id)``, so out-of-order arrival
  inside a window gives the same candle as in-order arrival.
* **Watermark and grace.** The watermark is the latest ``ts_event`` seen for the symbol. A window
  is final once the watermark passes its end plus ``grace``; a tick for a final window is
  *late* and goes to the dead letters instead of silently changing history.
* **Duplicates.** Venues number their trades; per venue we keep the highest contiguous id and the
  ids seen above it, so a redelivered or replayed tick is recognised with bounded state. When a
  window becomes final, every id up to its highest is treated as seen, which closes gaps a venue
  will never fill (a restart, a skipped number).
* **State is one small dict**, written to the table in one changelog record per batch, so the
  candle and the duplicate filter can never disagree after a crash.
* **A replayed tick re-publishes its candle.** After a crash the state can be ahead of what
  reached Kafka (the store is written before the producer flushes). Replayed ticks are then
  duplicates, and each marks its window — open, or among the last few finals — for
  re-publication, so no candle is lost; sinks keep one row per ``event_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from topics.contracts import Candle, Tick

__all__ = ["CandleAggregator", "Verdict"]

_US = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INTERVALS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600}
STATE_FORMAT = 2  # bump when to_state() changes shape, and teach from_state() the old one
RECENT_FINALS = 16  # final windows kept to re-publish when their ticks are replayed


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    LATE = "late"
    FUTURE = "future"


#: How far a tick's time may run ahead of the venue's clock (the broker's log-append time):
#: a venue's clock may drift a little, but a tick from the future would move the watermark
#: and finalise windows that are still open.
MAX_AHEAD_S = 5.0


def _to_us(ts: datetime) -> int:
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


class _SeenIds:
    """Trade ids seen from one venue: all ids <= ``low`` (once known), plus the set ``above``.

    ``low`` starts unknown: the first ids to arrive need not be the lowest. The first final
    window sets it.
    """

    __slots__ = ("above", "low")

    def __init__(self, low: int | None = None, above: set[int] | None = None) -> None:
        self.low = low
        self.above = above or set()

    def seen(self, trade_id: int) -> bool:
        return (self.low is not None and trade_id <= self.low) or trade_id in self.above

    def mark(self, trade_id: int, limit: int) -> None:
        self.above.add(trade_id)
        self._compact()
        if len(self.above) > limit:  # a safety net; gaps normally close in raise_low()
            self.raise_low(min(self.above))

    def raise_low(self, low: int) -> None:
        """Treat every id up to ``low`` as seen: a gap a venue will never fill is closed."""
        if self.low is None or low > self.low:
            self.low = low
            self.above = {i for i in self.above if i > low}
            self._compact()

    def _compact(self) -> None:
        if self.low is None:
            return
        while self.low + 1 in self.above:
            self.low += 1
            self.above.discard(self.low)


@dataclass
class _Window:
    start_us: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    open_key: tuple[int, str]
    close_key: tuple[int, str]
    volume: Decimal
    notional: Decimal
    trades: int
    max_ids: dict[str, int]
    version: int = 0
    dirty: bool = True

    def add(self, key: tuple[int, str], price: Decimal, qty: Decimal, venue: str,
            trade_id: int) -> None:
        self.max_ids[venue] = max(trade_id, self.max_ids.get(venue, trade_id))
        if key < self.open_key:
            self.open, self.open_key = price, key
        if key > self.close_key:
            self.close, self.close_key = price, key
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.volume += qty
        self.notional += price * qty
        self.trades += 1
        self.dirty = True


class CandleAggregator:
    """Candles of one symbol and interval; feed it ticks, then :meth:`drain` the changes."""

    def __init__(self, symbol: str, interval: str = "1m", grace_s: float = 10.0,
                 seen_limit: int = 10_000) -> None:
        if interval not in _INTERVALS:
            raise ValueError(f"interval must be one of {sorted(_INTERVALS)}")
        self.symbol = symbol
        self.interval = interval
        self.size_us = _INTERVALS[interval] * _US
        self.grace_us = int(grace_s * _US)
        self.seen_limit = seen_limit
        self.watermark_us = 0
        self.closed_before_us = 0  # every window starting before this is final
        self.windows: dict[int, _Window] = {}
        self.finals: dict[int, _Window] = {}
        self.seen: dict[str, _SeenIds] = {}

    def add(self, tick: Tick, venue_now_ns: int | None = None) -> Verdict:
        """Count ``tick`` once; ``venue_now_ns`` (the broker's time for it) bounds how far
        ahead of the venue's clock a tick, and so the watermark, may be."""
        if tick.symbol != self.symbol:
            raise ValueError(f"tick for {tick.symbol} given to the {self.symbol} aggregator")
        ts_us = _to_us(tick.ts_event)
        if venue_now_ns is not None and ts_us > venue_now_ns // 1000 + MAX_AHEAD_S * _US:
            return Verdict.FUTURE
        start = ts_us - ts_us % self.size_us
        seen = self.seen.get(tick.venue)
        if seen is not None and seen.seen(tick.trade_id):
            replayed = self.windows.get(start) or self.finals.get(start)
            if replayed is not None:
                replayed.dirty = True
            return Verdict.DUPLICATE
        # Judged against the watermark now, not at the next drain, so the result does not
        # depend on where batch boundaries fall.
        horizon = self.watermark_us - self.grace_us
        if start < self.closed_before_us or start + self.size_us <= horizon:
            return Verdict.LATE
        if seen is None:
            seen = self.seen[tick.venue] = _SeenIds()
        seen.mark(tick.trade_id, self.seen_limit)

        key = (ts_us, tick.event_id)
        window = self.windows.get(start)
        if window is None:
            self.windows[start] = _Window(start, tick.price, tick.price, tick.price, tick.price,
                                          key, key, tick.qty, tick.price * tick.qty, 1,
                                          {tick.venue: tick.trade_id})
        else:
            window.add(key, tick.price, tick.qty, tick.venue, tick.trade_id)
        self.watermark_us = max(self.watermark_us, ts_us)
        return Verdict.ACCEPTED

    def drain(self) -> list[Candle]:
        """The candles changed since the last drain, each with a new version; finals last."""
        out: list[Candle] = []
        for start in sorted(self.finals):
            window = self.finals[start]
            if window.dirty:  # re-publish a final whose ticks were replayed
                window.version += 1
                window.dirty = False
                out.append(self._candle(window, final=True))
        horizon = self.watermark_us - self.grace_us
        for start in sorted(self.windows):
            window = self.windows[start]
            final = start + self.size_us <= horizon
            if window.dirty or final:
                window.version += 1
                window.dirty = False
                out.append(self._candle(window, final))
            if final:
                self.finals[start] = self.windows.pop(start)
                if len(self.finals) > RECENT_FINALS:
                    del self.finals[min(self.finals)]
                self.closed_before_us = max(self.closed_before_us, start + self.size_us)
                # A tick at or below a final window's highest id is late or a duplicate
                # either way, so the filter may forget the gaps beneath it.
                for venue, top in window.max_ids.items():
                    self.seen[venue].raise_low(top)
        return out

    def _candle(self, w: _Window, final: bool) -> Candle:
        start = _from_us(w.start_us)
        return Candle(
            event_id=f"{self.symbol}:{self.interval}:{start.isoformat().replace('+00:00', 'Z')}",
            ts_event=_from_us(w.close_key[0]),
            causation_id=w.close_key[1],
            symbol=self.symbol,
            interval=self.interval,  # type: ignore[arg-type]
            window_start=start,
            window_end=_from_us(w.start_us + self.size_us),
            open=w.open, high=w.high, low=w.low, close=w.close,
            volume=w.volume, notional=w.notional,
            vwap=(w.notional / w.volume).quantize(Decimal("1e-8")),
            trades=w.trades, version=w.version, final=final,
        )

    # -- persistence: one JSON-able dict ---------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "symbol": self.symbol, "interval": self.interval, "grace_us": self.grace_us,
            "seen_limit": self.seen_limit,
            "watermark_us": self.watermark_us, "closed_before_us": self.closed_before_us,
            "seen": {v: [s.low, sorted(s.above)] for v, s in self.seen.items()},
            "windows": [_window_row(w) for w in self.windows.values()],
            "finals": [_window_row(w) for w in self.finals.values()],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CandleAggregator:
        if state.get("format") == 1:  # format 1 kept no recent finals
            state = state | {"format": 2, "finals": []}
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"candle state format {state.get('format')!r} is not "
                             f"{STATE_FORMAT}: the table was written by another version")
        agg = cls(state["symbol"], state["interval"], state["grace_us"] / _US,
                  state["seen_limit"])
        agg.watermark_us = state["watermark_us"]
        agg.closed_before_us = state["closed_before_us"]
        agg.seen = {v: _SeenIds(low, set(above)) for v, (low, above) in state["seen"].items()}
        agg.windows = {row[0]: _window_from_row(row) for row in state["windows"]}
        agg.finals = {row[0]: _window_from_row(row) for row in state["finals"]}
        return agg


def _window_row(w: _Window) -> list[Any]:
    return [w.start_us, str(w.open), str(w.high), str(w.low), str(w.close), list(w.open_key),
            list(w.close_key), str(w.volume), str(w.notional), w.trades, w.max_ids, w.version,
            w.dirty]


def _window_from_row(row: list[Any]) -> _Window:
    (start, o, h, lo, c, ok, ck, vol, notional, trades, max_ids, version, dirty) = row
    return _Window(start, Decimal(o), Decimal(h), Decimal(lo), Decimal(c), (ok[0], ok[1]),
                   (ck[0], ck[1]), Decimal(vol), Decimal(notional), trades, dict(max_ids),
                   version, dirty)
