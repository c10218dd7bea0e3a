"""The parent-order machine: rounds, re-splits as books move, idempotent transitions, records
that survive a crash (same keys, nothing filled twice), and the execution report."""

from __future__ import annotations

import json
from collections import Counter
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.ledger.fees import to_usdt
from streams.routing import (
    PRICE_GRID,
    TERMINAL_STATUSES,
    TRANSITIONS,
    Book,
    ChildOrder,
    ChildStatus,
    Level,
    ParentOrder,
    ParentStatus,
    ParentTrigger,
    RoutingError,
    Side,
    child_key,
    consolidated_mid,
)
from streams.settlement.venue import VenueFill

D = Decimal
PROPS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEES = {"alpha": D("0.001"), "beta": D("0.0005")}
LOTS = {"alpha": D("0.01"), "beta": D("0.1")}
ONE = D(1)


def stored(p: ParentOrder) -> ParentOrder:
    """What the agent keeps in its table and reads back after a restart."""
    return ParentOrder.from_record(json.loads(json.dumps(p.to_record())))


def parent(qty: str = "1", side: Side = "buy", *, max_rounds: int = 3,
           limit: str | None = None, arrival: str = "100") -> ParentOrder:
    return ParentOrder(parent_id="p1", symbol="BTC/USDT", side=side, qty=D(qty),
                       arrival_price=D(arrival), limit_price=D(limit) if limit else None,
                       max_rounds=max_rounds)


def ask_books(alpha: list[tuple[str, str]], beta: list[tuple[str, str]]) -> dict[str, Book]:
    return {"alpha": ([], [(D(p), D(q)) for p, q in alpha]),
            "beta": ([], [(D(p), D(q)) for p, q in beta])}


# -- a venue that answers in rounds --------------------------------------------------------

class LaggyVenue:
    """A venue on a round clock, keyed by client order id like a real one.

    An order sent in round ``r`` executes at the tick ``latency`` rounds later against the
    venue's own book (consuming it, so the next snapshot has moved), for at most
    ``fill_ratio`` of its quantity on the lot grid (immediate-or-cancel: the rest is gone).
    Sending a key it has seen does nothing; ``executions`` counts trades per key.
    """

    def __init__(self, name: str, bids: list[Level], asks: list[Level], *, fee_rate: Decimal,
                 lot: Decimal, latency: int = 0, fill_ratio: Decimal = ONE) -> None:
        self.name, self.fee_rate, self.lot = name, fee_rate, lot
        self.bids, self.asks = list(bids), list(asks)
        self.latency, self.fill_ratio = latency, fill_ratio
        self.clock = 0
        self.orders: dict[str, tuple[int, str, Decimal]] = {}  # key -> (due, side, qty)
        self.fills: dict[str, VenueFill] = {}
        self.executions: Counter[str] = Counter()

    def book(self) -> Book:
        return list(self.bids), list(self.asks)

    def send(self, key: str, symbol: str, side: str, qty: Decimal) -> None:
        if key not in self.orders:
            self.orders[key] = (self.clock + self.latency, side, qty)

    def find_order(self, key: str) -> VenueFill | None:
        return self.fills.get(key)

    def tick(self) -> None:
        for key, (due, side, qty) in self.orders.items():
            if key not in self.fills and due <= self.clock:
                self._execute(key, side, qty)
        self.clock += 1

    def _execute(self, key: str, side: str, qty: Decimal) -> None:
        levels = self.asks if side == "buy" else self.bids
        depth = sum((q for _, q in levels), D(0))
        want = min((qty * self.fill_ratio), depth).quantize(self.lot, ROUND_DOWN)
        left, notional, rest = want, D(0), []
        for price, size in levels:
            take = min(left, size)
            notional += take * price
            left -= take
            if size > take:
                rest.append((price, size - take))
        levels[:] = rest
        avg = (notional / want).quantize(PRICE_GRID, ROUND_HALF_UP) if want else D(0)
        self.fills[key] = VenueFill(self.name, key, "BTC/USDT", side, want, avg, D(0),
                                    to_usdt(notional * self.fee_rate))
        self.executions[key] += 1


