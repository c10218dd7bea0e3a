"""Option chains and their marks and Greeks, re-computed vectorised per chain — pure.

* **The chain** of an underlying is the venue's listing (:mod:`streams.instruments.listings`):
  the expiries the venue lists in the index's listing session (daily, weekly, monthly and
  quarterly, at 08:00 UTC), each with every strike the venue lists — so risk finds a mark for
  every listed option — and ``strikes_per_expiry`` more on a round grid centred on a reference
  price (the smile around spot). It is a pure function of ``(session, reference)``; both are
  kept in the state, so every worker and every replay marks the same instruments. It rolls
  when the index enters a new session (08:00 UTC, when the venue's listing rolls): expired
  options drop out, new expiries are listed and the extra strikes re-centre on the index of
  that moment.
* **Marks** are Black-76 on the forward ``F = S e^{(r-q)t}`` with the vol read from the
  surface at each strike's log-moneyness (:mod:`streams.marketdata.volsurface`), for the whole
  chain in one numpy pass (:func:`~streams.marketdata.pricing.black76_greeks`); ``t`` is ACT/365
  from the *index's* event time, so a mark is a pure function of the index it was made from.
  Money leaves the float world once, through
  :func:`~streams.marketdata.pricing.marks_to_decimal`, on the option's premium tick.
* **When to re-mark** (:meth:`UnderlyingMarks.offer`): at most once per ``marks_interval_s`` of
  wall time per chain, and only when the index moved by more than ``marks_min_move_bps`` — or
  ``marks_refresh_s`` of event time passed, since theta decays even when the index does not
  move. Marks are a latest-value feed (``md.marks`` is compacted), so a worker catching up a
  backlog marks the newest index it has, not every historical one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

import numpy as np

from streams.instruments import (
    DEFAULT_OPTION_SPECS,
    DEFAULT_SCHEDULE,
    GridSpec,
    Instrument,
    ListingSchedule,
    listed_expiry_dates,
    listing_session,
    option_chain,
    strike_grid,
)
from streams.marketdata.l2book import to_us
from streams.marketdata.pricing import (
    PricingError,
    black76_greeks,
    forward_from_spot,
    marks_to_decimal,
)
from streams.marketdata.volsurface import DEFAULT_SSVI, SsviSurface, VolSource, default_surface
from topics.contracts import IndexPrice, OptionMark
from topics.contracts.base import utc_now

__all__ = ["ChainParams", "OptionChain", "UnderlyingMarks", "surface_for"]

_US_PER_YEAR = 365 * 86_400 * 1_000_000  # ACT/365, as pricing.year_fraction
_BPS = Decimal(10_000)
GENERIC_OPTION_GRID = GridSpec(Decimal("0.01"), Decimal("0.01"), Decimal("0.01"))
"""Premium grid for an underlying without a listed one (tests, new listings)."""


@dataclass(frozen=True, slots=True)
class ChainParams:
    """How chains are marked (see ``MarketDataSettings``); which expiries and strikes the
    venue lists is ``schedule``'s, the venue's own by default."""

    strikes_per_expiry: int = 11
    usdt_rate: float = 0.0
    coin_yield: float = 0.0
    interval_s: float = 1.0
    min_move_bps: Decimal = Decimal(0)
    refresh_s: float = 60.0
    schedule: ListingSchedule = DEFAULT_SCHEDULE

    @classmethod
    def from_settings(cls, s: Any) -> ChainParams:
        return cls(strikes_per_expiry=s.strikes_per_expiry, usdt_rate=s.usdt_rate,
                   coin_yield=s.coin_yield, interval_s=s.marks_interval_s,
                   min_move_bps=s.marks_min_move_bps, refresh_s=s.marks_refresh_s)


def surface_for(underlying: str) -> VolSource:
    """The underlying's default surface; BTC's shape for one without its own yet."""
    if underlying.upper() in DEFAULT_SSVI:
        return default_surface(underlying)
    return SsviSurface(DEFAULT_SSVI["BTC"])


def _sig(values: np.ndarray, digits: int = 10) -> list[Decimal]:
    """Floats to Decimals with ``digits`` significant digits (Greeks are not money)."""
    return [Decimal(f"{v:.{digits}g}") for v in values.tolist()]


@dataclass(frozen=True)
class OptionChain:
    """One underlying's listed options as flat arrays, one element per option; ``as_of`` is
    the listing session (:func:`~streams.instruments.listing_session`)."""

    underlying: str
    as_of: date
    reference: Decimal
    instruments: tuple[Instrument, ...]
    strike: np.ndarray
    expiry_us: np.ndarray
    is_call: np.ndarray
    tick: Decimal

    @property
    def size(self) -> int:
        return len(self.instruments)

    @classmethod
    def build(cls, underlying: str, as_of: date, reference: Decimal,
              params: ChainParams) -> OptionChain:
        return _build_chain(underlying, as_of, reference, params.strikes_per_expiry,
                            params.schedule)

    def marks(self, index: IndexPrice, surface: VolSource, r: float = 0.0,
              q: float = 0.0) -> list[OptionMark]:
        """Every unexpired option marked from ``index``, in one vectorised pass."""
        now_us = to_us(index.ts_event)
        live = self.expiry_us > now_us
        if not live.any():
            return []
        t = (self.expiry_us[live] - now_us) / _US_PER_YEAR
        strike = self.strike[live]
        is_call = self.is_call[live]
        forward = forward_from_spot(float(index.price), t, r, q)
        sigma = surface.vol_at_strike(t, strike, forward)
        g = black76_greeks(forward, strike, t, sigma, r, is_call)
        _check_finite(sigma, g)
        prices = marks_to_decimal(g.price, self.tick)
        forwards = marks_to_decimal(forward, "0.00000001")
        ivs = _sig(sigma, 8)
        delta, gamma, vega, theta = (_sig(a) for a in (g.delta, g.gamma, g.vega, g.theta))
        instruments = [i for i, ok in zip(self.instruments, live.tolist(), strict=True) if ok]
        out = []
        # The inputs were validated (the index on arrival, the chain by the instrument
        # catalogue) and _check_finite has checked every number the maths produced, so the
        # marks are built without pydantic's per-field validation: it is ~90% of the cost of
        # a chain (its decimal digit counting runs in Python). The unit tests decode the
        # output through the catalogue to keep this honest.
        construct = OptionMark.model_construct
        made = utc_now()  # given, not defaulted: a default factory costs a signature lookup
        for n, inst in enumerate(instruments):
            assert inst.expiry is not None
            out.append(construct(
                event_id=f"{inst.instrument_id}:mark:{index.event_id}",
                ts_event=index.ts_event, ts_init=made, causation_id=index.event_id,
                symbol=inst.instrument_id, underlying_price=index.price,
                mark_price=prices[n], iv=ivs[n], delta=delta[n], gamma=gamma[n],
                vega=vega[n], theta=theta[n], expiry=inst.expiry, forward=forwards[n]))
        return out


def _check_finite(sigma: np.ndarray, g: Any) -> None:
    """An invariant, not bad input: the surface and the maths must give finite numbers."""
    arrays = (sigma, g.price, g.delta, g.gamma, g.vega, g.theta)
    if not all(np.isfinite(a).all() for a in arrays) or not (sigma > 0).all():
        raise PricingError("the chain's marks are not finite (or a vol is not > 0)")
    if (g.price < 0).any():
        raise PricingError("a negative option price")


@lru_cache(maxsize=32)
def _build_chain(underlying: str, as_of: date, reference: Decimal, strikes: int,
                 schedule: ListingSchedule) -> OptionChain:
    grid = DEFAULT_OPTION_SPECS.get(underlying, GENERIC_OPTION_GRID)
    expiries = listed_expiry_dates(as_of, schedule)
    listed = {*strike_grid(reference, strikes), *schedule.strikes(underlying)}
    instruments = tuple(option_chain(underlying, reference, expiries, sorted(listed),
                                     spec=grid))
    strike = np.array([float(i.strike or 0) for i in instruments])
    expiry_us = np.array([to_us(i.expiry) for i in instruments if i.expiry is not None],
                         dtype=np.int64)
    is_call = np.array([i.right is not None and i.right.value == "C" for i in instruments])
    return OptionChain(underlying, as_of, reference, instruments, strike, expiry_us, is_call,
                       grid.tick_size)


class UnderlyingMarks:
    """The mark schedule and chain of one underlying; state is one JSON-able dict."""

    def __init__(self, underlying: str, params: ChainParams | None = None,
                 state: dict[str, Any] | None = None) -> None:
        self.underlying = underlying
        self.params = params or ChainParams()
        self.surface = surface_for(underlying)
        state = state or {}
        self.as_of: str | None = state.get("as_of")
        self.reference: str | None = state.get("reference")
        self.last_price: str | None = state.get("last_price")
        self.last_index_us: int = state.get("last_index_us", 0)
        self.last_wall: float = state.get("last_wall", 0.0)
        self.last_event_id: str | None = state.get("last_event_id")

    def chain(self, index: IndexPrice) -> OptionChain:
        """The chain listed in the index's session; rolls (re-lists) when the session
        changes, at 08:00 UTC like the venue's listing."""
        session = listing_session(index.ts_event)
        if self.as_of != session.isoformat() or self.reference is None:
            self.as_of, self.reference = session.isoformat(), str(index.price)
        return OptionChain.build(self.underlying, date.fromisoformat(self.as_of),
                                 Decimal(self.reference), self.params)

    def due(self, index: IndexPrice, now_wall: float) -> bool:
        """Whether ``index`` should be marked now (rate bound, move, refresh)."""
        if index.event_id == self.last_event_id:
            return False
        if self.last_price is None:
            return True
        if now_wall - self.last_wall < self.params.interval_s:
            return False
        last = Decimal(self.last_price)
        moved = abs(index.price - last) / last * _BPS > self.params.min_move_bps
        refresh = to_us(index.ts_event) - self.last_index_us >= self.params.refresh_s * 1e6
        return moved or refresh

    def offer(self, index: IndexPrice, now_wall: float) -> list[OptionMark]:
        """The chain's marks for ``index`` if it is due (see :meth:`due`), else nothing."""
        if index.underlying != self.underlying:
            raise ValueError(f"{index.underlying} index given to {self.underlying} marks")
        if not self.due(index, now_wall):
            return []
        marks = self.chain(index).marks(index, self.surface, self.params.usdt_rate,
                                        self.params.coin_yield)
        self.last_price, self.last_index_us = str(index.price), to_us(index.ts_event)
        self.last_wall, self.last_event_id = now_wall, index.event_id
        return marks

    def to_state(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "reference": self.reference, "last_price": self.last_price,
                "last_index_us": self.last_index_us, "last_wall": self.last_wall,
                "last_event_id": self.last_event_id}

