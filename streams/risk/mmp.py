"""Market-maker protection (MMP), Deribit style. Pure: no Faust, no Kafka, no clock.

A market maker quoting many options can be filled on all of them at once (a fast move, a
sweep) before it can pull its quotes. Deribit's MMP lets the maker set, per underlying
("index"), a rolling **interval** and limits on what it may be filled for within it:
**quantity** (sum of contracts traded), **delta** and **vega** (net of the fills). When a limit
is *reached*, MMP trips: the maker's quotes on that underlying are pulled and it stays
**frozen** for the **frozen time**; a frozen time of 0 keeps it frozen until the maker resets.

:class:`MmpState` is that bookkeeping for one account (the risk agent keeps one per account,
keyed by account, like :class:`~streams.risk.account.AccountState`); :meth:`MmpState.on_fill`
returns an :class:`MmpBreach` the one time a freeze starts, and the agent acts on it (cancel
the account's quotes on the underlying, refuse new ones while :meth:`MmpState.is_frozen`).

Time is the venue's: every time here is a fill's venue timestamp (ms) or a ``now_ms`` the
caller passes; the newest fill time seen is "now" for the window, so a fill that arrives a
little late (an earlier timestamp than the newest) is counted if it is still inside the
window and dropped otherwise, never a crash. Sums are exact :class:`~decimal.Decimal`
(computed in an unbounded-precision context: running sums never drift from a recount).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, InvalidOperation, Overflow
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

__all__ = [
    "MAX_WINDOW_FILLS",
    "MmpBreach",
    "MmpConfig",
    "MmpError",
    "MmpState",
    "MmpTotals",
]

#: The most fills one underlying's window holds. Memory (and the stored record) stay bounded
#: whatever the fill rate; past it the oldest fills of the window are forgotten, so the check
#: sees only the newest ``MAX_WINDOW_FILLS`` fills of the interval (a real maker trips a sane
#: quantity limit long before: Deribit's intervals are seconds).
MAX_WINDOW_FILLS = 10_000

Reason = Literal["qty", "delta", "vega"]
Side = Literal["buy", "sell"]
ZERO = Decimal(0)
# Exact arithmetic: the default context rounds to 28 digits, which would let a running sum
# (added to and subtracted from) drift from the sum of the window it stands for.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation, Overflow])
_SIGN: dict[str, Decimal] = {"buy": Decimal(1), "sell": Decimal(-1)}


class MmpError(ValueError):
    """An invalid MMP configuration or fill (bad input: the agent dead-letters it)."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_limit(name: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal):
        raise MmpError(f"{name} must be a Decimal or None, not {type(value).__name__}")
    if not value.is_finite() or value <= 0:
        raise MmpError(f"{name} must be > 0, got {value}")


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class MmpConfig:
    """One account's MMP settings for one underlying (Deribit: interval, frozen time,
    quantity / delta / vega limits). Checked on construction: a config that can never trip
    (no limit) or never look back (no interval) is a mistake, not a setting."""

    interval_ms: int  # the rolling window, > 0
    frozen_ms: int  # freeze after a breach, >= 0; 0: frozen until the maker resets
    qty_limit: Decimal | None = None  # sum of contracts filled in the window
    delta_limit: Decimal | None = None  # |net delta| of the window's fills
    vega_limit: Decimal | None = None  # |net vega| of the window's fills

    def __post_init__(self) -> None:
        if not _is_int(self.interval_ms) or self.interval_ms <= 0:
            raise MmpError(f"interval_ms must be an int > 0, got {self.interval_ms!r}")
        if not _is_int(self.frozen_ms) or self.frozen_ms < 0:
            raise MmpError(f"frozen_ms must be an int >= 0, got {self.frozen_ms!r}")
        _check_limit("qty_limit", self.qty_limit)
        _check_limit("delta_limit", self.delta_limit)
        _check_limit("vega_limit", self.vega_limit)
        if self.qty_limit is None and self.delta_limit is None and self.vega_limit is None:
            raise MmpError("at least one of qty_limit, delta_limit, vega_limit must be set")

    def to_record(self) -> dict[str, Any]:
        return {"interval_ms": self.interval_ms, "frozen_ms": self.frozen_ms,
                "qty_limit": _str(self.qty_limit), "delta_limit": _str(self.delta_limit),
                "vega_limit": _str(self.vega_limit)}

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> MmpConfig:
        return cls(data["interval_ms"], data["frozen_ms"], _dec(data.get("qty_limit")),
                   _dec(data.get("delta_limit")), _dec(data.get("vega_limit")))


@dataclass(frozen=True, slots=True)
class MmpBreach:
    """MMP tripped: a freeze started. ``value`` is what reached ``limit`` (the window's
    quantity, or the *absolute* net delta / vega, so ``value >= limit``); ``at_ms`` is the
    venue time the freeze started (the newest fill time seen: a deterministic event id);
    ``frozen_until_ms`` is ``None`` when the freeze lasts until the maker resets."""

    underlying: str
    reason: Reason
    value: Decimal
    limit: Decimal
    frozen_until_ms: int | None
    at_ms: int