Venues = dict[str, LaggyVenue]


def venues(latency: int = 0, alpha_ratio: str = "1", beta_ratio: str = "1") -> Venues:
    alpha = LaggyVenue("alpha", [(D(99), D(2))], [(D(100), D("0.4")), (D(101), D(2))],
                       fee_rate=FEES["alpha"], lot=LOTS["alpha"], latency=latency,
                       fill_ratio=D(alpha_ratio))
    beta = LaggyVenue("beta", [(D("98.5"), D(2))], [(D("100.5"), D(1)), (D(102), D(5))],
                      fee_rate=FEES["beta"], lot=LOTS["beta"], latency=latency,
                      fill_ratio=D(beta_ratio))
    return {"alpha": alpha, "beta": beta}


def books_of(vs: Venues) -> dict[str, Book]:
    return {name: v.book() for name, v in vs.items()}


def send_pending(p: ParentOrder, vs: Venues) -> None:
    for c in p.pending_children():  # re-sends are harmless: the venue keys by client id
        vs[c.venue].send(c.key, c.symbol, c.side, c.qty)


def collect(p: ParentOrder, vs: Venues) -> None:
    for c in p.pending_children():
        fill = vs[c.venue].find_order(c.key)
        if fill is not None:
            p.child_filled(c.key, fill.qty, fill.avg_price, fill.fee)


def step(p: ParentOrder, vs: Venues) -> ParentOrder:
    """One round of the agent: venues move, answers come in, route, store, send."""
    for v in vs.values():
        v.tick()
    collect(p, vs)
    p.route(books_of(vs), FEES, LOTS)
    p = stored(p)  # the agent stores before it sends
    send_pending(p, vs)
    return p


def run(p: ParentOrder, vs: Venues, limit: int = 30) -> ParentOrder:
    for _ in range(limit):
        if p.is_terminal and not p.pending_children():
            return p
        p = step(p, vs)
    raise AssertionError("the parent never finished")


def assert_consistent(p: ParentOrder, vs: Venues) -> None:
    executed = {k: n for v in vs.values() for k, n in v.executions.items()}
    assert all(n == 1 for n in executed.values()), executed  # nothing trades twice
    assert set(executed) <= set(p.children)
    venue_qty = sum((v.fills[k].qty for v in vs.values() for k in v.fills), D(0))
    assert p.filled_qty == venue_qty == sum((c.filled_qty for c in p.children.values()), D(0))
    assert p.fees == sum((v.fills[k].fee for v in vs.values() for k in v.fills), D(0))
    assert p.filled_qty <= p.qty
    for c in p.children.values():
        assert c.key == child_key(p.parent_id, c.round, c.venue)
        assert c.filled_qty <= c.qty


# -- the transition table ------------------------------------------------------------------

def test_transition_table_is_closed_over_terminal_statuses() -> None:
    assert not any(status in TERMINAL_STATUSES for status, _ in TRANSITIONS)
    assert {to for to in TRANSITIONS.values()} == set(ParentStatus) - {ParentStatus.NEW}
    assert {t for _, t in TRANSITIONS} == set(ParentTrigger)


def test_a_parent_filled_in_one_round() -> None:
    p = parent("0.5")
    assert p.status is ParentStatus.NEW and p.round == 0
    children = p.route(ask_books([("100", "1")], [("101", "1")]), FEES, LOTS)
    assert [(c.key, c.venue, c.qty) for c in children] == [("p1:1:alpha", "alpha", D("0.5"))]
    assert p.status is ParentStatus.ROUTING and p.pending_children() == children
    assert p.route(ask_books([("90", "9")], []), FEES, LOTS) == []  # round in flight: no-op
    assert p.child_filled("p1:1:alpha", D("0.5"), D(100), D("0.05")) is True
    assert p.status is ParentStatus.DONE and p.pending_children() == []
    assert p.child_filled("p1:1:alpha", D("0.5"), D(100), D("0.05")) is False  # repeat
    assert p.route(ask_books([("100", "1")], []), FEES, LOTS) == []
    assert p.cancel() is False and p.status is ParentStatus.DONE


