"""Black-76 option maths for marks and Greeks: pure functions, floats inside, Decimal out.

Why Black-76 on the forward: every option on this venue is a European USDT-margined
option on BTC or ETH. Pricing on the forward keeps the two rates of a crypto pair (the
USDT rate ``r`` and the coin's borrow/staking yield ``q``) in one place -- the forward --
so a venue feed that quotes a forward (or a perpetual basis) and one that gives a spot
with rates both go through the same formula.

Conventions (all documented once, here):

- ``forward``, ``strike`` and prices are in USDT per one unit of the underlying coin.
- ``t`` is the time to expiry in years, ACT/365 (:func:`year_fraction`), and ``r`` the
  continuously compounded USDT rate: premiums are present values, discounted from expiry.
- ``sigma`` is the annualised lognormal volatility as a fraction (0.55 means 55 %).
- Greeks follow what crypto option venues publish:

  * ``delta`` = dV/dF, per one unit of the forward (a call is between 0 and ``e^{-rT}``).
    When the forward comes from spot, spot delta is ``delta * e^{(r-q)T}``.
  * ``gamma`` = d2V/dF2, per USDT of forward move.
  * ``vega`` = USDT change for a **+1 vol point** (sigma + 0.01), i.e. dV/dsigma / 100.
  * ``theta`` = USDT change over **one calendar day** with forward and vol held fixed,
    i.e. -dV/dT / 365 (negative for a bought option in almost every case).

- At or after expiry (``t <= 0``) an option is worth its intrinsic value and its Greeks
  are the zero-variance limits; the same holds for ``sigma == 0``.

The normal CDF goes through erfc, which numpy lacks. Two exact-to-an-ulp paths exist:
libm's ``math.erfc`` per element and W. J. Cody's rational Chebyshev approximation
(CALERF) vectorised in numpy. On chain-sized arrays (hundreds to a few thousand values)
numpy's fixed cost per call makes Cody's ~80 array operations slower than libm per
element, so :func:`erfc` picks by size; ``benchmarks/option_marks.py`` measures both.

Money is exact at the boundary: floats live only inside the maths, and
:func:`mark_to_decimal` turns a float mark into a ``Decimal`` on the instrument's tick.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ArbitrageBoundsError",
    "Greeks",
    "GreeksArray",
    "ImpliedVolNotConvergedError",
    "PricingError",
    "black76_greeks",
    "black76_implied_vol",
    "black76_implied_vol_scalar",
    "black76_price",
    "black76_scalar",
    "erfc",
    "erfc_cody",
    "forward_from_spot",
    "mark_to_decimal",
    "marks_to_decimal",
    "norm_cdf",
    "norm_pdf",
    "time_to_expiry",
    "year_fraction",
]

FloatArray = NDArray[np.float64]

DAYS_PER_YEAR = 365.0
"""ACT/365: a year is 365 days of 86 400 s, leap years included, as crypto venues count."""

_YEAR = timedelta(days=365)
_SQRT2 = math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT2PI = math.sqrt(2.0 * math.pi)
_LN_SQRT2PI = math.log(_SQRT2PI)
_BETA_ZERO = 1e-300
_EPS = float(np.finfo(np.float64).eps)


# --------------------------------------------------------------------------- errors


class PricingError(ValueError):
    """Base error of the pricing maths: inputs that no option price can be made from."""


class ArbitrageBoundsError(PricingError):
    """A price outside the no-arbitrage bounds, so no volatility reproduces it.

    A discounted call must satisfy ``df*max(F-K, 0) <= C < df*F`` and a put
    ``df*max(K-F, 0) <= P < df*K``. A quote outside is a bad quote, not a hard vol:
    the caller should dead-letter it rather than publish a made-up number.
    """

    def __init__(
        self, message: str, *, index: int, price: float, lower: float, upper: float
    ) -> None:
        super().__init__(message)
        self.index = index
        self.price = price
        self.lower = lower
        self.upper = upper


class ImpliedVolNotConvergedError(PricingError):
    """The safeguarded solver ran out of iterations (should not happen within bounds)."""


# --------------------------------------------------------------------------- normal law

# W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23
# (1969), coefficients as published in CALERF (SPECFUN, netlib, 1990 revision).
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)  # fmt: skip
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)  # fmt: skip
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)  # fmt: skip
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)  # fmt: skip
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)  # fmt: skip
_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)  # fmt: skip
_SQRPI = 5.6418958354775628695e-1  # 1/sqrt(pi)
_XBIG = 27.3  # erfc(x) is below the smallest subnormal double beyond this


def _exp_minus_square(y: FloatArray) -> FloatArray:
    """exp(-y*y) without the cancellation error of squaring first (Cody's split at 1/16)."""
    ysq = np.trunc(y * 16.0) / 16.0
    return np.exp(-ysq * ysq) * np.exp(-(y - ysq) * (y + ysq))


def erfc_cody(x: ArrayLike) -> FloatArray:
    """Complementary error function in pure numpy (Cody's CALERF, relative error ~1e-16).

    Per element it is the cheapest erfc numpy can do (three rational approximations,
    no Python per element), so it wins on large arrays; on chain-sized arrays its ~80
    numpy calls cost more than calling libm per element (see :func:`erfc`).
    """
    xa = np.asarray(x, dtype=np.float64)
    y = np.abs(xa)
    out = np.empty_like(y)

    small = y <= 0.46875
    tail = y > 4.0
    mid = ~(small | tail)

    if small.any():
        xs = xa[small]
        z = xs * xs
        num = _A[4] * z
        den = z
        for i in range(3):
            num = (num + _A[i]) * z
            den = (den + _B[i]) * z
        out[small] = 1.0 - xs * (num + _A[3]) / (den + _B[3])

    if mid.any():
        ym = y[mid]
        num = _C[8] * ym
        den = ym
        for i in range(7):
            num = (num + _C[i]) * ym
            den = (den + _D[i]) * ym
        res = (num + _C[7]) / (den + _D[7]) * _exp_minus_square(ym)
        out[mid] = np.where(xa[mid] < 0.0, 2.0 - res, res)

    if tail.any():
        yt = y[tail]
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            z = 1.0 / (yt * yt)
            num = _P[5] * z
            den = z
            for i in range(4):
                num = (num + _P[i]) * z
                den = (den + _Q[i]) * z
            res = (_SQRPI - z * (num + _P[4]) / (den + _Q[4])) / yt * _exp_minus_square(yt)
        res = np.where(yt >= _XBIG, 0.0, res)
        out[tail] = np.where(xa[tail] < 0.0, 2.0 - res, res)

    # NaN fails every comparison above and lands in `mid`, which propagates it.
    return out


_CODY_MIN_SIZE = 4096
"""Arrays at least this large go through :func:`erfc_cody`; smaller ones through libm.

Measured by ``benchmarks/option_marks.py`` (2-core build box, numpy 2.4): for 500 /
1 500 / 5 000 / 100 000 elements libm-per-element takes 43 / 125 / 437 / 11 300 us and
Cody-in-numpy 139 / 162 / 350 / 11 600 us -- numpy's fixed cost per call dominates
below a few thousand elements. Re-run the benchmark before moving this threshold.
"""


def _erfc_libm(xa: FloatArray) -> FloatArray:
    # fromiter(map(...)) avoids the object array that np.frompyfunc builds (~1.5x faster).
    flat = xa.ravel().tolist()
    return np.fromiter(map(math.erfc, flat), dtype=np.float64, count=len(flat)).reshape(xa.shape)


def erfc(x: ArrayLike) -> FloatArray:
    """Complementary error function, vectorised, relative error ~1e-16 over its range.

    erfc (not ``1 - erf``) because it keeps full *relative* precision in the lower tail,
    which deep out-of-the-money prices and the implied-vol solver depend on. Small arrays
    call libm's ``erfc`` per element, large ones :func:`erfc_cody`; the two agree to a few
    ulps, far below a price tick.
    """
    xa = np.asarray(x, dtype=np.float64)
    if xa.size < _CODY_MIN_SIZE:
        return _erfc_libm(xa)
    return erfc_cody(xa)


def norm_cdf(x: ArrayLike) -> FloatArray:
    """Standard normal CDF, vectorised, accurate in relative terms in the lower tail."""
    return 0.5 * erfc(np.asarray(x, dtype=np.float64) * (-1.0 / _SQRT2))


def norm_pdf(x: ArrayLike) -> FloatArray:
    """Standard normal density, vectorised."""
    xa = np.asarray(x, dtype=np.float64)
    return _INV_SQRT2PI * np.exp(-0.5 * xa * xa)


def _norm_cdf_scalar(x: float) -> float:
    return 0.5 * math.erfc(-x / _SQRT2)


# --------------------------------------------------------------------------- time, forward


def year_fraction(start: datetime, end: datetime) -> float:
    """ACT/365 year fraction from ``start`` to ``end`` (negative if ``end`` is earlier).

    Both datetimes must be timezone-aware: a naive datetime is ambiguous by hours, and an
    hour is ~1/8760 of a year -- a visible error on a 1-day option.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise PricingError("year_fraction needs timezone-aware (UTC) datetimes")
    return (end.astimezone(UTC) - start.astimezone(UTC)) / _YEAR


def time_to_expiry(now: datetime, expiry: datetime) -> float:
    """Years from ``now`` to ``expiry`` (ACT/365), floored at 0 so an expired option marks
    at intrinsic instead of raising."""
    return max(0.0, year_fraction(now, expiry))


def forward_from_spot(
    spot: ArrayLike, t: ArrayLike, r: ArrayLike = 0.0, q: ArrayLike = 0.0
) -> FloatArray:
    """Cost-of-carry forward ``S * exp((r - q) * t)``.

    ``r`` is the USDT rate and ``q`` the coin's yield (borrow rate, staking yield); both
    continuously compounded. Prefer a traded forward (future or perpetual basis) when the
    venue has one; this is the fallback for expiries without one.
    """
    s = np.asarray(spot, dtype=np.float64)
    tt = np.asarray(t, dtype=np.float64)
    return s * np.exp((np.asarray(r, dtype=np.float64) - np.asarray(q, dtype=np.float64)) * tt)


# --------------------------------------------------------------------------- Black-76


class GreeksArray(NamedTuple):
    """Price and Greeks of a chain, one array element per option (units: module docstring)."""

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray


class Greeks(NamedTuple):
    """Price and Greeks of one option (units: module docstring)."""

    price: float
    delta: float
    gamma: float
    vega: float
    theta: float


def _first_bad(bad: NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(bad.ravel())[0])


def _require(ok: NDArray[np.bool_], name: str, values: FloatArray) -> None:
    if not ok.all():
        bad = ~ok
        i = _first_bad(bad)
        raise PricingError(
            f"{name}: {int(bad.sum())} invalid value(s), first at flat index {i}: "
            f"{float(values.ravel()[i])!r}"
        )


def _prepare(
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike,
    is_call: ArrayLike,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, NDArray[np.bool_]]:
    f, k, tt, v, rr, c = np.broadcast_arrays(
        np.asarray(forward, dtype=np.float64),
        np.asarray(strike, dtype=np.float64),
        np.asarray(t, dtype=np.float64),
        np.asarray(sigma, dtype=np.float64),
        np.asarray(r, dtype=np.float64),
        np.asarray(is_call, dtype=np.bool_),
    )
    with np.errstate(invalid="ignore"):
        _require(np.isfinite(f) & (f > 0.0), "forward must be finite and > 0", f)
        _require(np.isfinite(k) & (k > 0.0), "strike must be finite and > 0", k)
        _require(np.isfinite(tt), "t must be finite", tt)
        _require(np.isfinite(v) & (v >= 0.0), "sigma must be finite and >= 0", v)
        _require(np.isfinite(rr), "r must be finite", rr)
    return f, k, tt, v, rr, c


def _black76(
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike,
    is_call: ArrayLike,
    *,
    greeks: bool,
) -> GreeksArray:
    f, k, tt, vol, rate, call = _prepare(forward, strike, t, sigma, r, is_call)
    w = np.where(call, 1.0, -1.0)
    tau = np.maximum(tt, 0.0)
    df = np.exp(-rate * tau)
    sqrt_t = np.sqrt(tau)
    sd = vol * sqrt_t
    live = sd > 0.0
    all_live = bool(live.all())
    safe_sd = sd if all_live else np.where(live, sd, 1.0)

    d1 = np.log(f / k) / safe_sd + 0.5 * safe_sd
    d2 = d1 - safe_sd
    # One erfc pass for both N(w*d1) and N(w*d2): half the numpy call overhead.
    n12 = norm_cdf(np.stack((w * d1, w * d2)))
    price = df * w * (f * n12[0] - k * n12[1])
    if not all_live:
        price = np.where(live, price, df * np.maximum(w * (f - k), 0.0))
    if not greeks:
        empty = np.empty(0)
        return GreeksArray(price, empty, empty, empty, empty)

    pdf1 = norm_pdf(d1)
    delta = df * w * n12[0]
    df_f_pdf = df * f * pdf1
    gamma = df_f_pdf / (f * f * safe_sd)
    vega_raw = df_f_pdf * sqrt_t
    safe_tau = tau if all_live else np.where(live, tau, 1.0)
    theta_year = rate * price - df_f_pdf * safe_sd / (2.0 * safe_tau)
    if not all_live:
        itm = np.where(w * (f - k) > 0.0, 1.0, np.where(f == k, 0.5, 0.0))
        delta = np.where(live, delta, df * w * itm)
        gamma = np.where(live, gamma, 0.0)
        vega_raw = np.where(live, vega_raw, 0.0)
        theta_year = np.where(live, theta_year, np.where(tau > 0.0, rate * price, 0.0))
    return GreeksArray(price, delta, gamma, vega_raw / 100.0, theta_year / DAYS_PER_YEAR)


def black76_price(
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike = 0.0,
    is_call: ArrayLike = True,
) -> FloatArray:
    """Discounted Black-76 premium, vectorised; arguments broadcast against each other.

    Returns an array of the broadcast shape (0-d for all-scalar input; use
    :func:`black76_scalar` for a plain float). Invalid inputs (forward/strike <= 0,
    sigma < 0, non-finite) raise :class:`PricingError` naming the first bad element:
    validating the quote is the caller's job, silently pricing garbage is not ours.
    """
    return _black76(forward, strike, t, sigma, r, is_call, greeks=False).price


def black76_greeks(
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike = 0.0,
    is_call: ArrayLike = True,
) -> GreeksArray:
    """Premium and Greeks of a whole chain in one vectorised pass.

    Units: delta per unit forward, gamma per USDT, vega per +1 vol point, theta per
    calendar day (see the module docstring). Computing them together shares d1, N(d1)
    and n(d1), which is most of the cost.
    """
    return _black76(forward, strike, t, sigma, r, is_call, greeks=True)


def black76_scalar(
    forward: float,
    strike: float,
    t: float,
    sigma: float,
    r: float = 0.0,
    is_call: bool = True,
) -> Greeks:
    """Premium and Greeks of one option with the ``math`` module (same units and limits).

    For a single quote this is ~20x faster than the numpy path (no array set-up), and as
    an independent implementation it cross-checks the vectorised one in the tests.
    """
    if not (math.isfinite(forward) and forward > 0.0):
        raise PricingError(f"forward must be finite and > 0: {forward!r}")
    if not (math.isfinite(strike) and strike > 0.0):
        raise PricingError(f"strike must be finite and > 0: {strike!r}")
    if not math.isfinite(t):
        raise PricingError(f"t must be finite: {t!r}")
    if not (math.isfinite(sigma) and sigma >= 0.0):
        raise PricingError(f"sigma must be finite and >= 0: {sigma!r}")
    if not math.isfinite(r):
        raise PricingError(f"r must be finite: {r!r}")
    w = 1.0 if is_call else -1.0
    tau = max(t, 0.0)
    df = math.exp(-r * tau)
    sqrt_t = math.sqrt(tau)
    sd = sigma * sqrt_t
    if sd <= 0.0:
        price = df * max(w * (forward - strike), 0.0)
        itm = 1.0 if w * (forward - strike) > 0.0 else (0.5 if forward == strike else 0.0)
        theta_year = r * price if tau > 0.0 else 0.0
        return Greeks(price, df * w * itm, 0.0, 0.0, theta_year / DAYS_PER_YEAR)
    d1 = math.log(forward / strike) / sd + 0.5 * sd
    d2 = d1 - sd
    n1 = _norm_cdf_scalar(w * d1)
    price = df * w * (forward * n1 - strike * _norm_cdf_scalar(w * d2))
    df_f_pdf = df * forward * _INV_SQRT2PI * math.exp(-0.5 * d1 * d1)
    return Greeks(
        price=price,
        delta=df * w * n1,
        gamma=df_f_pdf / (forward * forward * sd),
        vega=df_f_pdf * sqrt_t / 100.0,
        theta=(r * price - df_f_pdf * sd / (2.0 * tau)) / DAYS_PER_YEAR,
    )


# --------------------------------------------------------------------------- implied vol


def _normalised_branch(
    x: FloatArray, s: FloatArray, low: NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    """The normalised OTM call b(x, s) = C/sqrt(FK), x = ln(F/K) <= 0, s = sigma*sqrt(T).

    Returns ``(value, vega)`` where value is ``b`` where ``low`` and ``u - b`` elsewhere
    (u = e^{x/2} is the price bound as s -> inf), and vega = db/ds = e^{x/2} n(d1). Each
    is a sum or difference of lower-tail normal CDFs, so ``u - b`` keeps its precision
    near the bound (very high vol) where ``u - b`` computed as a difference would not.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        d1 = x / s + 0.5 * s
        d2 = d1 - s
        eh = np.exp(0.5 * x)
        n = norm_cdf(np.stack((np.where(low, d1, -d1), d2)))
        value = eh * n[0] + np.where(low, -1.0, 1.0) * n[1] / eh
        vega = eh * norm_pdf(d1)
    return value, vega


def black76_implied_vol(
    price: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    r: ArrayLike = 0.0,
    is_call: ArrayLike = True,
    *,
    on_error: Literal["raise", "nan"] = "raise",
    tol: float = 1e-13,
    max_iter: int = 100,
) -> FloatArray:
    """Black-76 implied volatility of discounted premiums, vectorised.

    Method: each quote is mapped by put-call parity to its out-of-the-money option (the
    intrinsic value carries no vol information and only costs precision), normalised by
    sqrt(FK) to b(x, s) with x = -|ln(F/K)| and s = sigma*sqrt(T), then solved for s by a
    Newton iteration safeguarded by a bisection bracket. b(x, .) has its inflection at
    s_c = sqrt(2|x|); below it Newton runs on 1/ln b (tame for deep OTM, where b is
    exponentially flat) from the small-s asymptote of b, above it on ln(u - b) (tame near
    the upper bound u, where vega vanishes) from s_c or the ATM approximation. Three to
    eight iterations reach ``tol`` (relative, on s) from 1-hour to multi-year expiries.

    Precision: for out-of-the-money quotes the vol is recovered to ~1e-12 relative. For
    deep in-the-money quotes the OTM twin's premium is ``price - intrinsic``, which keeps
    only the digits the float price had beyond its intrinsic value; the vol then
    reproduces the price to float precision but may differ from the vol that made it.

    A price at intrinsic (or within 1e-300 * sqrt(FK) of it) gives vol 0. A price outside
    the no-arbitrage bounds raises :class:`ArbitrageBoundsError` (``on_error="raise"``)
    or yields NaN for that element (``on_error="nan"``), so one bad quote need not sink a
    500-option chain.
    Structural input errors (forward, strike <= 0, t <= 0) always raise.
    """
    if on_error not in ("raise", "nan"):
        raise ValueError(f"on_error must be 'raise' or 'nan', not {on_error!r}")
    p, f, k, tt, rate, call = np.broadcast_arrays(
        np.asarray(price, dtype=np.float64),
        np.asarray(forward, dtype=np.float64),
        np.asarray(strike, dtype=np.float64),
        np.asarray(t, dtype=np.float64),
        np.asarray(r, dtype=np.float64),
        np.asarray(is_call, dtype=np.bool_),
    )
    shape = p.shape
    p, f, k, tt, rate, call = (a.ravel() for a in (p, f, k, tt, rate, call))
    with np.errstate(invalid="ignore"):
        _require(np.isfinite(f) & (f > 0.0), "forward must be finite and > 0", f)
        _require(np.isfinite(k) & (k > 0.0), "strike must be finite and > 0", k)
        _require(np.isfinite(tt) & (tt > 0.0), "t must be finite and > 0 to imply a vol", tt)
        _require(np.isfinite(rate), "r must be finite", rate)

    df = np.exp(-rate * tt)
    w = np.where(call, 1.0, -1.0)
    intrinsic = np.maximum(w * (f - k), 0.0)
    upper = np.where(call, f, k)
    undiscounted = p / df
    otm = undiscounted - intrinsic  # put-call parity: the OTM twin's premium
    root_fk = np.sqrt(f * k)
    x = -np.abs(np.log(f / k))
    u = np.exp(0.5 * x)
    beta = otm / root_fk
    # Rounding in df and in F-K can push a premium quoted exactly at intrinsic a few ulps
    # below it; that is intrinsic, not an arbitrage.
    slack = 8.0 * _EPS * np.maximum(f, k)

    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(p) | (otm < -slack) | (undiscounted >= upper) | (beta >= u)
    if bad.any() and on_error == "raise":
        i = _first_bad(bad)
        kind = "call" if call[i] else "put"
        raise ArbitrageBoundsError(
            f"{kind} price {float(p[i])!r} (F={float(f[i])!r}, K={float(k[i])!r}, "
            f"T={float(tt[i])!r}) is outside the no-arbitrage bounds "
            f"[{float(df[i] * intrinsic[i])!r}, {float(df[i] * upper[i])!r}): "
            "no volatility reproduces it",
            index=i,
            price=float(p[i]),
            lower=float(df[i] * intrinsic[i]),
            upper=float(df[i] * upper[i]),
        )
    # A premium below ~1e-300 of the forward is zero in every unit anyone trades in, and
    # its logarithm is too coarse for the solver: treat it as intrinsic (vol 0).
    zero = ~bad & (beta <= _BETA_ZERO)
    solve = ~bad & ~zero

    s = np.zeros_like(p)
    s[bad] = np.nan
    act = np.flatnonzero(solve)
    if act.size:
        s_found = _solve_normalised(x[act], beta[act], u[act] - beta[act], tol, max_iter)
        if np.isnan(s_found).any() and on_error == "raise":
            i = int(act[np.flatnonzero(np.isnan(s_found))[0]])
            raise ImpliedVolNotConvergedError(
                f"implied vol did not converge in {max_iter} iterations for price "
                f"{float(p[i])!r} (F={float(f[i])!r}, K={float(k[i])!r}, T={float(tt[i])!r})"
            )
        s[act] = s_found
    return (s / np.sqrt(tt)).reshape(shape)


def _low_branch_guess(x: FloatArray, beta: FloatArray, s_c: FloatArray) -> FloatArray:
    """Start for roots below the inflection point, from the small-s asymptote of b.

    With N(d) ~ n(d)/|d| for d -> -inf, b(x, s) ~ s^3/(x^2 sqrt(2 pi))
    * exp(-x^2/(2 s^2) - s^2/8); three fixed-point steps on that give a start within a
    few per cent for deep OTM / short expiries, where starting at s_c costs a Newton step
    per halving of the distance. Clipped to (0, s_c]; only used where beta < b(x, s_c).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ax = -x
        log_beta = np.log(beta)
        s = ax / np.sqrt(-2.0 * log_beta)
        for _ in range(3):
            q = 3.0 * np.log(s) - 2.0 * np.log(ax) - _LN_SQRT2PI - 0.125 * s * s - log_beta
            s = np.where(q > 0.0, ax / np.sqrt(2.0 * q), s)
        good = np.isfinite(s) & (s > 0.0) & (s < s_c)
    return np.where(good, s, s_c)


def _solve_normalised(
    x: FloatArray, beta: FloatArray, u_minus_beta: FloatArray, tol: float, max_iter: int
) -> FloatArray:
    """Solve b(x, s) = beta for s (x <= 0, 0 < beta < e^{x/2}); NaN where not converged."""
    s_c = np.sqrt(-2.0 * x)
    # At the inflection point d1 = 0, so b(x, s_c) = e^{x/2}/2 - e^{-x/2} N(-s_c).
    eh = np.exp(0.5 * x)
    b_c = 0.5 * eh - norm_cdf(-s_c) / eh
    low = beta < b_c  # the root lies below the inflection point
    # Lower bound for the root above it: b(x, s) <= b(0, s) <= s / sqrt(2 pi).
    s = np.where(low, _low_branch_guess(x, beta, s_c), np.maximum(s_c, beta * _SQRT2PI))
    lo = np.where(low, 0.0, s_c)
    hi = np.where(low, s_c, np.inf)
    # Newton runs on 1/ln b below the inflection and on ln(u - b) above it (the choice of
    # Jaeckel, "By Implication", 2006): both are decreasing in s and nearly quadratic or
    # linear, where b itself is exponentially flat at either end.
    with np.errstate(divide="ignore"):  # 1/ln(beta) is only used where beta < b_c < 1/2
        inv_log_beta = 1.0 / np.log(beta)
    log_u_minus_beta = np.log(u_minus_beta)
    result = np.full_like(beta, np.nan)

    act = np.arange(beta.size)
    newton_budget = max_iter // 2  # then pure bisection: noise cannot keep Newton cycling
    for iteration in range(max_iter):
        if act.size == 0:
            break
        sa, lo_a, hi_a, low_a = s[act], lo[act], hi[act], low[act]
        value, vega = _normalised_branch(x[act], sa, low_a)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_value = np.log(value)
            f_val = np.where(
                low_a, 1.0 / log_value - inv_log_beta[act], log_value - log_u_minus_beta[act]
            )
            f_der = np.where(low_a, vega / (value * log_value * log_value), vega / value)
            above = f_val < 0.0  # b(s) > beta: the root is below s
            hi_a = np.where(above, sa, hi_a)
            lo_a = np.where(above, lo_a, sa)
            s_newton = sa + f_val / f_der  # f' = -f_der
            converged = (f_val == 0.0) | (np.abs(s_newton - sa) <= tol * sa)
            inside = np.isfinite(s_newton) & (s_newton > lo_a) & (s_newton < hi_a)
            if iteration >= newton_budget:
                inside &= False
                converged &= f_val == 0.0
            fallback = np.where(np.isfinite(hi_a), 0.5 * (lo_a + hi_a), 2.0 * sa)
            s_new = np.where(inside | converged, s_newton, fallback)
            collapsed = np.isfinite(hi_a) & (hi_a - lo_a <= tol * hi_a)
            done = converged | collapsed
        s[act], lo[act], hi[act] = s_new, lo_a, hi_a
        result[act[done]] = s_new[done]
        act = act[~done]
    return result


def black76_implied_vol_scalar(
    price: float,
    forward: float,
    strike: float,
    t: float,
    r: float = 0.0,
    is_call: bool = True,
) -> float:
    """Implied vol of one quote as a float; raises :class:`ArbitrageBoundsError` if none.

    A thin wrapper over the vectorised solver (~0.5 ms a call, all numpy overhead): fine
    for a single quote, but batch a chain's quotes into :func:`black76_implied_vol`,
    which solves 500 of them in about the time of three single calls.
    """
    return float(black76_implied_vol(price, forward, strike, t, r, is_call, on_error="raise"))


# --------------------------------------------------------------------------- Decimal boundary


def _as_tick(tick: Decimal | str | int) -> Decimal:
    if isinstance(tick, float | bool):
        raise TypeError("tick must be a Decimal, str or int: a float tick is already inexact")
    try:
        d = Decimal(tick)
    except InvalidOperation as exc:
        raise PricingError(f"tick is not a number: {tick!r}") from exc
    if not d.is_finite() or d <= 0:
        raise PricingError(f"tick must be a finite positive number: {tick!r}")
    return d


def _round_to_tick(values: list[float], tick: Decimal, rounding: str) -> list[Decimal]:
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise PricingError(f"cannot turn a non-finite mark into money: {bad[0]!r}")
    with localcontext() as ctx:
        # Decimal(float) is exact (a double has at most ~770 significant digits, ~50 for
        # prices); give the arithmetic room so the only rounding is the one we ask for.
        ctx.prec = 80
        ctx.rounding = rounding
        try:
            if tick.as_tuple().digits == (1,):  # 0.01, 1, 1E+1: one quantize, ~2x faster
                return [Decimal(v).quantize(tick) for v in values]
            return [(Decimal(v) / tick).to_integral_value() * tick for v in values]
        except InvalidOperation as exc:  # more than 80 digits of ticks: not a price
            raise PricingError(f"a mark is out of range for tick {tick}: {values}") from exc


def mark_to_decimal(
    value: float, tick: Decimal | str | int, rounding: str = ROUND_HALF_EVEN
) -> Decimal:
    """Round a float mark to a whole number of ``tick`` and return it as an exact Decimal.

    This is the one place a float becomes money. The float is converted exactly (no
    ``str()`` detour), divided by the tick and rounded once with ``rounding`` (banker's
    rounding by default, so a chain of marks carries no systematic bias); the result has
    the tick's exponent, e.g. ``mark_to_decimal(1234.5678, "0.5") == Decimal("1234.5")``.
    """
    return _round_to_tick([float(value)], _as_tick(tick), rounding)[0]


def marks_to_decimal(
    values: ArrayLike | Iterable[float],
    tick: Decimal | str | int,
    rounding: str = ROUND_HALF_EVEN,
) -> list[Decimal]:
    """:func:`mark_to_decimal` over a chain (flattened, in order), in one decimal context."""
    d_tick = _as_tick(tick)
    return _round_to_tick(np.asarray(values, dtype=np.float64).ravel().tolist(), d_tick, rounding)
