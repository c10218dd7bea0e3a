"""5-minute, 15-minute and 1-hour candles rolled up from 1-minute candles — pure, no Faust.

Why from the 1-minute candles and not from the ticks again:

* **Exact.** A candle is a monoid: open/close are the first/last by event time, high/low the
  max/min, volume, notional and trade count sums — and 1-minute windows tile the 5m, 15m and 1h
  windows exactly (60 divides 300, 900 and 3600, all aligned on the epoch). So a rollup of the
  final 1-minute candles *is* the candle of the same ticks over the longer window: open is the
  first non-empty minute's open, close the last one's close, and the sums are exact Decimal
  sums (venue prices and sizes carry at most 9 decimals, so notionals at most 18, within the
  38 digits of the money columns). ``vwap`` is ``notional / volume`` of those exact sums,
  rounded like the 1-minute candles', never an average of vwaps.
* **Consistent.** The 1-minute aggregator has already decided which ticks count (duplicates,
  lateness). A second aggregator over ``md.ticks`` per interval would judge lateness against a
  longer window and accept a tick the 1m candle refused, so 5m would not equal the sum of its
  minutes; rolling up never disagrees with the minutes. It also reads ``md.candles`` (a few
  updates per symbol per second) instead of every tick a second time.
* **When a rollup is final.** The 1m aggregator emits finals in window order per symbol, and a
  final minute means every earlier minute is final. So a rollup window is final once a final
  minute ending at or after its end arrives. Until then it is re-published, versioned, as its
  minutes change (live minutes count at their latest version).
* **Replays.** Each minute is kept at its highest version, so a redelivered candle never
  changes a rollup's numbers. Like the candle agent with a replayed tick, though, a redelivered
  minute (this agent crashed: its state may be ahead of what reached Kafka) or a re-published
  final minute (the candle agent crashed) re-publishes its rollups — open ones, or among the
  recent finals — with a higher version, so no rollup lost in a producer buffer stays lost.
  Sinks keep the highest version per ``event_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from streams.marketdata.l2book import from_us, to_us
from topics.contracts import Candle

__all__ = ["ROLLUP_INTERVALS", "CandleRollup", "RollupVerdict"]

ROLLUP_INTERVALS = {"5m": 300, "15m": 900, "1h": 3600}
_US = 1_000_000
RECENT_FINALS = 16
STATE_FORMAT = 1


class RollupVerdict(StrEnum):
    ACCEPTED = "accepted"
    REPLAYED = "replayed"  # a version already counted: its rollups are re-published
    NOT_A_MINUTE = "not_a_minute"  # a 5m/15m/1h candle (our own output) or another interval
    STALE = "stale"  # a minute of a window final long ago: nothing to do


@dataclass
class _Agg:
    """The exact aggregate of some candles: the monoid everything here is built on."""

    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    notional: Decimal
    trades: int
    close_us: int  # event time of the close (the last tick)
    version: int = 0  # the 1m version (minutes), or the published version (rollups)
    cause: str = ""

    @classmethod
    def of(cls, c: Candle) -> _Agg:
        return cls(c.open, c.high, c.low, c.close, c.volume, c.notional, c.trades,
                   to_us(c.ts_event), c.version, c.event_id)

    def row(self) -> list[Any]:
        return [str(self.open), str(self.high), str(self.low), str(self.close),
                str(self.volume), str(self.notional), self.trades, self.close_us, self.version,
                self.cause]

    @classmethod
    def from_row(cls, row: list[Any]) -> _Agg:
        o, h, lo, c, v, n, trades, close_us, version, cause = row
        return cls(Decimal(o), Decimal(h), Decimal(lo), Decimal(c), Decimal(v), Decimal(n),
                   trades, close_us, version, cause)


def _merge(minutes: list[_Agg]) -> _Agg:
    """Minutes in window order → one aggregate (open of the first, close of the last)."""
    first, last = minutes[0], minutes[-1]
    return _Agg(first.open, max(m.high for m in minutes), min(m.low for m in minutes),
                last.close, sum((m.volume for m in minutes), Decimal(0)),
                sum((m.notional for m in minutes), Decimal(0)), sum(m.trades for m in minutes),
                last.close_us)


class _Interval:
    __slots__ = ("dirty", "final_before_us", "finals", "size_us", "versions")

    def __init__(self, size_s: int) -> None:
        self.size_us = size_s * _US
        self.final_before_us = 0  # rollup windows starting before this are final
        self.versions: dict[int, int] = {}  # open window start -> last published version
        self.dirty: set[int] = set()  # open windows to re-publish
        self.finals: dict[int, _Agg] = {}  # recent finals (version = published version)


class CandleRollup:
    """Rollups of one symbol; feed it its 1-minute candles, then :meth:`drain` the changes."""

    def __init__(self, symbol: str, intervals: tuple[str, ...] = tuple(ROLLUP_INTERVALS)) -> None:
        unknown = set(intervals) - set(ROLLUP_INTERVALS)
        if unknown:
            raise ValueError(f"unknown rollup intervals {sorted(unknown)}")
        self.symbol = symbol
        self.minutes: dict[int, _Agg] = {}  # 1m window start -> latest version
        self.intervals = {name: _Interval(ROLLUP_INTERVALS[name]) for name in intervals}
        self.complete_before_us = 0  # every minute starting before this is final
        self.cause = ""

    def add(self, candle: Candle) -> RollupVerdict:
        if candle.symbol != self.symbol:
            raise ValueError(f"candle of {candle.symbol} given to the {self.symbol} rollup")
        if candle.interval != "1m":
            return RollupVerdict.NOT_A_MINUTE
        start = to_us(candle.window_start)
        have = self.minutes.get(start)
        is_open = is_final = False
        for iv in self.intervals.values():
            window = start - start % iv.size_us
            if window >= iv.final_before_us:
                iv.dirty.add(window)
                is_open = True
            elif window in iv.finals:  # a minute of a recent final: re-publish the final
                iv.finals[window].cause = candle.event_id
                iv.dirty.add(window)
                is_final = True
        if not (is_open or is_final):
            return RollupVerdict.STALE
        self.cause = candle.event_id
        # A final rollup's numbers cannot change (its minutes were final), so a minute of it
        # can only be a redelivery or a re-published final: it is re-published as it was.
        if not is_open or (have is not None and have.version >= candle.version):
            return RollupVerdict.REPLAYED
        if start >= self._keep_from():  # else only a final rollup needed it, and keeps it
            self.minutes[start] = _Agg.of(candle)
        if candle.final:
            self.complete_before_us = max(self.complete_before_us, to_us(candle.window_end))
        return RollupVerdict.ACCEPTED

    def _keep_from(self) -> int:
        return min(iv.final_before_us for iv in self.intervals.values())

    def drain(self) -> list[Candle]:
        """The rollups changed since the last drain, each with a new version; finals included."""
        out: list[Candle] = []
        for name, iv in self.intervals.items():
            # A published window becomes final when a later final minute arrives, even if
            # none of its own minutes changed since.
            iv.dirty.update(w for w in iv.versions if w + iv.size_us <= self.complete_before_us)
            for window in sorted(iv.dirty):
                if window in iv.finals:  # a final whose minutes were re-published
                    agg = iv.finals[window]
                    agg.version += 1
                    out.append(self._candle(name, iv, window, agg, final=True))
                    continue
                minutes = [m for s, m in sorted(self.minutes.items())
                           if window <= s < window + iv.size_us]
                if not minutes:
                    continue
                final = window + iv.size_us <= self.complete_before_us
                agg = _merge(minutes)
                agg.version = iv.versions.pop(window, 0) + 1
                agg.cause = self.cause
                out.append(self._candle(name, iv, window, agg, final))
                if not final:
                    iv.versions[window] = agg.version
                    continue
                iv.finals[window] = agg
                if len(iv.finals) > RECENT_FINALS:
                    del iv.finals[min(iv.finals)]
                iv.final_before_us = max(iv.final_before_us, window + iv.size_us)
            iv.dirty.clear()
        keep = self._keep_from()
        self.minutes = {s: m for s, m in self.minutes.items() if s >= keep}
        return out

    def _candle(self, name: str, iv: _Interval, window: int, agg: _Agg, final: bool) -> Candle:
        start = from_us(window)
        return Candle(
            event_id=f"{self.symbol}:{name}:{start.isoformat().replace('+00:00', 'Z')}",
            ts_event=from_us(agg.close_us), causation_id=agg.cause or None,
            symbol=self.symbol, interval=name,  # type: ignore[arg-type]
            window_start=start, window_end=from_us(window + iv.size_us),
            open=agg.open, high=agg.high, low=agg.low, close=agg.close,
            volume=agg.volume, notional=agg.notional,
            vwap=(agg.notional / agg.volume).quantize(Decimal("1e-8")),
            trades=agg.trades, version=agg.version, final=final)

    # -- persistence: one JSON-able dict -------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT, "symbol": self.symbol,
            "complete_before_us": self.complete_before_us, "cause": self.cause,
            "minutes": [[s, m.row()] for s, m in self.minutes.items()],
            "intervals": {
                name: {"final_before_us": iv.final_before_us,
                       "versions": [[w, v] for w, v in iv.versions.items()],
                       "dirty": sorted(iv.dirty),
                       "finals": [[w, a.row()] for w, a in iv.finals.items()]}
                for name, iv in self.intervals.items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CandleRollup:
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"rollup state format {state.get('format')!r} is not "
                             f"{STATE_FORMAT}: the table was written by another version")
        rollup = cls(state["symbol"], tuple(state["intervals"]))
        rollup.complete_before_us = state["complete_before_us"]
        rollup.cause = state["cause"]
        rollup.minutes = {s: _Agg.from_row(row) for s, row in state["minutes"]}
        for name, data in state["intervals"].items():
            iv = rollup.intervals[name]
            iv.final_before_us = data["final_before_us"]
            iv.versions = {w: v for w, v in data["versions"]}
            iv.dirty = set(data["dirty"])
            iv.finals = {w: _Agg.from_row(row) for w, row in data["finals"]}
        return rollup