# (id, parent qty, round-1 books, round-1 fills {venue: qty}, round-2 books, round-2 children)
RESPLITS = [
    ("alpha filled half: the rest re-split on the moved books", "1",
     ask_books([("100", "1")], [("101", "1")]), {"alpha": "0.5"},
     ask_books([("102", "1")], [("101", "1")]), [("beta", "0.5")]),
    ("both short: remainder split again, cheapest first", "2",
     ask_books([("100", "1")], [("100.2", "1")]), {"alpha": "0.3", "beta": "0.7"},
     ask_books([("100.1", "0.5")], [("100.2", "0.3"), ("100.3", "5")]),
     [("alpha", "0.5"), ("beta", "0.5")]),
    ("a child that filled nothing is routed again", "1",
     ask_books([("100", "1")], []), {"alpha": "0"},
     ask_books([("100", "1")], []), [("alpha", "1")]),
    ("nothing left on the books: an empty round", "1",
     ask_books([("100", "1")], []), {"alpha": "0.2"}, ask_books([], []), []),
]


@pytest.mark.parametrize(("qty", "books1", "fills", "books2", "expected"),
                         [pytest.param(*case[1:], id=case[0]) for case in RESPLITS])
def test_resplit_after_partial_fills(qty: str, books1: dict[str, Book], fills: dict[str, str],
                                     books2: dict[str, Book],
                                     expected: list[tuple[str, str]]) -> None:
    p = parent(qty)
    first = p.route(books1, FEES, LOTS)
    assert {c.venue for c in first} == set(fills)
    for c in first:
        p.child_filled(c.key, D(fills[c.venue]), c.expected_avg_price, D(0))
    p = stored(p)
    second = p.route(books2, FEES, LOTS)
    assert [(c.venue, c.qty) for c in second] == [(v, D(q)) for v, q in expected]
    assert all(c.key == f"p1:2:{c.venue}" and c.round == 2 for c in second)
    assert sum((c.qty for c in second), D(0)) <= p.remaining_qty
    assert p.round == 2 and p.status is ParentStatus.ROUTING


def test_out_of_rounds_ends_partially_done_even_with_nothing_filled() -> None:
    p = parent("1", max_rounds=2)
    assert p.route({}, FEES, LOTS) == [] and p.status is ParentStatus.ROUTING
    assert p.route({}, FEES, LOTS) == []
    assert p.status is ParentStatus.PARTIALLY_DONE and p.round == 2
    assert p.route(ask_books([("100", "5")], []), FEES, LOTS) == []
    r = p.report()
    assert (r.filled_qty, r.remainder, r.vwap, r.slippage_bps, r.venue_shares) == (
        D(0), D(1), None, None, {})


def test_last_round_answered_short_ends_partially_done() -> None:
    p = parent("1", max_rounds=1)
    (c,) = p.route(ask_books([("100", "5")], []), FEES, LOTS)
    p.child_filled(c.key, D("0.6"), D(100), D("0.06"))
    assert p.status is ParentStatus.PARTIALLY_DONE
    assert p.report().remainder == D("0.4")


def test_limit_price_is_kept_across_rounds() -> None:
    p = stored(parent("1", limit="100.5"))
    assert p.limit_price == D("100.5")
    (c,) = p.route(ask_books([("100", "0.3"), ("101", "5")], [("102", "1")]), FEES, LOTS)
    assert (c.venue, c.qty) == ("alpha", D("0.3"))


def test_failed_child_goes_back_to_the_next_round() -> None:
    p = parent("1")
    (c,) = p.route(ask_books([("100", "5")], []), FEES, LOTS)
    assert p.child_failed(c.key, "venue down") is True
    assert p.child_failed(c.key, "venue down") is False
    assert p.children[c.key].status is ChildStatus.FAILED
    (again,) = p.route(ask_books([("100", "5")], []), FEES, LOTS)
    assert again.key == "p1:2:alpha" and again.qty == D(1)
    with pytest.raises(RoutingError, match="failed"):
        p.child_filled(c.key, D(1), D(100), D(0))


