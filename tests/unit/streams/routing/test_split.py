"""Splitting one order across venues: fee-adjusted walk, raw limit, lot grid, ties by name,
and properties (never more than asked or offered, on the lot grid, no cheaper allocation)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.routing import (
    Book,
    ChildSlice,
    Level,
    RoutingError,
    Side,
    consolidated_mid,
    split_order,
)

D = Decimal
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def asks(*levels: tuple[str | int, str | int]) -> Book:
    return [], [(D(p), D(q)) for p, q in levels]


def bids(*levels: tuple[str | int, str | int]) -> Book:
    return [(D(p), D(q)) for p, q in levels], []


def terms(venues: str, fee: str = "0.001", lot: str = "0.01") -> tuple[dict[str, Decimal],
                                                                       dict[str, Decimal]]:
    names = venues.split()
    return {v: D(fee) for v in names}, {v: D(lot) for v in names}


def allocation(slices: Sequence[ChildSlice]) -> list[tuple[str, Decimal]]:
    return [(s.venue, s.qty) for s in slices]


# (id, side, qty, books, fee rates, lot sizes, limit, expected (venue, qty), remainder)
SCENARIOS = [
    ("cheaper venue first", "buy", "1",
     {"a": asks((101, 5)), "b": asks((100, 5))}, *terms("a b"), None,
     [("b", "1")], "0"),
    ("cheaper venue first, spill to the next", "buy", "1.5",
     {"a": asks((101, 5)), "b": asks((100, 1))}, *terms("a b"), None,
     [("a", "0.5"), ("b", "1")], "0"),
    ("interleaved levels across venues", "buy", "3",
     {"a": asks((100, 1), (102, 5)), "b": asks((101, 1), (103, 5))}, *terms("a b"), None,
     [("a", "2"), ("b", "1")], "0"),
    ("sell takes the highest bid first", "sell", "1",
     {"a": bids((99, 5)), "b": bids((100, "0.4"), (98, 5))}, *terms("a b"), None,
     [("a", "0.6"), ("b", "0.4")], "0"),
    ("fees change the order (buy)", "buy", "1",
     {"a": asks((100, 5)), "b": asks(("100.5", 5))},
     {"a": D("0.01"), "b": D("0.001")}, {"a": D("0.01"), "b": D("0.01")}, None,
     [("b", "1")], "0"),
    ("fees change the order (sell)", "sell", "1",
     {"a": bids((100, 5)), "b": bids(("99.5", 5))},
     {"a": D("0.01"), "b": D("0.001")}, {"a": D("0.01"), "b": D("0.01")}, None,
     [("b", "1")], "0"),
    ("a zero fee beats a better price with a fee", "buy", "2",
     {"a": asks((100, 1)), "b": asks(("100.05", 1))},
     {"a": D("0.001"), "b": D(0)}, {"a": D("0.01"), "b": D("0.01")}, None,
     [("a", "1"), ("b", "1")], "0"),
    ("limit price stops the walk (buy)", "buy", "1",
     {"a": asks((100, "0.5"), (101, 5)), "b": asks(("100.5", "0.2"), ("100.6", 5))},
     *terms("a b"), D("100.5"), [("a", "0.5"), ("b", "0.2")], "0.3"),
    ("limit price stops the walk (sell)", "sell", "1",
     {"a": bids((100, "0.5"), (99, 5))}, *terms("a"), D("99.5"), [("a", "0.5")], "0.5"),
    ("limit is on the raw price, not the fee-adjusted one", "buy", "1",
     {"a": asks((100, 5))}, {"a": D("0.01")}, {"a": D("0.01")}, D(100), [("a", "1")], "0"),
    ("limit below the best ask: nothing", "buy", "1",
     {"a": asks((100, 5))}, *terms("a"), D("99.99"), [], "1"),
    ("lot rounding, the rest to the next venue", "buy", "1",
     {"a": asks((100, "0.37")), "b": asks((101, 5))},
     {"a": D("0.001"), "b": D("0.001")}, {"a": D("0.1"), "b": D("0.01")}, None,
     [("a", "0.3"), ("b", "0.7")], "0"),
    ("lot rounding leaves a remainder below every lot", "buy", "1.05",
     {"a": asks((100, 5))}, *terms("a", lot="0.1"), None, [("a", "1.0")], "0.05"),
    ("a small lot fills what a big lot cannot", "buy", "1.05",
     {"a": asks((100, 5)), "b": asks((101, 5))},
     {"a": D("0.001"), "b": D("0.001")}, {"a": D("0.1"), "b": D("0.01")}, None,
     [("a", "1.0"), ("b", "0.05")], "0"),
    ("a lot straddling two levels is priced at its average", "buy", "0.2",
     {"a": asks((100, "0.05"), (110, 5)), "b": asks((104, 5))},
     *terms("a b", lot="0.1"), None, [("b", "0.2")], "0"),
    ("thin book: everything, then a remainder", "buy", "5",
     {"a": asks((100, 1)), "b": asks((101, 1))}, *terms("a b"), None,
     [("a", "1"), ("b", "1")], "3"),
    ("zero-size levels are skipped", "buy", "1",
     {"a": asks((99, 0), (100, 5))}, *terms("a"), None, [("a", "1")], "0"),
    ("empty books", "buy", "1", {}, *terms("a"), None, [], "1"),
    ("one-sided books", "sell", "1",
     {"a": asks((100, 5)), "b": ([], [])}, *terms("a b"), None, [], "1"),
    ("ties go to the venue name first", "buy", "1.5",
     {"b": asks((100, 1)), "a": asks((100, 1))}, *terms("a b"), None,
     [("a", "1"), ("b", "0.5")], "0"),
]


@pytest.mark.parametrize(
    ("side", "qty", "books", "fees", "lots", "limit", "expected", "remainder"),
    [pytest.param(*case[1:], id=case[0]) for case in SCENARIOS])
def test_split_scenarios(side: Side, qty: str, books: dict[str, Book],
                         fees: dict[str, Decimal], lots: dict[str, Decimal],
                         limit: Decimal | None, expected: list[tuple[str, str]],
                         remainder: str) -> None:
    split = split_order(side, D(qty), books, fees, lots, limit_price=limit)
    assert allocation(split.slices) == [(v, D(q)) for v, q in expected]
    assert split.remainder == D(remainder)
    assert split.qty + split.remainder == D(qty)


def test_slice_prices_and_fees_are_exact_then_rounded_half_up() -> None:
    split = split_order("buy", D("0.3"), {"a": asks((100, "0.1"), ("100.005", 1))},
                        {"a": D("0.0005")}, {"a": D("0.1")})
    (s,) = split.slices
    assert s.notional == D("10") + D("20.001")  # 0.1 x 100 + 0.2 x 100.005
    assert s.expected_avg_price == D("100.00333333")  # 30.001 / 0.3 = 100.0033333…
    assert s.expected_fee == D("0.01500050")  # 30.001 x 0.0005
    assert split.notional == s.notional


def test_same_input_same_split_whatever_the_dict_order() -> None:
    books = {"b": asks((100, 1), (101, 1)), "a": asks((100, 1)), "c": asks((100, "0.5"))}
    fees, lots = terms("a b c")
    first = split_order("buy", D("2.2"), books, fees, lots)
    again = split_order("buy", D("2.2"), dict(reversed(books.items())), fees, lots)
    assert first == again
    assert allocation(first.slices) == [("a", D(1)), ("b", D(1)), ("c", D("0.2"))]


@pytest.mark.parametrize(("side", "qty", "books", "fees", "lots", "limit", "match"), [
    pytest.param("hold", D(1), {}, {}, {}, None, "side", id="side"),
    pytest.param("buy", D(0), {}, {}, {}, None, "positive", id="zero qty"),
    pytest.param("buy", 1.0, {}, {}, {}, None, "Decimal", id="float qty"),
    pytest.param("buy", D(1), {}, {}, {}, D(-1), "limit", id="negative limit"),
    pytest.param("buy", D(1), {"a": asks((101, 1), (100, 1))}, *terms("a"), None,
                 "best first", id="unsorted asks"),
    pytest.param("sell", D(1), {"a": bids((99, 1), (100, 1))}, *terms("a"), None,
                 "best first", id="unsorted bids"),
    pytest.param("buy", D(1), {"a": ([], [(100.0, D(1))])}, *terms("a"), None, "Decimal",
                 id="float price"),
    pytest.param("buy", D(1), {"a": asks((100, -1))}, *terms("a"), None, "size",
                 id="negative size"),
    pytest.param("buy", D(1), {"a": asks((100, 1))}, {}, {"a": D(1)}, None, "no fee",
                 id="missing fee"),
    pytest.param("buy", D(1), {"a": asks((100, 1))}, {"a": D(0)}, {}, None, "lot",
                 id="missing lot"),
    pytest.param("buy", D(1), {"a": asks((100, 1))}, *terms("a", lot="0"), None, "range",
                 id="zero lot"),
    pytest.param("sell", D(1), {"a": bids((100, 1))}, *terms("a", fee="1"), None, "range",
                 id="fee of 100%"),
])
def test_bad_input_raises_routing_error(side: str, qty: Decimal, books: dict[str, Book],
                                        fees: dict[str, Decimal], lots: dict[str, Decimal],
                                        limit: Decimal | None, match: str) -> None:
    with pytest.raises(RoutingError, match=match):
        split_order(side, qty, books, fees, lots, limit_price=limit)  # type: ignore[arg-type]


@pytest.mark.parametrize(("books", "mid"), [
    ({"a": ([(D(99), D(1))], [(D(101), D(1))])}, D(100)),
    ({"a": ([(D(99), D(1))], [(D(103), D(1))]), "b": ([(D(98), D(1))], [(D(100), D(1))])},
     D("99.5")),
    ({"a": ([(D(99), D(1))], []), "b": ([], [(D(102), D(1))])}, D("100.5")),
    ({"a": ([(D(99), D(1))], [])}, None),
    ({}, None),
])
def test_consolidated_mid(books: dict[str, Book], mid: Decimal | None) -> None:
    assert consolidated_mid(books) == mid


# -- properties ------------------------------------------------------------------------------

LOTS = [D("0.001"), D("0.01"), D("0.1"), D("0.25")]
FEES = [D(0), D("0.0002"), D("0.001"), D("0.0025"), D("0.01")]


@st.composite
def side_levels(draw: st.DrawFn, side: Side) -> list[Level]:
    """Up to 5 levels best first: prices on a 0.5 grid around 100, sizes on a 0.001 grid."""
    n = draw(st.integers(0, 5))
    steps = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    sizes = draw(st.lists(st.integers(0, 3000), min_size=n, max_size=n))
    price = D(100) + D(draw(st.integers(-10, 10))) / 2
    levels = []
    for step, size in zip(steps, sizes, strict=True):
        price += D(step) / 2 if side == "buy" else -D(step) / 2
        levels.append((price, D(size) / 1000))
    return levels


@st.composite
def markets(draw: st.DrawFn, common_lot: bool = False,
            lot_choices: Sequence[Decimal] = LOTS) -> tuple[
        Side, Decimal, dict[str, Book], dict[str, Decimal], dict[str, Decimal], Decimal | None]:
    side: Side = draw(st.sampled_from(["buy", "sell"]))
    names = draw(st.lists(st.sampled_from("abcd"), min_size=0, max_size=4, unique=True))
    lot = draw(st.sampled_from(lot_choices))
    books: dict[str, Book] = {}
    fees, lots = {}, {}
    for name in names:
        levels = draw(side_levels(side))
        books[name] = ([], levels) if side == "buy" else (levels, [])
        fees[name] = draw(st.sampled_from(FEES))
        lots[name] = lot if common_lot else draw(st.sampled_from(lot_choices))
    qty = D(draw(st.integers(1, 12_000))) / 1000 * lot / LOTS[-1]
    limit = draw(st.none() | st.integers(180, 220).map(lambda p: D(p) / 2))
    return side, qty, books, fees, lots, limit


def within_limit(levels: Sequence[Level], side: Side, limit: Decimal | None) -> list[Level]:
    if limit is None:
        return list(levels)
    return [lv for lv in levels if (lv[0] <= limit if side == "buy" else lv[0] >= limit)]


def taken_side(book: Book, side: Side) -> Sequence[Level]:
    return book[1] if side == "buy" else book[0]


def walk_notional(levels: Sequence[Level], qty: Decimal) -> Decimal:
    """Exact price x qty of taking ``qty`` from the top of ``levels`` (independent of SOR)."""
    notional, left = D(0), qty
    for price, size in levels:
        take = min(left, size)
        notional += take * price
        left -= take
    assert left == 0, "allocation beyond the book"
    return notional


def all_in_cost(side: Side, qtys: dict[str, Decimal], books: dict[str, Book],
                fees: dict[str, Decimal]) -> Decimal:
    """What the parent pays, fees included (a sell's cost is minus what it receives)."""
    cost = D(0)
    for venue, q in qtys.items():
        notional = walk_notional(taken_side(books[venue], side), q)
        cost += notional * (1 + fees[venue]) if side == "buy" else -notional * (1 - fees[venue])
    return cost


@PROPS
@given(markets())
def test_never_more_than_asked_or_offered_and_always_on_the_lot_grid(
        market: tuple[Side, Decimal, dict[str, Book], dict[str, Decimal], dict[str, Decimal],
                      Decimal | None]) -> None:
    side, qty, books, fees, lots, limit = market
    split = split_order(side, qty, books, fees, lots, limit_price=limit)
    assert split.qty + split.remainder == qty
    assert 0 <= split.remainder <= qty
    assert [s.venue for s in split.slices] == sorted({s.venue for s in split.slices})
    taken = {s.venue: s.qty for s in split.slices}
    for s in split.slices:
        depth = sum((q for _, q in within_limit(taken_side(books[s.venue], side), side, limit)),
                    D(0))
        assert 0 < s.qty <= depth
        assert s.qty % lots[s.venue] == 0
        assert s.notional == walk_notional(taken_side(books[s.venue], side), s.qty)
    for venue, book in books.items():  # maximal: no venue could take one more lot
        depth = sum((q for _, q in within_limit(taken_side(book, side), side, limit)), D(0))
        assert lots[venue] > split.remainder or depth - taken.get(venue, D(0)) < lots[venue]


@PROPS
@given(markets(common_lot=True), st.data())
def test_no_feasible_allocation_of_the_same_qty_is_cheaper(
        market: tuple[Side, Decimal, dict[str, Book], dict[str, Decimal], dict[str, Decimal],
                      Decimal | None], data: st.DataObject) -> None:
    side, qty, books, fees, lots, limit = market
    split = split_order(side, qty, books, fees, lots, limit_price=limit)
    greedy = all_in_cost(side, {s.venue: s.qty for s in split.slices}, books, fees)
    if not books:
        return
    lot = next(iter(lots.values()))
    capacity = {v: sum((q for _, q in within_limit(taken_side(b, side), side, limit)), D(0))
                // lot for v, b in books.items()}
    lots_left, alloc = int(split.qty / lot), dict.fromkeys(books, D(0))
    while lots_left:  # a random allocation of the same number of lots within every book
        open_venues = sorted(v for v in books if capacity[v] > alloc[v] / lot)
        venue = data.draw(st.sampled_from(open_venues))
        n = data.draw(st.integers(1, min(lots_left, int(capacity[venue] - alloc[venue] / lot))))
        alloc[venue] += n * lot
        lots_left -= n
    assert greedy <= all_in_cost(side, alloc, books, fees)


@PROPS
@given(markets(common_lot=True, lot_choices=[D("0.1"), D("0.25")]))
def test_greedy_equals_the_exhaustive_optimum_for_a_common_lot(
        market: tuple[Side, Decimal, dict[str, Book], dict[str, Decimal], dict[str, Decimal],
                      Decimal | None]) -> None:
    """Every way of placing the same number of lots (dynamic programming over venues)."""
    side, qty, books, fees, lots, limit = market
    split = split_order(side, qty, books, fees, lots, limit_price=limit)
    greedy = all_in_cost(side, {s.venue: s.qty for s in split.slices}, books, fees)
    if not books:
        return
    lot = next(iter(lots.values()))
    n = int(split.qty / lot)
    best: dict[int, Decimal] = {0: D(0)}  # lots placed so far -> cheapest cost
    for venue, book in sorted(books.items()):
        depth = sum((q for _, q in within_limit(taken_side(book, side), side, limit)), D(0))
        here = [all_in_cost(side, {venue: j * lot}, books, fees)
                for j in range(int(depth // lot) + 1)]
        nxt: dict[int, Decimal] = {}
        for k, c in best.items():
            for j in range(min(len(here), n - k + 1)):
                nxt[k + j] = min(nxt.get(k + j, c + here[j]), c + here[j])
        best = nxt
    assert greedy == best[n]