class MmpTotals(NamedTuple):
    """What the current window adds up to (Deribit's MMP status)."""

    qty: Decimal
    delta: Decimal  # signed
    vega: Decimal  # signed
    fills: int


class _Fill(NamedTuple):
    ts_ms: int
    qty: Decimal
    delta: Decimal  # signed contribution: +q*d for a buy, -q*d for a sell
    vega: Decimal


@dataclass(slots=True)
class _Tracker:
    """One underlying: its config, its window (sorted by time, then arrival) with running
    sums, and its freeze."""

    config: MmpConfig
    fills: deque[_Fill] = field(default_factory=deque)
    qty: Decimal = ZERO
    delta: Decimal = ZERO
    vega: Decimal = ZERO
    last_ts_ms: int | None = None  # the newest fill time seen: the window's "now"
    floor_ms: int | None = None  # fills older than this were cleared (reset, freeze)
    frozen: bool = False
    frozen_until_ms: int | None = None  # None while frozen: until reset

    def clear(self) -> None:
        self.fills.clear()
        self.qty = self.delta = self.vega = ZERO

    def _take(self, fill: _Fill, sign: int) -> None:
        add = _EXACT.add if sign > 0 else _EXACT.subtract
        self.qty = add(self.qty, fill.qty)
        self.delta = add(self.delta, fill.delta)
        self.vega = add(self.vega, fill.vega)

    def evict_before(self, cutoff_ms: int) -> None:
        while self.fills and self.fills[0].ts_ms < cutoff_ms:
            self._take(self.fills.popleft(), -1)

    def insert(self, fill: _Fill, max_fills: int) -> None:
        fills = self.fills
        i = len(fills)
        while i and fills[i - 1].ts_ms > fill.ts_ms:  # a late fill: rare, and near the end
            i -= 1
        if i == len(fills):
            fills.append(fill)
        else:
            fills.insert(i, fill)
        self._take(fill, 1)
        while len(fills) > max_fills:
            self._take(fills.popleft(), -1)

    def tripped(self) -> tuple[Reason, Decimal, Decimal] | None:
        """The first limit reached, checked in the order quantity, delta, vega."""
        cfg = self.config
        if cfg.qty_limit is not None and self.qty >= cfg.qty_limit:
            return "qty", self.qty, cfg.qty_limit
        if cfg.delta_limit is not None and self.delta.copy_abs() >= cfg.delta_limit:
            return "delta", self.delta.copy_abs(), cfg.delta_limit
        if cfg.vega_limit is not None and self.vega.copy_abs() >= cfg.vega_limit:
            return "vega", self.vega.copy_abs(), cfg.vega_limit
        return None

    def to_record(self) -> dict[str, Any]:
        return {"config": self.config.to_record(), "last_ts_ms": self.last_ts_ms,
                "floor_ms": self.floor_ms, "frozen": self.frozen,
                "frozen_until_ms": self.frozen_until_ms,
                "fills": [[f.ts_ms, str(f.qty), str(f.delta), str(f.vega)]
                          for f in self.fills]}

    @classmethod
    def from_record(cls, data: Mapping[str, Any], max_fills: int) -> _Tracker:
        tracker = cls(MmpConfig.from_record(data["config"]), last_ts_ms=data["last_ts_ms"],
                      floor_ms=data["floor_ms"], frozen=data["frozen"],
                      frozen_until_ms=data["frozen_until_ms"])
        for ts, q, d, v in data["fills"]:
            tracker.insert(_Fill(ts, Decimal(q), Decimal(d), Decimal(v)), max_fills)
        return tracker