def test_cancel_stops_new_rounds_but_in_flight_fills_still_count() -> None:
    p = parent("1")
    (c,) = p.route(ask_books([("100", "0.5")], []), FEES, LOTS)
    assert p.cancel() is True and p.cancel() is False
    assert p.status is ParentStatus.CANCELLED
    assert p.pending_children() == [c]
    assert p.child_filled(c.key, D("0.5"), D(100), D("0.05")) is True
    assert p.status is ParentStatus.CANCELLED and p.filled_qty == D("0.5")
    assert p.route(ask_books([("100", "5")], []), FEES, LOTS) == []
    assert stored(p) == p
    assert parent().cancel() is True


@pytest.mark.parametrize(("qty", "price", "fee", "match"), [
    pytest.param(D("0.6"), D(100), D(0), "more than", id="more than sent"),
    pytest.param(D("-1"), D(100), D(0), ">= 0", id="negative qty"),
    pytest.param(D("0.1"), None, D(0), "avg price", id="no price"),
    pytest.param(D("0.1"), D(100), D("-0.1"), ">= 0", id="negative fee"),
    pytest.param(0.1, D(100), D(0), "Decimal", id="float qty"),
])
def test_impossible_fills_raise(qty: Decimal, price: Decimal | None, fee: Decimal,
                                match: str) -> None:
    p = parent("1")
    (c,) = p.route(ask_books([("100", "0.5")], []), FEES, LOTS)
    with pytest.raises(RoutingError, match=match):
        p.child_filled(c.key, qty, price, fee)
    assert p.children[c.key] == c  # nothing changed


def test_conflicting_repeat_and_unknown_keys_raise() -> None:
    p = parent("1")
    (c,) = p.route(ask_books([("100", "0.5")], []), FEES, LOTS)
    p.child_filled(c.key, D("0.5"), D(100), D("0.05"))
    with pytest.raises(RoutingError, match="now"):
        p.child_filled(c.key, D("0.4"), D(100), D("0.05"))
    with pytest.raises(RoutingError, match="already filled"):
        p.child_failed(c.key, "late refusal")
    with pytest.raises(RoutingError, match="no child"):
        p.child_filled("p1:9:alpha", D("0.1"), D(100), D(0))


def test_a_zero_fill_ignores_its_price() -> None:
    p = parent("1")
    (c,) = p.route(ask_books([("100", "0.5")], []), FEES, LOTS)
    p.child_filled(c.key, D(0), D(0), D(0))
    assert p.children[c.key].avg_price is None
    assert p.child_filled(c.key, D(0), None, D(0)) is False


def test_bad_books_change_nothing() -> None:
    p = parent("1")
    with pytest.raises(RoutingError):
        p.route({"alpha": ([], [(D(101), D(1)), (D(100), D(1))])}, FEES, LOTS)
    with pytest.raises(RoutingError, match="ambiguous"):
        p.route({"al:pha": ([], [(D(100), D(1))])}, {"al:pha": D(0)}, {"al:pha": D(1)})
    assert (p.status, p.round, p.children) == (ParentStatus.NEW, 0, {})


