"""Black-76 maths: published values, parity, Greeks against finite differences, IV inversion."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.marketdata.pricing import (
    ArbitrageBoundsError,
    Greeks,
    PricingError,
    black76_greeks,
    black76_implied_vol,
    black76_implied_vol_scalar,
    black76_price,
    black76_scalar,
    erfc,
    erfc_cody,
    forward_from_spot,
    mark_to_decimal,
    marks_to_decimal,
    norm_cdf,
    time_to_expiry,
    year_fraction,
)

# --------------------------------------------------------------------------- normal law


def test_erfc_is_accurate_in_relative_terms_over_its_whole_range() -> None:
    x = np.linspace(-26.5, 26.5, 40_001)  # erfc(26.5) ~ 1e-307: the last normal doubles
    ref = np.array([math.erfc(v) for v in x])
    for got in (erfc(x), erfc_cody(x)):  # erfc dispatches to Cody for arrays this large
        assert np.max(np.abs(got - ref) / ref) < 2e-15


def test_erfc_small_arrays_and_scalars_agree_with_the_vectorised_path() -> None:
    x = np.linspace(-8.0, 8.0, 101)
    assert np.allclose(erfc(x), erfc_cody(x), rtol=4e-16 * 8, atol=0.0)
    assert erfc(0.3).shape == ()
    assert float(erfc(0.3)) == math.erfc(0.3)


def test_erfc_cody_special_values() -> None:
    got = erfc_cody(np.array([-np.inf, np.inf, 0.0, np.nan]))
    assert got[:3].tolist() == [2.0, 0.0, 1.0]
    assert math.isnan(got[3])


def test_norm_cdf_symmetry_and_lower_tail() -> None:
    x = np.linspace(-6, 6, 121)
    assert np.allclose(norm_cdf(x) + norm_cdf(-x), 1.0, rtol=0, atol=2e-16)
    # The lower tail keeps relative precision (what deep OTM prices need).
    assert float(norm_cdf(-10.0)) == pytest.approx(7.619853024160527e-24, rel=1e-14)
    assert float(norm_cdf(-37.0)) == pytest.approx(0.5 * math.erfc(37 / math.sqrt(2)), rel=1e-13)


# --------------------------------------------------------------------------- references

REFERENCE_PRICES = [
    # (source, F, K, T, r, sigma, is_call, expected, decimals)
    (
        "Haug, Complete Guide (2nd ed.), Black-76 example, call",
        19.0,
        19.0,
        0.75,
        0.10,
        0.28,
        True,
        1.7011,
        4,
    ),
    (
        "Haug, Complete Guide (2nd ed.), Black-76 example, put",
        19.0,
        19.0,
        0.75,
        0.10,
        0.28,
        False,
        1.7011,
        4,
    ),
    ("Hull OFOD, Black's model: futures put", 20.0, 20.0, 4 / 12, 0.09, 0.25, False, 1.12, 2),
]


@pytest.mark.parametrize(
    ("source", "f", "k", "t", "r", "sigma", "is_call", "expected", "decimals"),
    REFERENCE_PRICES,
    ids=[c[0] for c in REFERENCE_PRICES],
)
def test_published_black76_prices(
    source: str,
    f: float,
    k: float,
    t: float,
    r: float,
    sigma: float,
    is_call: bool,
    expected: float,
    decimals: int,
) -> None:
    assert round(black76_scalar(f, k, t, sigma, r, is_call).price, decimals) == expected
    assert round(float(black76_price(f, k, t, sigma, r, is_call)), decimals) == expected


def test_hull_black_scholes_example_through_the_forward() -> None:
    # Hull, OFOD, Example 15.6: S=42, K=40, r=10 %, sigma=20 %, T=0.5 -> c=4.76, p=0.81.
    f = float(forward_from_spot(42.0, 0.5, 0.10))
    assert round(black76_scalar(f, 40.0, 0.5, 0.20, 0.10, True).price, 2) == 4.76
    assert round(black76_scalar(f, 40.0, 0.5, 0.20, 0.10, False).price, 2) == 0.81


def test_haug_futures_option_delta() -> None:
    # Haug, Complete Guide (2nd ed.), delta example: F=105, K=100, T=0.5, r=10 %, b=0, sigma=36 %.
    assert round(black76_scalar(105.0, 100.0, 0.5, 0.36, 0.10, True).delta, 4) == 0.5946
    assert round(black76_scalar(105.0, 100.0, 0.5, 0.36, 0.10, False).delta, 4) == -0.3566


def test_haug_gamma_via_spot_conversion() -> None:
    # Haug, Complete Guide (2nd ed.), gamma example: S=55, K=60, T=0.75, r=b=10 %,
    # sigma=30 % -> spot gamma 0.0278.
    # Spot gamma = forward gamma * (dF/dS)^2 with dF/dS = e^{bT}.
    s, t, r = 55.0, 0.75, 0.10
    f = float(forward_from_spot(s, t, r))
    gamma_f = black76_scalar(f, 60.0, t, 0.30, r, True).gamma
    assert round(gamma_f * math.exp(2 * r * t), 4) == 0.0278


# --------------------------------------------------------------------------- identities

GRID_F = np.array([500.0, 3_000.0, 65_000.0])
GRID_K_OVER_F = np.array([0.3, 0.7, 0.95, 1.0, 1.05, 1.5, 3.0])
GRID_T = np.array([1 / 8760, 1 / 365, 30 / 365, 1.0, 3.0])
GRID_SIGMA = np.array([0.05, 0.3, 0.8, 2.0])
GRID_R = np.array([-0.01, 0.0, 0.08])


def _grid() -> tuple[np.ndarray, ...]:
    f, kf, t, s, r = np.meshgrid(GRID_F, GRID_K_OVER_F, GRID_T, GRID_SIGMA, GRID_R, indexing="ij")
    return f.ravel(), (f * kf).ravel(), t.ravel(), s.ravel(), r.ravel()


def test_put_call_parity_over_a_grid() -> None:
    f, k, t, sigma, r = _grid()
    call = black76_price(f, k, t, sigma, r, True)
    put = black76_price(f, k, t, sigma, r, False)
    parity = np.exp(-r * t) * (f - k)
    assert np.max(np.abs(call - put - parity) / np.maximum(f, k)) < 1e-13
    assert (call >= 0).all() and (put >= 0).all()


def test_vectorised_and_scalar_implementations_agree_on_a_chain() -> None:
    rng = np.random.default_rng(7)
    n = 500
    f = np.full(n, 65_000.0)
    k = f * np.exp(rng.uniform(-1.0, 1.0, n))
    t = rng.uniform(0.5 / 365, 2.0, n)
    sigma = rng.uniform(0.2, 1.5, n)
    is_call = rng.random(n) < 0.5
    chain = black76_greeks(f, k, t, sigma, 0.03, is_call)
    assert chain.price.shape == (n,)
    for i in range(n):
        one = black76_scalar(f[i], k[i], t[i], sigma[i], 0.03, bool(is_call[i]))
        for field in Greeks._fields:
            got, want = getattr(chain, field)[i], getattr(one, field)
            assert got == pytest.approx(want, rel=1e-11, abs=1e-12 * f[i]), field


def test_arguments_broadcast() -> None:
    strikes = np.array([[60_000.0], [70_000.0]])
    expiries = np.array([7 / 365, 30 / 365, 90 / 365])
    g = black76_greeks(65_000.0, strikes, expiries, 0.6, 0.0, True)
    assert g.price.shape == g.theta.shape == (2, 3)
    assert (np.diff(g.price, axis=1) > 0).all()  # longer expiry, dearer option


# --------------------------------------------------------------------------- Greeks


FD_CASES = [
    # F, K, T, sigma, r, is_call
    (65_000.0, 65_000.0, 30 / 365, 0.55, 0.05, True),
    (65_000.0, 80_000.0, 7 / 365, 0.70, 0.00, True),
    (65_000.0, 50_000.0, 90 / 365, 0.60, 0.03, False),
    (3_200.0, 2_500.0, 1.5, 0.75, 0.08, True),
    (3_200.0, 3_600.0, 2 / 365, 1.20, -0.01, False),
]


@pytest.mark.parametrize(("f", "k", "t", "sigma", "r", "is_call"), FD_CASES)
def test_greeks_match_finite_differences(
    f: float, k: float, t: float, sigma: float, r: float, is_call: bool
) -> None:
    g = black76_scalar(f, k, t, sigma, r, is_call)

    def v(ff: float = f, tt: float = t, ss: float = sigma) -> float:
        return black76_scalar(ff, k, tt, ss, r, is_call).price

    h = 1e-5 * f
    assert g.delta == pytest.approx((v(f + h) - v(f - h)) / (2 * h), rel=1e-6, abs=1e-10)
    h = 1e-3 * f
    fd_gamma = (v(f + h) - 2 * v() + v(f - h)) / (h * h)
    assert g.gamma == pytest.approx(fd_gamma, rel=1e-4)
    e = 1e-5
    fd_vega = (v(ss=sigma + e) - v(ss=sigma - e)) / (2 * e)
    assert g.vega == pytest.approx(fd_vega / 100.0, rel=1e-7)  # per vol point
    e = 1e-6 * t
    fd_theta = -(v(tt=t + e) - v(tt=t - e)) / (2 * e)
    assert g.theta == pytest.approx(fd_theta / 365.0, rel=1e-6)  # per calendar day


def test_greek_units_are_per_vol_point_and_per_day() -> None:
    f, k, t, sigma = 65_000.0, 66_000.0, 30 / 365, 0.55
    g = black76_scalar(f, k, t, sigma)
    bumped_vol = black76_scalar(f, k, t, sigma + 0.01).price - g.price
    one_day_later = black76_scalar(f, k, t - 1 / 365, sigma).price - g.price
    assert bumped_vol == pytest.approx(g.vega, rel=1e-2)
    assert one_day_later == pytest.approx(g.theta, rel=2e-2)
    assert g.theta < 0 < g.vega


def test_expired_and_zero_vol_options_are_worth_intrinsic() -> None:
    itm_call = black76_scalar(110.0, 100.0, 0.0, 0.5, 0.05, True)
    assert itm_call == Greeks(10.0, 1.0, 0.0, 0.0, 0.0)
    otm_put = black76_scalar(110.0, 100.0, -0.1, 0.5, 0.05, False)
    assert otm_put == Greeks(0.0, 0.0, 0.0, 0.0, 0.0)
    assert black76_scalar(100.0, 100.0, 0.0, 0.5, 0.0, True).delta == 0.5
    no_vol = black76_scalar(110.0, 100.0, 1.0, 0.0, 0.05, True)
    assert no_vol.price == pytest.approx(10.0 * math.exp(-0.05))
    assert no_vol.theta == pytest.approx(0.05 * no_vol.price / 365)
    chain = black76_greeks([110.0, 110.0, 110.0], 100.0, [0.0, -1.0, 0.5], [0.5, 0.5, 0.0], 0.05)
    scalar = [black76_scalar(110.0, 100.0, t, s, 0.05) for t, s in ((0, 0.5), (-1, 0.5), (0.5, 0))]
    for field in Greeks._fields:
        assert getattr(chain, field).tolist() == pytest.approx([getattr(g, field) for g in scalar])


@pytest.mark.parametrize(
    ("f", "k", "t", "sigma", "r"),
    [
        (0.0, 100.0, 1.0, 0.5, 0.0),
        (100.0, -1.0, 1.0, 0.5, 0.0),
        (100.0, 100.0, math.nan, 0.5, 0.0),
        (100.0, 100.0, 1.0, -0.1, 0.0),
        (100.0, 100.0, 1.0, 0.5, math.inf),
    ],
)
def test_invalid_inputs_raise(f: float, k: float, t: float, sigma: float, r: float) -> None:
    with pytest.raises(PricingError):
        black76_scalar(f, k, t, sigma, r)
    with pytest.raises(PricingError, match="first at flat index 1"):
        black76_price([100.0, f], [100.0, k], [1.0, t], [0.5, sigma], [0.0, r])


# --------------------------------------------------------------------------- implied vol


def test_implied_vol_of_haug_reference() -> None:
    price = black76_scalar(19.0, 19.0, 0.75, 0.28, 0.10).price
    assert black76_implied_vol_scalar(price, 19.0, 19.0, 0.75, 0.10) == pytest.approx(0.28, 1e-13)
    put = black76_implied_vol_scalar(price, 19.0, 19.0, 0.75, 0.10, is_call=False)
    assert put == pytest.approx(0.28, rel=1e-13)


def _otm_normalised(price, f, k, t, r, is_call):  # type: ignore[no-untyped-def]
    intrinsic = np.maximum(np.where(is_call, 1.0, -1.0) * (f - k), 0.0)
    return (price * np.exp(r * t) - intrinsic) / np.sqrt(f * k)


def test_implied_vol_round_trip_over_a_wide_grid_in_one_call() -> None:
    lm, sigma, t, is_call = np.meshgrid(
        np.linspace(-3.0, 3.0, 25),
        np.geomspace(0.05, 3.0, 10),
        np.geomspace(1 / 8760, 3.0, 8),
        [True, False],
        indexing="ij",
    )
    f = 65_000.0
    k = f * np.exp(lm)
    r = 0.04
    price = black76_price(f, k, t, sigma, r, is_call)
    iv = black76_implied_vol(price, f, k, t, r, is_call)
    assert np.isfinite(iv).all()
    # Whatever the option, the vol found reproduces the premium to float precision.
    repriced = black76_price(f, k, t, iv, r, is_call)
    assert np.max(np.abs(repriced - price)) < 1e-11 * f
    # Where the price carries the information (OTM side, not underflowed), the vol is exact.
    otm = np.where(is_call, k >= f, k <= f)
    informative = otm & (_otm_normalised(price, f, k, t, r, is_call) > 1e-250)
    assert informative.sum() > 1000
    assert np.max(np.abs(iv - sigma)[informative] / sigma[informative]) < 1e-10


@settings(max_examples=300, deadline=None)
@given(
    lm=st.floats(-2.5, 2.5),
    sigma=st.floats(0.05, 3.0),
    t=st.floats(1 / 8760, 3.0),
    r=st.floats(-0.02, 0.15),
    is_call=st.booleans(),
)
def test_implied_vol_round_trip_property(
    lm: float, sigma: float, t: float, r: float, is_call: bool
) -> None:
    f = 3_000.0
    k = f * math.exp(lm)
    price = black76_scalar(f, k, t, sigma, r, is_call).price
    iv = black76_implied_vol_scalar(price, f, k, t, r, is_call)
    assert iv >= 0.0
    assert black76_scalar(f, k, t, iv, r, is_call).price == pytest.approx(price, abs=1e-11 * f)
    otm = k >= f if is_call else k <= f
    if otm and _otm_normalised(price, f, k, t, r, is_call) > 1e-250:
        assert iv == pytest.approx(sigma, rel=1e-10)


def test_price_at_intrinsic_has_zero_vol() -> None:
    df = math.exp(-0.05)
    assert black76_implied_vol_scalar(df * 10.0, 110.0, 100.0, 1.0, 0.05, True) == 0.0
    assert black76_implied_vol_scalar(0.0, 110.0, 100.0, 1.0, 0.05, False) == 0.0


@pytest.mark.parametrize(
    ("price", "is_call", "why"),
    [
        (9.0, True, "below the intrinsic value of an ITM call"),
        (-0.01, False, "negative premium"),
        (110.0 * math.exp(-0.05), True, "call at the forward's present value"),
        (150.0, True, "call above the forward"),
        (100.0 * math.exp(-0.05), False, "put at the strike's present value"),
        (math.nan, True, "not a number"),
    ],
)
def test_prices_outside_no_arbitrage_bounds_raise(price: float, is_call: bool, why: str) -> None:
    with pytest.raises(ArbitrageBoundsError) as info:
        black76_implied_vol_scalar(price, 110.0, 100.0, 1.0, 0.05, is_call)
    err = info.value
    assert err.index == 0
    assert err.lower <= err.upper
    assert "no-arbitrage bounds" in str(err), why


def test_one_bad_quote_can_be_masked_instead_of_raising() -> None:
    f, k, t = 65_000.0, np.array([60_000.0, 65_000.0, 70_000.0]), 30 / 365
    price = black76_price(f, k, t, 0.6, 0.0, True)
    price[1] = 70_000.0  # a call dearer than the forward
    with pytest.raises(ArbitrageBoundsError) as info:
        black76_implied_vol(price, f, k, t)
    assert info.value.index == 1
    iv = black76_implied_vol(price, f, k, t, on_error="nan")
    assert math.isnan(iv[1])
    assert iv[[0, 2]] == pytest.approx([0.6, 0.6], rel=1e-12)


def test_implied_vol_needs_time_to_expiry() -> None:
    with pytest.raises(PricingError, match="t must be finite and > 0"):
        black76_implied_vol_scalar(1.0, 100.0, 100.0, 0.0)


# --------------------------------------------------------------------------- time, forward


def test_year_fraction_is_act_365() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    assert year_fraction(start, datetime(2026, 1, 1, tzinfo=UTC)) == 1.0
    leap = year_fraction(datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
    assert leap == 366 / 365
    assert year_fraction(start, start + timedelta(hours=8)) == pytest.approx(8 / 8760, 1e-15)
    cet = timezone(timedelta(hours=1))
    assert year_fraction(start, datetime(2025, 1, 2, 1, tzinfo=cet)) == pytest.approx(1 / 365)
    assert year_fraction(start + timedelta(days=1), start) == pytest.approx(-1 / 365)


def test_time_to_expiry_floors_at_zero_and_refuses_naive_datetimes() -> None:
    now = datetime(2025, 3, 28, 9, tzinfo=UTC)
    assert time_to_expiry(now, datetime(2025, 3, 28, 8, tzinfo=UTC)) == 0.0
    with pytest.raises(PricingError, match="timezone-aware"):
        time_to_expiry(now, datetime(2025, 3, 29))


def test_forward_from_spot() -> None:
    assert float(forward_from_spot(100.0, 1.0, 0.05, 0.02)) == pytest.approx(100 * math.exp(0.03))
    assert forward_from_spot([1.0, 2.0], 0.5).tolist() == [1.0, 2.0]


# --------------------------------------------------------------------------- Decimal boundary


@pytest.mark.parametrize(
    ("value", "tick", "expected"),
    [
        (1234.5678, "0.5", "1234.5"),
        (1234.75, "0.5", "1235.0"),  # 2469.5 ticks: half to even -> 2470
        (0.1 + 0.2, "0.01", "0.30"),
        (12.5, 5, "10"),  # 2.5 ticks -> 2
        (17.5, 5, "20"),  # 3.5 ticks -> 4
        (12.3, "0.10", "12.30"),
        (-0.015, "0.01", "-0.01"),  # the float is -0.01499999...: converted exactly
        (0.0001, Decimal("0.1"), "0.0"),
    ],
)
def test_mark_to_decimal_rounds_once_to_the_tick(
    value: float, tick: str | int | Decimal, expected: str
) -> None:
    got = mark_to_decimal(value, tick)
    assert isinstance(got, Decimal)
    assert str(got) == expected


def test_mark_to_decimal_rounding_mode_and_errors() -> None:
    assert mark_to_decimal(1234.75, "0.5", ROUND_HALF_UP) == Decimal("1235.0")
    assert mark_to_decimal(1234.25, "0.5", ROUND_HALF_UP) == Decimal("1234.5")
    assert mark_to_decimal(1234.25, "0.5") == Decimal("1234.0")
    with pytest.raises(TypeError):
        mark_to_decimal(1.0, 0.1)  # type: ignore[arg-type]
    for bad_tick in ("0", "-1", "abc", "NaN"):
        with pytest.raises(PricingError):
            mark_to_decimal(1.0, bad_tick)
    for bad_value in (math.nan, math.inf):
        with pytest.raises(PricingError):
            mark_to_decimal(bad_value, "0.1")


def test_marks_to_decimal_over_a_chain() -> None:
    prices = black76_price(65_000.0, [60_000.0, 65_000.0, 70_000.0], 30 / 365, 0.6)
    marks = marks_to_decimal(prices, "0.1")
    assert marks == [mark_to_decimal(p, "0.1") for p in prices.tolist()]
    assert all(m.as_tuple().exponent == -1 for m in marks)
