"""Vol surfaces: exact at knots, linear in total variance, no calendar or butterfly arbitrage."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from streams.marketdata.pricing import forward_from_spot
from streams.marketdata.volsurface import (
    DEFAULT_SSVI,
    MIN_T,
    Smile,
    SsviParams,
    SsviSurface,
    VolSource,
    VolSurface,
    VolSurfaceError,
    default_surface,
)

SHORT = Smile(7 / 365, (-0.2, 0.0, 0.15), (0.70, 0.50, 0.60))
LONG = Smile(90 / 365, (-0.3, 0.0, 0.3), (0.72, 0.58, 0.62))
TENORS = (1 / 365, 7 / 365, 30 / 365, 90 / 365, 180 / 365, 1.0)
K_GRID = np.linspace(-1.0, 1.0, 41)


def _surface() -> VolSurface:
    return VolSurface([LONG, SHORT])  # order of input does not matter


def test_exact_at_knots() -> None:
    surface = _surface()
    for smile in (SHORT, LONG):
        got = surface.vol(smile.t, np.array(smile.log_moneyness))
        assert got == pytest.approx(smile.vols, rel=1e-15)


def test_linear_in_total_variance_across_strikes_and_flat_beyond_the_wings() -> None:
    surface = _surface()
    t = SHORT.t
    w = surface.total_variance(t, [-0.2, -0.1, 0.0])
    assert w[1] == pytest.approx(0.5 * (w[0] + w[2]), rel=1e-14)
    assert surface.vol(t, [-5.0, 5.0]) == pytest.approx([0.70, 0.60], rel=1e-15)


def test_linear_in_total_variance_across_time_and_flat_vol_outside() -> None:
    surface = _surface()
    k = np.array([-0.25, 0.0, 0.1, 0.5])
    w_short, w_long = SHORT.total_variance(k), LONG.total_variance(k)
    a = 0.3
    t = (1 - a) * SHORT.t + a * LONG.t
    assert surface.total_variance(t, k) == pytest.approx((1 - a) * w_short + a * w_long, 1e-13)
    # Before the first expiry and after the last, the vol of the nearest smile.
    assert surface.vol(SHORT.t / 7, k) == pytest.approx(surface.vol(SHORT.t, k), rel=1e-14)
    assert surface.vol(2.0, k) == pytest.approx(surface.vol(LONG.t, k), rel=1e-14)
    # At or past expiry the vol stays finite (read at MIN_T).
    assert np.isfinite(surface.vol([0.0, -1.0], 0.0)).all()
    assert surface.total_variance(0.0, k).tolist() == [0.0] * 4


def test_single_smile_surface_is_flat_in_time() -> None:
    surface = VolSurface([SHORT])
    assert surface.vol([1 / 365, 1.0], 0.0) == pytest.approx([0.5, 0.5], rel=1e-15)


def test_vectorised_over_a_chain() -> None:
    rng = np.random.default_rng(3)
    t = rng.uniform(0.5 / 365, 1.5, 500)
    k = rng.uniform(-1.2, 1.2, 500)
    for surface in (_surface(), default_surface("BTC")):
        vols = surface.vol(t, k)
        assert vols.shape == (500,)
        assert np.array_equal(
            vols[:10], [float(surface.vol(ti, ki)) for ti, ki in zip(t[:10], k[:10], strict=True)]
        )


@pytest.mark.parametrize("underlying", ["BTC", "ETH"])
def test_total_variance_never_falls_with_time(underlying: str) -> None:
    ts = np.geomspace(MIN_T, 2.0, 400)[:, None]
    ssvi = default_surface(underlying)
    knots = VolSurface.from_source(ssvi, TENORS, K_GRID)
    for surface in (ssvi, knots):
        w = surface.total_variance(ts, K_GRID[None, :])
        assert (np.diff(w, axis=0) >= -1e-15).all()


@pytest.mark.parametrize("underlying", ["BTC", "ETH"])
def test_default_smiles_have_no_butterfly_arbitrage(underlying: str) -> None:
    # Durrleman's condition: the density implied by w(k) is non-negative iff
    # g(k) = (1 - k w'/(2w))^2 - w'^2/4 (1/w + 1/4) + w''/2 >= 0.
    surface = default_surface(underlying)
    k = np.linspace(-2.0, 2.0, 801)
    h = 1e-4
    for t in TENORS:
        w = surface.total_variance(t, k)
        w1 = (surface.total_variance(t, k + h) - surface.total_variance(t, k - h)) / (2 * h)
        w2 = (surface.total_variance(t, k + h) - 2 * w + surface.total_variance(t, k - h)) / h**2
        g = (1 - k * w1 / (2 * w)) ** 2 - w1**2 / 4 * (1 / w + 0.25) + w2 / 2
        assert g.min() > 0.0, t


@pytest.mark.parametrize("underlying", ["BTC", "ETH", "btc"])
def test_default_surfaces_have_crypto_sized_vols(underlying: str) -> None:
    surface = default_surface(underlying)
    atm = surface.vol(np.array(TENORS), 0.0)
    assert (atm > 0.45).all() and (atm < 0.80).all()
    wings = surface.vol(np.array(TENORS[2:])[:, None], np.array([-0.2, 0.2])[None, :])
    assert (wings > 0.45).all() and (wings < 0.90).all()
    # Put skew: 20 % OTM puts dearer than 20 % OTM calls at one month.
    assert surface.vol(30 / 365, -0.2) > surface.vol(30 / 365, 0.2)


def test_vol_from_spot_goes_through_the_forward() -> None:
    surface = default_surface("ETH")
    t, strikes = 30 / 365, np.array([2_500.0, 3_000.0, 3_500.0])
    direct = surface.vol_at_strike(t, strikes, forward_from_spot(3_000.0, t, 0.05, 0.01))
    assert surface.vol_from_spot(t, strikes, 3_000.0, 0.05, 0.01) == pytest.approx(direct, 1e-15)


def test_sources_satisfy_the_protocol() -> None:
    assert isinstance(_surface(), VolSource)
    assert isinstance(default_surface("BTC"), VolSource)


def test_calendar_arbitrage_is_refused_unless_asked_for() -> None:
    cheap_long = Smile(90 / 365, (0.0,), (0.10,))  # w(90d) < w(7d) at the money
    with pytest.raises(VolSurfaceError, match="calendar arbitrage"):
        VolSurface([SHORT, cheap_long])
    VolSurface([SHORT, cheap_long], allow_calendar_arbitrage=True)


@pytest.mark.parametrize(
    ("t", "ks", "vols"),
    [
        (0.0, (0.0,), (0.5,)),
        (0.1, (), ()),
        (0.1, (0.1, 0.0), (0.5, 0.5)),
        (0.1, (0.0, 0.1), (0.5,)),
        (0.1, (0.0,), (-0.5,)),
        (0.1, (0.0,), (float("nan"),)),
    ],
)
def test_bad_smiles_are_refused(t: float, ks: tuple[float, ...], vols: tuple[float, ...]) -> None:
    with pytest.raises(VolSurfaceError):
        Smile(t, ks, vols)


def test_duplicate_expiries_and_empty_surfaces_are_refused() -> None:
    with pytest.raises(VolSurfaceError):
        VolSurface([])
    with pytest.raises(VolSurfaceError):
        VolSurface([SHORT, Smile(SHORT.t, (0.0,), (0.9,))])


def test_from_mapping_accepts_years_or_expiries_and_log_moneyness_or_strikes() -> None:
    as_of = datetime(2025, 6, 1, 8, tzinfo=UTC)
    config = {
        "smiles": [
            {"t": 7 / 365, "log_moneyness": [-0.2, 0.0, 0.2], "vols": [0.7, 0.5, 0.6]},
            {
                "expiry": "2025-06-27T08:00:00Z",
                "forward": 65_000,
                "strikes": [60_000, 65_000, 70_000],
                "vols": [0.62, 0.55, 0.58],
            },
        ]
    }
    surface = VolSurface.from_mapping(config, as_of=as_of)
    assert [s.t for s in surface.smiles] == pytest.approx([7 / 365, 26 / 365])
    assert float(surface.vol_at_strike(26 / 365, 70_000.0, 65_000.0)) == pytest.approx(0.58)
    with pytest.raises(VolSurfaceError, match="as_of"):
        VolSurface.from_mapping(config)
    with pytest.raises(VolSurfaceError, match="smiles"):
        VolSurface.from_mapping({})
    with pytest.raises(VolSurfaceError, match="bad smile entry"):
        VolSurface.from_mapping({"smiles": [{"t": 0.1, "vols": [0.5]}]})


def test_ssvi_parameters_are_checked() -> None:
    base = DEFAULT_SSVI["BTC"]
    with pytest.raises(VolSurfaceError, match="butterfly"):
        SsviParams(base.atm_vol_short, base.atm_vol_long, base.term_years, rho=-0.5, eta=1.5)
    with pytest.raises(VolSurfaceError, match="rho"):
        SsviParams(0.5, 0.6, 0.25, rho=1.0, eta=1.0)
    with pytest.raises(VolSurfaceError, match="backwardation"):
        SsviParams(2.0, 0.5, 0.25, rho=0.0, eta=1.0)
    with pytest.raises(VolSurfaceError, match="default surface"):
        default_surface("SOL")
    atm = SsviSurface(base).vol(np.array([1e-3, 10.0]), 0.0)
    assert atm == pytest.approx([base.atm_vol(1e-3), base.atm_vol(10.0)], rel=1e-12)