@dataclass
class MmpState:
    """One account's market-maker protection, per underlying.

    Rules (Deribit's MMP):

    * the window holds the fills with ``ts_ms >= now - interval_ms`` (``now`` the newest fill
      time seen on the underlying), and none from before the last reset or freeze;
    * a fill trips MMP when, with it, the window's quantity, ``|net delta|`` or ``|net vega|``
      *reaches* its limit: a freeze starts at ``now``, the window is emptied;
    * while frozen, fills (quotes already in flight) are not counted and never trip again:
      one breach per freeze. A freeze of ``frozen_ms > 0`` ends at ``frozen_until_ms`` and
      counting starts afresh from then; ``frozen_ms == 0`` holds until :meth:`reset`.
    """

    account: str
    max_fills: int = MAX_WINDOW_FILLS
    _trackers: dict[str, _Tracker] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not _is_int(self.max_fills) or self.max_fills < 1:
            raise MmpError(f"max_fills must be an int >= 1, got {self.max_fills!r}")

    # -- the maker's settings ---------------------------------------------------------------
    @property
    def configs(self) -> Mapping[str, MmpConfig]:
        return MappingProxyType({u: t.config for u, t in self._trackers.items()})

    def configure(self, underlying: str, config: MmpConfig) -> None:
        """Set (or replace) the config of an underlying. Replacing it restarts the window
        under the new limits but keeps a freeze: only :meth:`reset` (or :meth:`remove`)
        unfreezes."""
        if not isinstance(underlying, str) or not underlying:
            raise MmpError(f"underlying must be a non-empty string, got {underlying!r}")
        if not isinstance(config, MmpConfig):
            raise MmpError(f"config must be an MmpConfig, not {type(config).__name__}")
        tracker = self._trackers.get(underlying)
        if tracker is None:
            self._trackers[underlying] = _Tracker(config)
            return
        tracker.config = config
        tracker.clear()
        tracker.floor_ms = tracker.last_ts_ms

    def remove(self, underlying: str) -> bool:
        """Stop protecting an underlying (forgets its window and freeze); whether it was."""
        return self._trackers.pop(underlying, None) is not None

    def reset(self, underlying: str) -> None:
        """The maker unfreezes: the freeze ends and the window starts empty (fills seen
        before the reset never count again, even one arriving late)."""
        tracker = self._trackers.get(underlying)
        if tracker is None:
            return
        tracker.frozen, tracker.frozen_until_ms = False, None
        tracker.clear()
        tracker.floor_ms = tracker.last_ts_ms

    # -- fills --------------------------------------------------------------------------------
    def on_fill(self, underlying: str, ts_ms: int, side: Side, qty: Decimal,
                delta_per_unit: Decimal, vega_per_unit: Decimal) -> MmpBreach | None:
        """Count one of the account's fills (``qty`` contracts at the option's per-contract
        delta and vega); the breach if this fill starts a freeze. Underlyings without a
        config are ignored (before any check: fills of non-MMP accounts cost nothing)."""
        tracker = self._trackers.get(underlying)
        if tracker is None:
            return None
        sign = _SIGN.get(side)
        if sign is None:
            raise MmpError(f"side must be 'buy' or 'sell', got {side!r}")
        if not _is_int(ts_ms):
            raise MmpError(f"ts_ms must be an int, got {ts_ms!r}")
        for name, value in (("qty", qty), ("delta_per_unit", delta_per_unit),
                            ("vega_per_unit", vega_per_unit)):
            if not isinstance(value, Decimal) or not value.is_finite():
                raise MmpError(f"{name} must be a finite Decimal, got {value!r}")
        if qty <= 0:
            raise MmpError(f"qty must be > 0, got {qty}")

        now = ts_ms if tracker.last_ts_ms is None else max(tracker.last_ts_ms, ts_ms)
        tracker.last_ts_ms = now
        if tracker.frozen:
            if tracker.frozen_until_ms is None or now < tracker.frozen_until_ms:
                return None
            # the freeze is over: count afresh from its end
            tracker.frozen, tracker.floor_ms = False, tracker.frozen_until_ms
            tracker.frozen_until_ms = None
        cutoff = now - tracker.config.interval_ms
        if tracker.floor_ms is not None:
            cutoff = max(cutoff, tracker.floor_ms)
        tracker.evict_before(cutoff)
        if ts_ms >= cutoff:
            signed = _EXACT.multiply(sign, qty)
            tracker.insert(_Fill(ts_ms, qty, _EXACT.multiply(signed, delta_per_unit),
                                 _EXACT.multiply(signed, vega_per_unit)), self.max_fills)
        tripped = tracker.tripped()
        if tripped is None:
            return None
        reason, value, limit = tripped
        frozen_ms = tracker.config.frozen_ms
        tracker.frozen = True
        tracker.frozen_until_ms = now + frozen_ms if frozen_ms > 0 else None
        tracker.floor_ms = now
        tracker.clear()
        return MmpBreach(underlying, reason, value, limit, tracker.frozen_until_ms, now)

    # -- queries -----------------------------------------------------------------------------
    def is_frozen(self, underlying: str, now_ms: int) -> bool:
        """Whether the maker's quotes on the underlying are refused at venue time ``now_ms``."""
        tracker = self._trackers.get(underlying)
        if tracker is None or not tracker.frozen:
            return False
        return tracker.frozen_until_ms is None or now_ms < tracker.frozen_until_ms

    def totals(self, underlying: str) -> MmpTotals | None:
        """The current window's sums (as of the newest fill seen); ``None`` unconfigured."""
        tracker = self._trackers.get(underlying)
        if tracker is None:
            return None
        return MmpTotals(tracker.qty, tracker.delta, tracker.vega, len(tracker.fills))

    # -- the stored form ---------------------------------------------------------------------
    def to_record(self) -> dict[str, Any]:
        """JSON-able (Decimals as strings); running sums are not stored but recounted."""
        return {"account": self.account,
                "underlyings": {u: t.to_record() for u, t in sorted(self._trackers.items())}}

    @classmethod
    def from_record(cls, data: Mapping[str, Any], *,
                    max_fills: int = MAX_WINDOW_FILLS) -> MmpState:
        state = cls(data["account"], max_fills)
        state._trackers = {u: _Tracker.from_record(t, max_fills)
                           for u, t in data["underlyings"].items()}
        return state
