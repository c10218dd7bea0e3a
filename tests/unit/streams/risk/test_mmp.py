"""Market-maker protection: each limit trips exactly when reached, the window slides, a freeze
ends (or holds until reset), one breach per freeze; and against a brute-force recount of the
window over random fills, with the stored record read back at every step."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.risk.mmp import MAX_WINDOW_FILLS, MmpBreach, MmpConfig, MmpError, MmpState

D = Decimal


def cfg(interval: int = 1000, frozen: int = 500, qty: str | None = None,
        delta: str | None = None, vega: str | None = None) -> MmpConfig:
    return MmpConfig(interval, frozen, None if qty is None else D(qty),
                     None if delta is None else D(delta), None if vega is None else D(vega))


# -- scenarios ------------------------------------------------------------------------------
# steps: fill(...) with ``expect`` None or (reason, value, limit, frozen_until_ms);
# ("frozen", now_ms, bool) and ("frozen_on", underlying, now_ms, bool); ("reset",) of BTC.
# After every step the state is stored and read back.
Step = tuple[Any, ...]


@dataclass
class Case:
    config: MmpConfig
    steps: list[Step]
    max_fills: int = MAX_WINDOW_FILLS
    extra: dict[str, MmpConfig] = field(default_factory=dict)


def fill(ts: int, side: str, qty: str, delta: str = "0", vega: str = "0",
         expect: tuple[str, str, str, int | None] | None = None,
         underlying: str = "BTC") -> Step:
    return ("fill", underlying, ts, side, qty, delta, vega, expect)


CASES: dict[str, Case] = {
    "qty trips exactly at the limit": Case(cfg(qty="10"), [
        fill(0, "buy", "4"), fill(1, "sell", "5.999"),
        fill(2, "buy", "0.001", expect=("qty", "10", "10", 502))]),
    "qty just below the limit does not trip": Case(cfg(qty="10"), [
        fill(0, "buy", "4"), fill(1, "sell", "5.999"), ("frozen", 1, False)]),
    "delta trips exactly at the limit": Case(cfg(delta="5"), [
        fill(0, "buy", "10", delta="0.3"),
        fill(1, "buy", "4", delta="0.5", expect=("delta", "5", "5", 501))]),
    "delta of sells trips on its absolute value": Case(cfg(delta="5"), [
        fill(0, "sell", "10", delta="0.25"),
        fill(1, "sell", "5", delta="0.5", expect=("delta", "5", "5", 501))]),
    "opposite deltas net out": Case(cfg(delta="5"), [
        fill(0, "buy", "10", delta="0.45"), fill(1, "sell", "10", delta="0.45"),
        fill(2, "buy", "10", delta="0.4999"), ("frozen", 2, False)]),
    "put deltas are negative: a buy of puts counts against a buy of calls": Case(
        cfg(delta="5"), [fill(0, "buy", "10", delta="0.45"), fill(1, "buy", "10", delta="-0.45"),
                         fill(2, "buy", "10", delta="0.4999"), ("frozen", 2, False)]),
    "vega trips exactly at the limit": Case(cfg(vega="100", frozen=0), [
        fill(0, "sell", "2", vega="30"), fill(1, "sell", "1", vega="39.99"),
        fill(2, "sell", "1", vega="0.01", expect=("vega", "100", "100", None))]),
    "qty is checked before delta": Case(cfg(qty="1", delta="0.5"), [
        fill(0, "buy", "1", delta="0.5", expect=("qty", "1", "1", 500))]),
    "the window slides: a fill older than interval is dropped": Case(cfg(qty="10"), [
        fill(0, "buy", "6"), fill(1001, "buy", "4"), ("frozen", 1001, False)]),
    "the window slides: a fill exactly interval old still counts": Case(cfg(qty="10"), [
        fill(0, "buy", "6"), fill(1000, "buy", "4", expect=("qty", "10", "10", 1500))]),
    "the freeze ends at frozen_until and counting starts afresh": Case(cfg(qty="10"), [
        fill(100, "buy", "10", expect=("qty", "10", "10", 600)),
        ("frozen", 100, True), ("frozen", 599, True), ("frozen", 600, False),
        fill(300, "buy", "10"),  # inside the freeze: not counted, no second breach
        fill(600, "buy", "9"), ("frozen", 600, False),
        fill(601, "buy", "1", expect=("qty", "10", "10", 1101))]),
    "a late fill stamped inside an ended freeze never counts": Case(cfg(qty="10"), [
        fill(100, "buy", "10", expect=("qty", "10", "10", 600)),
        fill(700, "buy", "5"), fill(550, "buy", "5"), ("frozen", 700, False),
        fill(701, "buy", "5", expect=("qty", "10", "10", 1201))]),
    "frozen_ms=0 holds until reset": Case(cfg(qty="10", frozen=0), [
        fill(0, "buy", "10", expect=("qty", "10", "10", None)),
        ("frozen", 10**12, True), fill(10**9, "buy", "50"), ("frozen", 10**12, True),
        ("reset",), ("frozen", 10**12, False),
        fill(10**9 + 1, "buy", "10", expect=("qty", "10", "10", None))]),
    "a second breach while frozen is not reported": Case(cfg(qty="10", delta="1"), [
        fill(0, "buy", "10", expect=("qty", "10", "10", 500)),
        fill(1, "buy", "100", delta="1"), fill(2, "sell", "100", vega="1"),
        fill(499, "buy", "1000"), ("frozen", 499, True)]),
    "reset clears the window": Case(cfg(qty="10"), [
        fill(0, "buy", "9"), ("reset",), fill(1, "buy", "1"), fill(2, "buy", "8.999"),
        ("frozen", 2, False), fill(3, "buy", "0.001", expect=("qty", "10", "10", 503))]),
    "reset also forgets a late fill from before it": Case(cfg(qty="10"), [
        fill(10, "buy", "9"), ("reset",), fill(5, "buy", "10"), ("frozen", 10, False)]),
    "an unconfigured underlying is ignored": Case(cfg(qty="10"), [
        fill(0, "buy", "100", underlying="ETH"), ("frozen_on", "ETH", 0, False),
        fill(1, "buy", "9"), ("frozen", 1, False)]),
    "underlyings are counted apart": Case(cfg(qty="10"), [
        fill(0, "buy", "9"), fill(1, "buy", "9", underlying="ETH"),
        fill(2, "buy", "1", expect=("qty", "10", "10", 502)),
        ("frozen_on", "ETH", 2, False)], extra={"ETH": cfg(qty="10")}),
    "a late fill inside the window counts": Case(cfg(qty="10"), [
        fill(1000, "buy", "6"), fill(10, "buy", "4", expect=("qty", "10", "10", 1500))]),
    "a late fill older than the window is dropped, without a crash": Case(cfg(qty="10"), [
        fill(2000, "buy", "6"), fill(999, "buy", "4"), ("frozen", 2000, False),
        fill(2001, "buy", "3.999"), ("frozen", 2001, False)]),
    "the window keeps only the newest max_fills fills": Case(cfg(qty="4"), [
        fill(0, "buy", "1"), fill(1, "buy", "1"), fill(2, "buy", "1"),
        fill(3, "buy", "1"), ("frozen", 3, False)], max_fills=3),
}


@pytest.mark.parametrize("name", list(CASES))
def test_scenario(name: str) -> None:
    case = CASES[name]
    state = MmpState("mm-1", case.max_fills)
    state.configure("BTC", case.config)
    for underlying, extra in case.extra.items():
        state.configure(underlying, extra)
    for step in case.steps:
        if step[0] == "fill":
            _, underlying, ts, side, qty, delta, vega, expect = step
            got = state.on_fill(underlying, ts, side, D(qty), D(delta), D(vega))
            if expect is None:
                assert got is None, step
            else:
                reason, value, limit, until = expect
                assert got is not None, step
                assert (got.underlying, got.reason, got.value, got.limit,
                        got.frozen_until_ms) == (underlying, reason, D(value), D(limit), until)
                assert state.is_frozen(underlying, got.at_ms)
                assert state.totals(underlying) == (0, 0, 0, 0)  # emptied when frozen
        elif step[0] == "frozen":
            assert state.is_frozen("BTC", step[1]) is step[2], step
        elif step[0] == "frozen_on":
            assert state.is_frozen(step[1], step[2]) is step[3], step
        elif step[0] == "reset":
            state.reset("BTC")
        restored = MmpState.from_record(json.loads(json.dumps(state.to_record())),
                                        max_fills=case.max_fills)
        assert restored == state


@pytest.mark.parametrize(("args", "message"), [
    ((0, 0, D(1)), "interval_ms"),
    ((-5, 0, D(1)), "interval_ms"),
    ((1.5, 0, D(1)), "interval_ms"),
    ((True, 0, D(1)), "interval_ms"),
    ((1000, -1, D(1)), "frozen_ms"),
    ((1000, 0.0, D(1)), "frozen_ms"),
    ((1000, 0), "at least one"),
    ((1000, 0, None, None, None), "at least one"),
    ((1000, 0, D(0)), "qty_limit"),
    ((1000, 0, D(-1)), "qty_limit"),
    ((1000, 0, None, D("NaN")), "delta_limit"),
    ((1000, 0, None, D("Infinity")), "delta_limit"),
    ((1000, 0, None, None, 1.5), "vega_limit"),
    ((1000, 0, None, None, 2), "vega_limit"),
])
def test_invalid_config_is_refused(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(MmpError, match=message):
        MmpConfig(*args)


@pytest.mark.parametrize(("args", "message"), [
    (("BTC", 0, "hold", D(1), D(0), D(0)), "side"),
    (("BTC", 0, "buy", D(0), D(0), D(0)), "qty"),
    (("BTC", 0, "buy", D(-1), D(0), D(0)), "qty"),
    (("BTC", 0, "buy", 1.0, D(0), D(0)), "qty"),
    (("BTC", 0, "buy", D(1), D("NaN"), D(0)), "delta_per_unit"),
    (("BTC", 0, "buy", D(1), D(0), 0.5), "vega_per_unit"),
    (("BTC", 1.0, "buy", D(1), D(0), D(0)), "ts_ms"),
])
def test_invalid_fill_is_refused_and_changes_nothing(args: tuple[Any, ...],
                                                     message: str) -> None:
    state = MmpState("mm-1")
    state.configure("BTC", cfg(qty="1"))
    before = state.to_record()
    with pytest.raises(MmpError, match=message):
        state.on_fill(*args)
    assert state.to_record() == before


def test_configure_remove_and_reconfigure() -> None:
    state = MmpState("mm-1")
    with pytest.raises(MmpError):
        state.configure("", cfg(qty="1"))
    state.configure("BTC", cfg(qty="10", frozen=0))
    assert dict(state.configs) == {"BTC": cfg(qty="10", frozen=0)}
    state.on_fill("BTC", 0, "buy", D(9), D(0), D(0))
    state.configure("BTC", cfg(qty="10", frozen=0))  # a new config restarts the window
    assert state.on_fill("BTC", 1, "buy", D(9), D(0), D(0)) is None
    assert state.on_fill("BTC", 2, "buy", D(1), D(0), D(0)) is not None
    state.configure("BTC", cfg(qty="1000"))  # ... but does not unfreeze
    assert state.is_frozen("BTC", 10**15)
    assert state.remove("BTC") and not state.remove("BTC")
    assert not state.is_frozen("BTC", 0) and state.totals("BTC") is None
    assert state.on_fill("BTC", 3, "buy", D(10**6), D(0), D(0)) is None
    with pytest.raises(MmpError):
        MmpState("mm-1", max_fills=0)


def test_decimal_sums_are_exact_beyond_28_digits() -> None:
    state = MmpState("mm-1")
    state.configure("BTC", cfg(interval=10, delta="1"))
    # 0.9 + (0.1 - 1e-30) is 1 - 1e-30: below the limit, but 1 when rounded to 28 digits
    state.on_fill("BTC", 0, "buy", D(1), D("0.9"), D(0))
    state.on_fill("BTC", 1, "buy", D(1), D("0.099999999999999999999999999999"), D(0))
    assert state.is_frozen("BTC", 1) is False
    state.on_fill("BTC", 20, "buy", D(1), D(0), D(0))  # both slide out
    assert state.totals("BTC") == (1, 0, 0, 1)


# -- properties against a brute-force recount -----------------------------------------------
@dataclass
class Oracle:
    """The rules recounted from scratch: every fill kept since the last clear, the window
    selected anew each time (newest ``max_fills`` by time then arrival)."""

    config: MmpConfig
    max_fills: int
    fills: list[tuple[int, int, Decimal, Decimal, Decimal]] = field(default_factory=list)
    now: int | None = None
    floor: int | None = None
    frozen: bool = False
    until: int | None = None
    seq: int = 0

    def clear(self) -> None:
        self.fills = []
        self.floor = self.now

    def fill(self, ts: int, side: str, q: Decimal, d: Decimal, v: Decimal
             ) -> tuple[str, Decimal, Decimal, int | None, int] | None:
        self.now = ts if self.now is None else max(self.now, ts)
        if self.frozen:
            if self.until is None or self.now < self.until:
                return None
            self.frozen, self.floor = False, self.until
        sign = 1 if side == "buy" else -1
        self.seq += 1
        self.fills.append((ts, self.seq, q, sign * q * d, sign * q * v))
        lo = self.now - self.config.interval_ms
        if self.floor is not None:
            lo = max(lo, self.floor)
        window = sorted(f for f in self.fills if f[0] >= lo)[-self.max_fills:]
        qty = sum((f[2] for f in window), D(0))
        delta = abs(sum((f[3] for f in window), D(0)))
        vega = abs(sum((f[4] for f in window), D(0)))
        c = self.config
        for reason, value, limit in (("qty", qty, c.qty_limit), ("delta", delta, c.delta_limit),
                                     ("vega", vega, c.vega_limit)):
            if limit is not None and value >= limit:
                self.frozen = True
                self.until = self.now + c.frozen_ms if c.frozen_ms else None
                self.clear()
                return reason, value, limit, self.until, self.now
        return None

    def reset(self) -> None:
        self.frozen, self.until = False, None
        self.clear()


small = st.integers(1, 16).map(lambda n: D(n) / 4)
limits = st.tuples(st.none() | small, st.none() | small, st.none() | small).filter(
    lambda three: three != (None, None, None))
configs = st.builds(lambda interval, frozen, three: MmpConfig(interval, frozen, *three),
                    st.integers(1, 300), st.sampled_from([0, 1, 50, 200]), limits)
per_unit = st.integers(-100, 100).map(lambda n: D(n) / 100)
fills = st.tuples(st.just("fill"), st.sampled_from(["BTC", "ETH"]), st.integers(-20, 60),
                  st.sampled_from(["buy", "sell"]), st.integers(1, 20).map(lambda n: D(n) / 10),
                  per_unit, per_unit.map(lambda d: d / 2))
others = st.one_of(
    st.tuples(st.just("reset"), st.sampled_from(["BTC", "ETH"])),
    st.tuples(st.just("configure"), st.sampled_from(["BTC", "ETH"]), configs),
    st.tuples(st.just("remove"), st.sampled_from(["BTC", "ETH"])))
# mostly fills (a breach needs a few in a row), now and then a maker's action
ops = st.lists(st.integers(0, 19).flatmap(lambda n: others if n == 0 else fills),
               min_size=1, max_size=150)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 6), configs, ops)
def test_breach_iff_the_recount_says_so_and_once_per_freeze(max_fills: int, first: MmpConfig,
                                                           script: list[Any]) -> None:
    state = MmpState("mm-1", max_fills)
    state.configure("BTC", first)
    oracles: dict[str, Oracle] = {"BTC": Oracle(first, max_fills)}
    clock = 0
    last_breach: dict[str, MmpBreach] = {}  # since the last reset / (re)configure
    for op in script:
        kind, underlying = op[0], op[1]
        if kind == "fill":
            _, _, step, side, q, d, v = op
            clock += step  # mostly forward, sometimes a late fill
            got = state.on_fill(underlying, clock, side, q, d, v)
            oracle = oracles.get(underlying)
            want = oracle.fill(clock, side, q, d, v) if oracle is not None else None
            assert (None if got is None else (got.reason, got.value, got.limit,
                                              got.frozen_until_ms, got.at_ms)) == want
            if got is not None:
                assert got.value >= got.limit and got.underlying == underlying
                previous = last_breach.get(underlying)
                # one breach per freeze: the previous freeze had ended (timed) before this one
                assert previous is None or (previous.frozen_until_ms is not None
                                            and got.at_ms >= previous.frozen_until_ms)
                last_breach[underlying] = got
                assert state.is_frozen(underlying, got.at_ms)
        elif kind == "reset":
            state.reset(underlying)
            if underlying in oracles:
                oracles[underlying].reset()
            last_breach.pop(underlying, None)
        elif kind == "configure":
            state.configure(underlying, op[2])
            if underlying in oracles:  # new limits, same freeze, window restarted
                oracles[underlying].config = op[2]
                oracles[underlying].clear()
            else:
                oracles[underlying] = Oracle(op[2], max_fills)
        else:
            state.remove(underlying)
            oracles.pop(underlying, None)
            last_breach.pop(underlying, None)
        for underlying, oracle in oracles.items():
            frozen = oracle.frozen and (oracle.until is None or clock < oracle.until)
            assert state.is_frozen(underlying, clock) is frozen
        record = json.loads(json.dumps(state.to_record()))
        restored = MmpState.from_record(record, max_fills=max_fills)
        assert restored == state and restored.to_record() == record
        state = restored  # carrying on from the stored form changes nothing


@settings(max_examples=100, deadline=None)
@given(configs, st.lists(st.tuples(st.integers(0, 50), st.sampled_from(["buy", "sell"]),
                                   st.integers(1, 20).map(lambda n: D(n) / 10), per_unit),
                         max_size=60))
def test_window_totals_equal_a_recount(config: MmpConfig,
                                       fills: list[tuple[int, str, Decimal, Decimal]]) -> None:
    """Without breaches in the way (limits out of reach), the running sums are the recount
    of the fills inside the interval."""
    wide = MmpConfig(config.interval_ms, config.frozen_ms, qty_limit=D(10**9))
    state = MmpState("mm-1")
    state.configure("BTC", wide)
    seen: list[tuple[int, Decimal, Decimal]] = []
    now = 0
    for step, side, q, d in fills:
        now += step
        state.on_fill("BTC", now, side, q, d, d)  # type: ignore[arg-type]
        seen.append((now, q, q * d if side == "buy" else -q * d))
        inside = [f for f in seen if f[0] >= now - wide.interval_ms]
        totals = state.totals("BTC")
        assert totals is not None
        assert totals == (sum((f[1] for f in inside), D(0)), sum((f[2] for f in inside), D(0)),
                          sum((f[2] for f in inside), D(0)), len(inside))