@pytest.mark.parametrize("kwargs", [
    {"qty": D(0)}, {"qty": 1.0}, {"arrival_price": D(0)}, {"limit_price": D(-1)},
    {"side": "hold"}, {"max_rounds": 0}, {"parent_id": ""},
])
def test_bad_parents_are_refused(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {"parent_id": "p1", "symbol": "BTC/USDT", "side": "buy",
                               "qty": D(1), "arrival_price": D(100)}
    with pytest.raises(RoutingError):
        ParentOrder(**{**base, **kwargs})  # type: ignore[arg-type]


# -- the report ----------------------------------------------------------------------------

@pytest.mark.parametrize(("side", "fills", "slippage", "all_in"), [
    pytest.param("buy", [("alpha", "1", "100.1", "0.1")], "10.00", "20.00", id="buy above"),
    pytest.param("buy", [("alpha", "1", "99.9", "0")], "-10.00", "-10.00", id="buy below"),
    pytest.param("sell", [("alpha", "1", "99.9", "0.1")], "10.00", "20.00", id="sell below"),
    pytest.param("sell", [("alpha", "1", "100.1", "0")], "-10.00", "-10.00", id="sell above"),
    pytest.param("buy", [("alpha", "1", "100", "0"), ("beta", "1", "100.2", "0.2")],
                 "10.00", "20.00", id="vwap over venues"),
])
def test_slippage_sign_is_positive_when_worse_for_the_parent(
        side: Side, fills: list[tuple[str, str, str, str]], slippage: str, all_in: str) -> None:
    p = parent("2", side)
    books = {"alpha": ([(D(100), D(1))], [(D(100), D(1))]),
             "beta": ([(D(100), D(1))], [(D(100), D(1))])}
    p.route(books, FEES, {"alpha": D(1), "beta": D(1)})
    for venue, qty, price, fee in fills:
        p.child_filled(f"p1:1:{venue}", D(qty), D(price), D(fee))
    r = p.report()
    assert (r.slippage_bps, r.all_in_slippage_bps) == (D(slippage), D(all_in))
    assert r.fees == sum((D(f[3]) for f in fills), D(0))


def test_shares_sum_to_one_even_for_thirds() -> None:
    p = ParentOrder(parent_id="p3", symbol="BTC/USDT", side="buy", qty=D(3),
                    arrival_price=D(100))
    books: dict[str, Book] = {v: ([], [(D(100), D(1))]) for v in ("a", "b", "c")}
    for c in p.route(books, dict.fromkeys(books, D(0)), dict.fromkeys(books, D(1))):
        p.child_filled(c.key, D(1), D(100), D(0))
    r = p.report()
    assert r.status is ParentStatus.DONE and r.vwap == D(100) and r.slippage_bps == D(0)
    assert r.venue_shares == {"a": D("0.33333334"), "b": D("0.33333333"),
                              "c": D("0.33333333")}
    assert sum(r.venue_shares.values()) == 1
    assert json.loads(json.dumps(r.to_record()))["venue_shares"]["a"] == "0.33333334"


# -- driving the machine against venues in rounds, with crashes -----------------------------

@pytest.mark.parametrize(("latency", "alpha_ratio", "beta_ratio"), [
    (0, "1", "1"), (1, "1", "1"), (2, "0.5", "1"), (0, "0.5", "0.5"), (1, "0.3", "0.7"),
])
def test_driven_to_completion_through_latency_and_partial_fills(
        latency: int, alpha_ratio: str, beta_ratio: str) -> None:
    vs = venues(latency, alpha_ratio, beta_ratio)
    mid = consolidated_mid(books_of(vs))
    assert mid == D("99.5")  # best bid 99 (alpha), best ask 100 (alpha)
    p = run(parent("1.5", max_rounds=6, arrival=str(mid)), vs)
    assert_consistent(p, vs)
    r = p.report()
    assert r.status in (ParentStatus.DONE, ParentStatus.PARTIALLY_DONE)
    assert r.filled_qty + r.remainder == D("1.5")
    assert sum(r.venue_shares.values()) == 1
    assert r.slippage_bps is not None and r.slippage_bps > 0  # buying above the mid
    if alpha_ratio == beta_ratio == "1":
        assert r.status is ParentStatus.DONE and r.rounds == 1


def test_crash_between_store_and_send_resends_the_same_keys_and_trades_once() -> None:
    """The agent stored round 1, sent one child, died; the new worker re-sends the pending
    children with the same keys and the run ends exactly like one that never crashed."""
    clean_vs, crash_vs = venues(1, "0.5", "0.5"), venues(1, "0.5", "0.5")
    clean = run(parent("1.5", max_rounds=5), clean_vs)

    p = parent("1.5", max_rounds=5)
    for v in crash_vs.values():
        v.tick()
    p.route(books_of(crash_vs), FEES, LOTS)
    saved = json.dumps(p.to_record())
    first, *rest = p.pending_children()
    crash_vs[first.venue].send(first.key, first.symbol, first.side, first.qty)
    assert rest, "the crash must leave an unsent child"
    del p  # the worker dies here

    p = ParentOrder.from_record(json.loads(saved))
    assert [c.key for c in p.pending_children()] == [first.key, *(c.key for c in rest)]
    send_pending(p, crash_vs)
    assert len(crash_vs[first.venue].orders) == 1  # the re-send was de-duplicated
    p = run(p, crash_vs)
    assert_consistent(p, crash_vs)
    assert p.to_record() == clean.to_record()
    assert p.report() == clean.report()


def test_crash_after_the_venue_traded_but_before_the_fill_was_stored() -> None:
    clean_vs, vs = venues(0, "0.5", "1"), venues(0, "0.5", "1")
    clean = run(parent("1.5", max_rounds=5), clean_vs)
    p = parent("1.5", max_rounds=5)
    p = step(p, vs)  # round 1 stored and sent
    for v in vs.values():
        v.tick()  # the venues trade
    before = json.dumps(p.to_record())
    collect(p, vs)  # fills recorded in memory ...
    assert p.filled_qty > 0
    p = ParentOrder.from_record(json.loads(before))  # ... and lost in the crash
    assert p.filled_qty == 0 and p.pending_children()
    send_pending(p, vs)  # the same keys: the venue answers with the original fills
    collect(p, vs)
    collect(p, vs)  # and a duplicate delivery changes nothing
    p = run(p, vs)
    assert_consistent(p, vs)
    assert p.to_record() == clean.to_record()
    assert sorted(p.children) == sorted(k for v in vs.values() for k in v.orders)


@st.composite
def driven(draw: st.DrawFn) -> tuple[ParentOrder, Venues, list[int]]:
    side: Side = draw(st.sampled_from(["buy", "sell"]))
    vs: Venues = {}
    for name in ("alpha", "beta", "gamma"):
        n = draw(st.integers(0, 4))
        levels, price = [], D(100)
        for _ in range(n):
            price += D(draw(st.integers(1, 4))) / 4 * (1 if side == "buy" else -1)
            levels.append((price, D(draw(st.integers(1, 200))) / 100))
        vs[name] = LaggyVenue(name, levels if side == "sell" else [],
                              levels if side == "buy" else [],
                              fee_rate=D(draw(st.sampled_from(["0", "0.0005", "0.002"]))),
                              lot=D(draw(st.sampled_from(["0.01", "0.05", "0.1"]))),
                              latency=draw(st.integers(0, 2)),
                              fill_ratio=D(draw(st.sampled_from(["0.25", "0.5", "1"]))))
    p = ParentOrder(parent_id="px", symbol="BTC/USDT", side=side,
                    qty=D(draw(st.integers(1, 600))) / 100, arrival_price=D(100),
                    max_rounds=draw(st.integers(1, 6)))
    crashes = draw(st.lists(st.integers(0, 10), max_size=3))
    return p, vs, crashes


@PROPS
@given(driven())
def test_aggregation_holds_for_any_run_with_crashes(
        case: tuple[ParentOrder, Venues, list[int]]) -> None:
    p, vs, crashes = case
    fees = {n: v.fee_rate for n, v in vs.items()}
    lots = {n: v.lot for n, v in vs.items()}
    for i in range(40):
        if p.is_terminal and not p.pending_children():
            break
        for v in vs.values():
            v.tick()
        collect(p, vs)
        p.route(books_of(vs), fees, lots)
        saved = json.dumps(p.to_record())
        if i in crashes:  # died after storing, before sending anything
            p = ParentOrder.from_record(json.loads(saved))
            assert p.to_record() == json.loads(saved)
        send_pending(p, vs)
    else:
        raise AssertionError("the parent never finished")
    assert_consistent(p, vs)
    r = p.report()
    assert r.filled_qty == sum((c.filled_qty for c in p.children.values()), D(0))
    assert r.filled_qty + r.remainder == p.qty and r.remainder >= 0
    assert r.status is (ParentStatus.DONE if r.remainder == 0 else ParentStatus.PARTIALLY_DONE)
    assert r.rounds <= p.max_rounds
    if r.filled_qty:
        assert sum(r.venue_shares.values()) == 1
        assert all(s > 0 for s in r.venue_shares.values())
    else:
        assert r.venue_shares == {}
    assert stored(p) == p
    assert all(isinstance(c, ChildOrder) for c in stored(p).children.values())
