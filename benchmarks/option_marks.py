"""How many times per second can a 500-option chain be re-marked, vectorised vs per option?

Run: ``.venv/bin/python -m benchmarks.option_marks [--seconds 0.5] [--size 500]``.

The chain is BTC: 10 expiries from 1 day to 1 year, 25 strikes each spread by the
expiry's standard deviation, calls and puts (500 options). Every figure is the best of
five timed batches (the least disturbed by other processes), and the per-option scalar
baseline runs in the same process, so the ratio is meaningful even on a busy machine.
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from streams.marketdata.pricing import (
    _CODY_MIN_SIZE,
    black76_greeks,
    black76_implied_vol,
    black76_implied_vol_scalar,
    black76_scalar,
    erfc,
    erfc_cody,
    forward_from_spot,
    marks_to_decimal,
)
from streams.marketdata.volsurface import default_surface

__all__ = ["Chain", "build_chain", "main"]

EXPIRY_DAYS = (1, 2, 3, 7, 14, 30, 60, 90, 180, 365)
SPOT, RATE, CARRY = 65_000.0, 0.05, 0.0


@dataclass(frozen=True)
class Chain:
    """Flat arrays, one element per option, as the mark agent would hold them."""

    forward: np.ndarray
    strike: np.ndarray
    t: np.ndarray
    is_call: np.ndarray
    sigma: np.ndarray

    @property
    def size(self) -> int:
        return int(self.strike.size)


def build_chain(size: int = 500) -> Chain:
    """A BTC chain of ``size`` options (rounded to whole expiry x strike x call/put blocks)."""
    per_expiry = max(1, size // (2 * len(EXPIRY_DAYS)))
    t_list, k_list = [], []
    for days in EXPIRY_DAYS:
        t = days / 365.0
        f = float(forward_from_spot(SPOT, t, RATE, CARRY))
        sd = 0.6 * math.sqrt(t)
        lm = np.linspace(-2.5 * sd, 2.5 * sd, per_expiry)
        strikes = np.round(f * np.exp(lm) / 500.0) * 500.0  # listed strikes on a 500 grid
        t_list.append(np.full(2 * per_expiry, t))
        k_list.append(np.concatenate([strikes, strikes]))
    t = np.concatenate(t_list)
    strike = np.concatenate(k_list)
    is_call = np.tile(np.repeat([True, False], per_expiry), len(EXPIRY_DAYS))
    forward = forward_from_spot(SPOT, t, RATE, CARRY)
    sigma = default_surface("BTC").vol_at_strike(t, strike, forward)
    return Chain(forward, strike, t, is_call, sigma)


def best_seconds(fn: Callable[[], object], budget: float) -> float:
    """Best per-call time over five batches sized to fill ``budget`` seconds in total."""
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    loops = max(1, int(budget / 5 / once))
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter() - start) / loops)
    return best


def _row(name: str, seconds: float, options: int) -> None:
    print(
        f"  {name:<46} {seconds * 1e6:>11.1f} us/chain {1 / seconds:>9.1f} chains/s "
        f"{options / seconds:>12,.0f} options/s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=500, help="options in the chain")
    parser.add_argument("--seconds", type=float, default=0.5, help="time budget per figure")
    args = parser.parse_args(argv)

    chain = build_chain(args.size)
    n, budget = chain.size, args.seconds
    surface = default_surface("BTC")
    f, k, t, c, v = chain.forward, chain.strike, chain.t, chain.is_call, chain.sigma
    fl, kl, tl, cl, vl = (a.tolist() for a in (f, k, t, c, v))
    greeks = black76_greeks(f, k, t, v, RATE, c)
    prices = greeks.price
    pl = prices.tolist()

    print(f"StrikeFlow option marks benchmark: {n}-option BTC chain, {len(EXPIRY_DAYS)} expiries")
    print(f"  python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print()

    print("Marks + Greeks (price, delta, gamma, vega, theta) for the whole chain:")
    vec = best_seconds(lambda: black76_greeks(f, k, t, v, RATE, c), budget)
    _row("vectorised black76_greeks", vec, n)

    def scalar_loop() -> None:
        for i in range(n):
            black76_scalar(fl[i], kl[i], tl[i], vl[i], RATE, cl[i])

    scal = best_seconds(scalar_loop, budget)
    _row("scalar loop of black76_scalar (math module)", scal, n)

    def numpy_per_option() -> None:
        for i in range(n):
            black76_greeks(fl[i], kl[i], tl[i], vl[i], RATE, cl[i])

    per_opt = best_seconds(numpy_per_option, budget)
    _row("loop of black76_greeks, one option per call", per_opt, n)

    def full_remark() -> None:
        fwd = forward_from_spot(SPOT, t, RATE, CARRY)
        vol = surface.vol_at_strike(t, k, fwd)
        black76_greeks(fwd, k, t, vol, RATE, c)

    full = best_seconds(full_remark, budget)
    _row("vectorised re-mark: forward + surface + Greeks", full, n)
    print(
        f"  => vectorised is {scal / vec:.1f}x the scalar math loop, "
        f"{per_opt / vec:.0f}x numpy called per option"
    )
    print()

    print("Implied vols from the chain's premiums:")
    iv_vec = best_seconds(lambda: black76_implied_vol(prices, f, k, t, RATE, c), budget)
    _row("vectorised black76_implied_vol", iv_vec, n)

    def iv_loop() -> None:
        for i in range(n):
            black76_implied_vol_scalar(pl[i], fl[i], kl[i], tl[i], RATE, cl[i])

    iv_scal = best_seconds(iv_loop, budget)
    _row("loop of black76_implied_vol_scalar", iv_scal, n)
    worst = np.max(np.abs(black76_implied_vol(prices, f, k, t, RATE, c) - v) / v)
    print(f"  => {iv_scal / iv_vec:.1f}x; worst relative vol error on the chain {worst:.1e}")
    print()

    print("Money at the boundary (float marks -> Decimal on the tick):")
    for tick, path in (("0.1", "quantize"), ("0.5", "divide")):
        seconds = best_seconds(lambda tick=tick: marks_to_decimal(prices, tick), budget)
        _row(f"marks_to_decimal, tick {tick} ({path} path)", seconds, n)
    print()

    print(f"erfc on N values (libm below {_CODY_MIN_SIZE}, Cody-in-numpy from there):")
    pyfunc = np.frompyfunc(math.erfc, 1, 1)
    rng = np.random.default_rng(0)
    for size in (500, 1_000, 1_500, 5_000, 100_000):
        x = rng.normal(size=size) * 3.0
        libm = best_seconds(lambda x=x: np.fromiter(map(math.erfc, x.tolist()), float), budget)
        cody = best_seconds(lambda x=x: erfc_cody(x), budget)
        frompy = best_seconds(lambda x=x: pyfunc(x).astype(np.float64), budget)
        chosen = best_seconds(lambda x=x: erfc(x), budget)
        print(
            f"  N={size:>7,}: libm map {libm * 1e6:>9.1f} us  Cody numpy {cody * 1e6:>9.1f} us  "
            f"np.frompyfunc {frompy * 1e6:>9.1f} us  erfc() {chosen * 1e6:>9.1f} us"
        )


if __name__ == "__main__":
    main()
