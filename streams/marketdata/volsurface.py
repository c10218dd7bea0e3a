"""Implied-volatility surfaces for option marks: smiles per expiry, interpolated in variance.

Why total variance ``w(t, k) = sigma(t, k)^2 * t`` over log-moneyness ``k = ln(K/F(t))``:
the Black-76 price depends on vol and time only through ``w``, no-calendar-arbitrage is
simply "``w`` non-decreasing in ``t`` at fixed ``k``", and interpolating linearly in ``w``
(not in vol) keeps that property between knots. So:

- in strike: linear in ``w`` across ``k`` between a smile's points, flat beyond its wings;
- in time: linear in ``w`` at fixed ``k`` between expiries, flat *vol* before the first
  and after the last expiry (``w`` scales with ``t`` there).

Two sources implement the same :class:`VolSource` interface:

- :class:`VolSurface` -- knots from configuration or a fit: a plain list of :class:`Smile`
  (or a dict via :meth:`VolSurface.from_mapping`); calendar arbitrage between knots is
  refused at construction, because a surface that lets ``w`` fall with ``t`` prices a
  calendar spread below zero and marks built on it are wrong, not just rough.
- :class:`SsviSurface` -- Gatheral-Jacquier SSVI, the parametric default for BTC and ETH
  (:data:`DEFAULT_SSVI`, :func:`default_surface`) used until a fitted surface exists.
  Its power-law form is free of static arbitrage under the checked parameter bounds.

Vols are annualised fractions (0.55 means 55 %); ``t`` is in ACT/365 years as in
:mod:`streams.marketdata.pricing`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from streams.marketdata.pricing import PricingError, forward_from_spot, year_fraction

__all__ = [
    "DEFAULT_SSVI",
    "MIN_T",
    "Smile",
    "SsviParams",
    "SsviSurface",
    "VolSource",
    "VolSurface",
    "VolSurfaceError",
    "default_surface",
]

FloatArray = NDArray[np.float64]

MIN_T = 1.0 / (365.0 * 24.0 * 60.0)
"""One minute in years: vols are read at ``max(t, MIN_T)``. An option at or past expiry is
priced at intrinsic whatever its vol; the floor only keeps ``sqrt(w/t)`` finite."""

_CALENDAR_TOLERANCE = 1e-12  # relative: knots equal up to rounding are not an arbitrage


class VolSurfaceError(PricingError):
    """A surface that cannot be built or read: bad knots, calendar arbitrage, bad config."""


@runtime_checkable
class VolSource(Protocol):
    """What the mark engine needs from a surface, whatever it is built from."""

    def total_variance(self, t: ArrayLike, k: ArrayLike) -> FloatArray:
        """Total implied variance ``sigma^2 t`` at year fraction ``t``, ``k = ln(K/F)``."""
        ...

    def vol(self, t: ArrayLike, k: ArrayLike) -> FloatArray:
        """Annualised implied vol at ``t`` and log-moneyness ``k`` (broadcast)."""
        ...

    def vol_at_strike(self, t: ArrayLike, strike: ArrayLike, forward: ArrayLike) -> FloatArray:
        """Annualised implied vol for a strike given the forward of that expiry."""
        ...


class _SurfaceReads:
    """The reads every source shares, derived from its ``total_variance``."""

    def total_variance(self, t: ArrayLike, k: ArrayLike) -> FloatArray:
        raise NotImplementedError

    def vol(self, t: ArrayLike, k: ArrayLike) -> FloatArray:
        tt, kk = np.broadcast_arrays(
            np.asarray(t, dtype=np.float64), np.asarray(k, dtype=np.float64)
        )
        tt = np.maximum(tt, MIN_T)
        return np.sqrt(self.total_variance(tt, kk) / tt)

    def vol_at_strike(self, t: ArrayLike, strike: ArrayLike, forward: ArrayLike) -> FloatArray:
        k = np.log(np.asarray(strike, dtype=np.float64) / np.asarray(forward, dtype=np.float64))
        return self.vol(t, k)

    def vol_from_spot(
        self,
        t: ArrayLike,
        strike: ArrayLike,
        spot: ArrayLike,
        r: ArrayLike = 0.0,
        q: ArrayLike = 0.0,
    ) -> FloatArray:
        """Vol for a strike when only spot and carry rates are known (forward = S e^{(r-q)t})."""
        return self.vol_at_strike(t, strike, forward_from_spot(spot, t, r, q))


# --------------------------------------------------------------------------- knots


def _floats(values: Iterable[float], name: str) -> tuple[float, ...]:
    out = tuple(float(v) for v in values)
    if not out:
        raise VolSurfaceError(f"{name} is empty")
    if not all(math.isfinite(v) for v in out):
        raise VolSurfaceError(f"{name} has a non-finite value: {out}")
    return out


@dataclass(frozen=True, slots=True)
class Smile:
    """The implied vols of one expiry at a few log-moneyness points.

    ``log_moneyness`` is ``ln(K/F)`` against that expiry's forward, strictly increasing;
    ``vols`` are annualised fractions, one per point. Validated on construction so a bad
    config fails at start-up, not on the first mark.
    """

    t: float
    log_moneyness: tuple[float, ...]
    vols: tuple[float, ...]

    def __post_init__(self) -> None:
        t = float(self.t)
        if not (math.isfinite(t) and t > 0.0):
            raise VolSurfaceError(f"smile expiry must be a finite t > 0 years: {self.t!r}")
        ks = _floats(self.log_moneyness, "log_moneyness")
        vs = _floats(self.vols, "vols")
        if len(ks) != len(vs):
            raise VolSurfaceError(f"{len(ks)} log-moneyness points but {len(vs)} vols")
        if any(b <= a for a, b in pairwise(ks)):
            raise VolSurfaceError(f"log_moneyness must be strictly increasing: {ks}")
        if any(v <= 0.0 for v in vs):
            raise VolSurfaceError(f"vols must be > 0: {vs}")
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "log_moneyness", ks)
        object.__setattr__(self, "vols", vs)

    @classmethod
    def from_strikes(
        cls, t: float, forward: float, strikes: Sequence[float], vols: Sequence[float]
    ) -> Smile:
        """A smile quoted by strike (as venues publish it), moved to log-moneyness."""
        if not (math.isfinite(forward) and forward > 0.0):
            raise VolSurfaceError(f"forward must be finite and > 0: {forward!r}")
        ks = _floats(strikes, "strikes")
        if any(k <= 0.0 for k in ks):
            raise VolSurfaceError(f"strikes must be > 0: {ks}")
        return cls(t, tuple(math.log(k / forward) for k in ks), tuple(vols))

    def total_variance(self, k: ArrayLike) -> FloatArray:
        """``sigma^2 t`` at log-moneyness ``k``: linear between points, flat beyond."""
        w = np.square(np.asarray(self.vols)) * self.t
        return np.interp(np.asarray(k, dtype=np.float64), np.asarray(self.log_moneyness), w)


class VolSurface(_SurfaceReads):
    """A surface from smiles at a few expiries, interpolated linearly in total variance.

    Exact at the knots; see the module docstring for the interpolation and extrapolation
    rules. With ``allow_calendar_arbitrage=False`` (the default) construction fails if
    total variance decreases from one expiry to the next at any log-moneyness; the check is
    exact, because two piecewise-linear smiles differ by a piecewise-linear function whose
    sign is decided at the union of their points.
    """

    def __init__(self, smiles: Iterable[Smile], *, allow_calendar_arbitrage: bool = False):
        ordered = tuple(sorted(smiles, key=lambda s: s.t))
        if not ordered:
            raise VolSurfaceError("a surface needs at least one smile")
        ts = [s.t for s in ordered]
        if len(set(ts)) != len(ts):
            raise VolSurfaceError(f"two smiles share an expiry: {ts}")
        if not allow_calendar_arbitrage:
            for a, b in pairwise(ordered):
                _check_calendar(a, b)
        self._smiles = ordered
        self._t = np.asarray(ts, dtype=np.float64)
        self._knots = tuple(
            (np.asarray(s.log_moneyness), np.square(np.asarray(s.vols)) * s.t) for s in ordered
        )

    @property
    def smiles(self) -> tuple[Smile, ...]:
        """The knots, by increasing expiry."""
        return self._smiles

    def total_variance(self, t: ArrayLike, k: ArrayLike) -> FloatArray:
        """``sigma^2 t`` at ``t`` years and log-moneyness ``k`` (broadcast, vectorised)."""
        tt, kk = np.broadcast_arrays(
            np.asarray(t, dtype=np.float64), np.asarray(k, dtype=np.float64)
        )
        ts = self._t
        # One row per smile: a handful of expiries times a chain is cheaper than grouping.
        w_knots = np.stack([np.interp(kk, ks, ws) for ks, ws in self._knots])
        n = ts.size
        if n == 1:
            return w_knots[0] * (np.maximum(tt, 0.0) / ts[0])
        j = np.clip(np.searchsorted(ts, tt, side="left"), 1, n - 1)
        t_lo, t_hi = ts[j - 1], ts[j]
        alpha = (tt - t_lo) / (t_hi - t_lo)
        w_lo = np.take_along_axis(w_knots, (j - 1)[None, ...], axis=0)[0]
        w_hi = np.take_along_axis(w_knots, j[None, ...], axis=0)[0]
        # (1-a)*lo + a*hi, not lo + a*(hi-lo): exact at both knots.
        w = (1.0 - alpha) * w_lo + alpha * w_hi
        w = np.where(tt < ts[0], w_knots[0] * (np.maximum(tt, 0.0) / ts[0]), w)
        return np.where(tt > ts[-1], w_knots[-1] * (tt / ts[-1]), w)

    @classmethod
    def from_mapping(
        cls,
        config: Mapping[str, Any],
        *,
        as_of: datetime | None = None,
        allow_calendar_arbitrage: bool = False,
    ) -> VolSurface:
        """Build from plain data (JSON/YAML/settings), one entry per expiry::

            {"smiles": [
                {"t": 0.25, "log_moneyness": [-0.2, 0.0, 0.2], "vols": [0.62, 0.55, 0.58]},
                {"expiry": "2025-06-27T08:00:00Z", "forward": 65000,
                 "strikes": [60000, 65000, 70000], "vols": [0.60, 0.54, 0.57]},
            ]}

        An entry gives its time as ``t`` (years) or ``expiry`` (ISO-8601 with a zone, needs
        ``as_of``), and its points as ``log_moneyness`` or ``strikes`` with ``forward``.
        """
        try:
            entries = config["smiles"]
        except (KeyError, TypeError) as exc:
            raise VolSurfaceError("surface config needs a 'smiles' list") from exc
        smiles = [_smile_from_entry(e, as_of) for e in entries]
        return cls(smiles, allow_calendar_arbitrage=allow_calendar_arbitrage)

    @classmethod
    def from_source(
        cls, source: VolSource, tenors: Sequence[float], log_moneyness: Sequence[float]
    ) -> VolSurface:
        """Snapshot any source onto knots, e.g. to publish a parametric surface as a grid."""
        ks = np.asarray(log_moneyness, dtype=np.float64)
        return cls(
            Smile(float(t), tuple(ks.tolist()), tuple(source.vol(t, ks).tolist())) for t in tenors
        )


def _check_calendar(a: Smile, b: Smile) -> None:
    grid = np.union1d(a.log_moneyness, b.log_moneyness)
    wa, wb = a.total_variance(grid), b.total_variance(grid)
    bad = wb < wa * (1.0 - _CALENDAR_TOLERANCE)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise VolSurfaceError(
            f"calendar arbitrage: total variance falls from {wa[i]:.6g} at t={a.t:.6g} to "
            f"{wb[i]:.6g} at t={b.t:.6g} (k={grid[i]:.6g}); pass "
            "allow_calendar_arbitrage=True only to inspect such a surface"
        )


def _smile_from_entry(entry: Mapping[str, Any], as_of: datetime | None) -> Smile:
    try:
        if "t" in entry:
            t = float(entry["t"])
        else:
            if as_of is None:
                raise VolSurfaceError("an entry with 'expiry' needs as_of")
            expiry = datetime.fromisoformat(str(entry["expiry"]))
            t = year_fraction(as_of, expiry)
        vols = entry["vols"]
        if "log_moneyness" in entry:
            return Smile(t, tuple(entry["log_moneyness"]), tuple(vols))
        return Smile.from_strikes(t, float(entry["forward"]), entry["strikes"], vols)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, VolSurfaceError):
            raise
        raise VolSurfaceError(f"bad smile entry {dict(entry)!r}: {exc}") from exc


# --------------------------------------------------------------------------- SSVI


@dataclass(frozen=True, slots=True)
class SsviParams:
    """Parameters of a power-law SSVI surface (Gatheral & Jacquier, 2014).

    ``w(t, k) = theta/2 * (1 + rho*phi*k + sqrt((phi*k + rho)^2 + 1 - rho^2))`` with the
    ATM total variance ``theta(t) = atm_vol(t)^2 * t`` and
    ``phi(theta) = eta / (theta^gamma * (1 + theta)^(1 - gamma))``.

    ``atm_vol(t)`` moves from ``atm_vol_short`` (t -> 0) to ``atm_vol_long`` with e-folding
    time ``term_years``: crypto term structures are usually in mild contango. ``rho`` is
    the skew (negative: puts richer), ``eta`` the wing curvature.

    Checked on construction: ``eta * (1 + |rho|) <= 2`` and ``0 < gamma <= 1/2`` (no
    butterfly arbitrage), and ``atm_vol_short < 3.2 * atm_vol_long`` so theta(t) increases
    (no calendar arbitrage): d(theta)/dt = sigma(sigma + 2 t sigma') > 0 needs the
    backwardation to stay under (1 + e^{1.5}/2) ~ 3.24 times the long vol.
    """

    atm_vol_short: float
    atm_vol_long: float
    term_years: float
    rho: float
    eta: float
    gamma: float = 0.5

    def __post_init__(self) -> None:
        values = (self.atm_vol_short, self.atm_vol_long, self.term_years, self.rho)
        if not all(math.isfinite(v) for v in (*values, self.eta, self.gamma)):
            raise VolSurfaceError(f"SSVI parameters must be finite: {self}")
        if self.atm_vol_short <= 0.0 or self.atm_vol_long <= 0.0 or self.term_years <= 0.0:
            raise VolSurfaceError(f"ATM vols and term_years must be > 0: {self}")
        if not -1.0 < self.rho < 1.0:
            raise VolSurfaceError(f"rho must be in (-1, 1): {self.rho}")
        if not 0.0 < self.gamma <= 0.5:
            raise VolSurfaceError(f"gamma must be in (0, 0.5]: {self.gamma}")
        if not 0.0 < self.eta * (1.0 + abs(self.rho)) <= 2.0:
            raise VolSurfaceError(f"need 0 < eta*(1+|rho|) <= 2 (no butterfly arb): {self}")
        if self.atm_vol_short >= 3.2 * self.atm_vol_long:
            raise VolSurfaceError(f"ATM backwardation too steep for theta(t) to rise: {self}")

    def atm_vol(self, t: ArrayLike) -> FloatArray:
        """Annualised ATM-forward vol at ``t`` years."""
        decay = np.exp(-np.asarray(t, dtype=np.float64) / self.term_years)
        return self.atm_vol_long + (self.atm_vol_short - self.atm_vol_long) * decay


class SsviSurface(_SurfaceReads):
    """A parametric SSVI surface: smooth in strike and time, arbitrage-free by construction."""

    def __init__(self, params: SsviParams) -> None:
        self.params = params

    def total_variance(self, t: ArrayLike, k: ArrayLike) -> FloatArray:
        """``sigma^2 t`` at ``t`` years and log-moneyness ``k`` (broadcast); 0 for t <= 0."""
        p = self.params
        tt, kk = np.broadcast_arrays(
            np.asarray(t, dtype=np.float64), np.asarray(k, dtype=np.float64)
        )
        live = tt > 0.0
        t_pos = np.where(live, tt, 1.0)
        theta = np.square(p.atm_vol(t_pos)) * t_pos
        phi = p.eta / (theta**p.gamma * (1.0 + theta) ** (1.0 - p.gamma))
        pk = phi * kk
        w = 0.5 * theta * (1.0 + p.rho * pk + np.sqrt((pk + p.rho) ** 2 + 1.0 - p.rho**2))
        return np.where(live, w, 0.0)


DEFAULT_SSVI: Mapping[str, SsviParams] = MappingProxyType(
    {
        # ATM ~50 % short-dated rising to ~58 %, mild put skew: a calm-market BTC surface.
        "BTC": SsviParams(
            atm_vol_short=0.50, atm_vol_long=0.58, term_years=0.25, rho=-0.10, eta=1.0
        ),
        # ETH trades ~15 vol points over BTC with a slightly steeper skew.
        "ETH": SsviParams(
            atm_vol_short=0.65, atm_vol_long=0.72, term_years=0.25, rho=-0.15, eta=1.0
        ),
    }
)
"""Default smiles until a fitted surface is configured; vols ~50-80 % across the wings."""


def default_surface(underlying: str) -> SsviSurface:
    """The default parametric surface for ``"BTC"`` or ``"ETH"`` (case-insensitive)."""
    try:
        return SsviSurface(DEFAULT_SSVI[underlying.upper()])
    except KeyError as exc:
        raise VolSurfaceError(
            f"no default surface for {underlying!r}; known: {sorted(DEFAULT_SSVI)}"
        ) from exc
