"""The routing agent's record and its steps without Kafka: a parent worked across simulated
venues in rounds, a crash between sending and hearing, the reports it publishes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from infra.settings import get_settings
from streams.routing import ChildStatus, ParentStatus, RoutingError, consolidated_mid
from streams.routing.books import VenueBooks
from streams.routing.venues import OWN_VENUE, RoutingVenue
from streams.routing.working import WorkingParent, apply_answer, rejected_report
from streams.settlement.venue import Book, VenueError, VenueFill
from topics.catalogue import ContractError, by_name
from topics.contracts.routing import RouteOrder

D = Decimal
T0 = datetime(2026, 12, 1, tzinfo=UTC)
ROUTES = by_name("routing.orders")
REPORTS = by_name("routing.reports")
FEES = {"alpha": D("0.001"), "beta": D("0.0005")}
LOTS = {"alpha": D("0.01"), "beta": D("0.1")}


def order(qty: str = "1", side: str = "buy", **kw: object) -> RouteOrder:
    fields: dict[str, object] = {"command_id": "c1", "ts_sent": T0, "account": "acc-1",
                                 "parent_id": "p1", "symbol": "BTC-USDT", "side": side,
                                 "qty": D(qty)}
    fields.update(kw)
    return RouteOrder(**fields)  # type: ignore[arg-type]


def books() -> dict[str, Book]:
    return {"alpha": ([(D(99), D(2))], [(D(100), D("0.4")), (D(101), D(2))]),
            "beta": ([(D("98.5"), D(2))], [(D("100.5"), D(1)), (D(102), D(5))])}


def make_venues(tmp_path: Path, ratio: str = "0.5") -> dict[str, RoutingVenue]:
    b = books()
    return {"alpha": RoutingVenue(tmp_path / "alpha.sqlite", lambda _s: b["alpha"],
                                  name="alpha", fee_rate=FEES["alpha"], lot_size=LOTS["alpha"]),
            "beta": RoutingVenue(tmp_path / "beta.sqlite", lambda _s: b["beta"], name="beta",
                                 fee_rate=FEES["beta"], lot_size=LOTS["beta"],
                                 fill_ratio=D(ratio))}


def stored(w: WorkingParent) -> WorkingParent:
    return WorkingParent.from_record(json.loads(json.dumps(w.to_record())))


def send_all(w: WorkingParent, vs: dict[str, RoutingVenue]) -> None:
    for c in w.parent.pending_children():
        try:
            answer: VenueFill | VenueError = vs[c.venue].place_market_order(
                client_order_id=c.key, symbol=c.symbol, side=c.side, qty=c.qty)
        except VenueError as exc:
            answer = exc
        apply_answer(w.parent, c.key, answer)


def test_a_parent_is_worked_in_rounds_until_filled(tmp_path: Path) -> None:
    vs = make_venues(tmp_path)
    # 6 wanted, 8.4 displayed, but only half of beta's 6 is really there (its IOC fills 3)
    arrival = consolidated_mid(books())
    assert arrival is not None
    w = WorkingParent.start(order("6", max_rounds=5), arrival, 2)
    assert w.parent.arrival_price == D("99.5")  # best bid 99, best ask 100
    rounds = 0
    while not w.parent.is_terminal:
        w.parent.route(books(), FEES, LOTS)
        w = stored(w)  # stored before sending, as the agent does
        send_all(w, vs)
        rounds += 1
    report = w.report(T0)
    assert report.status == "done" and report.final and report.filled_qty == D(6)
    assert sum(report.venue_shares.values()) == 1
    assert rounds == report.rounds == 2  # beta showed more than it filled: a second round
    assert report.event_id == "route:p1:1" and report.causation_id == "c1"
    decoded = REPORTS.decode(REPORTS.encode(report))
    assert decoded == report


def test_a_crash_between_sending_and_hearing_fills_nothing_twice(tmp_path: Path) -> None:
    vs = make_venues(tmp_path, ratio="1")
    w = WorkingParent.start(order("1.2"), D(100), 0)
    w.parent.route(books(), FEES, LOTS)
    record = w.to_record()  # what the table holds when the worker dies
    for c in w.parent.pending_children():  # the children reach the venues ...
        vs[c.venue].place_market_order(client_order_id=c.key, symbol=c.symbol, side=c.side,
                                       qty=c.qty)
    # ... and the worker dies before it hears back. The restarted one re-sends:
    resumed = WorkingParent.from_record(record)
    assert [c.key for c in resumed.parent.pending_children()] == ["p1:1:alpha", "p1:1:beta"]
    send_all(resumed, vs)
    send_all(resumed, vs)  # and again: nothing changes
    assert all(v.count("p1:") == 1 for v in vs.values())
    filled = sum((f.qty for v in vs.values() for f in v.orders()), D(0))
    assert resumed.parent.filled_qty == filled == D("1.2")
    assert resumed.parent.status is ParentStatus.DONE


def test_a_refusal_goes_back_to_the_next_round(tmp_path: Path) -> None:
    w = WorkingParent.start(order("0.5"), D(100), 0)
    (child,) = w.parent.route({"alpha": books()["alpha"]}, FEES, LOTS)
    assert apply_answer(w.parent, child.key, VenueError("down"))
    assert w.parent.children[child.key].status is ChildStatus.FAILED
    assert w.parent.remaining_qty == D("0.5")
    (again,) = w.parent.route({"alpha": books()["alpha"]}, FEES, LOTS)
    assert again.key == "p1:2:alpha"


def test_an_answer_for_another_order_is_refused() -> None:
    w = WorkingParent.start(order("0.5"), D(100), 0)
    (child,) = w.parent.route({"alpha": books()["alpha"]}, FEES, LOTS)
    wrong = VenueFill("alpha", child.key, "ETH-USDT", "buy", D("0.4"), D(100), D(100), D(0))
    with pytest.raises(RoutingError, match="answered for"):
        apply_answer(w.parent, child.key, wrong)


def test_versions_and_rejections() -> None:
    w = WorkingParent.start(order(), D(100), 1)
    assert w.report(T0).version == 1 and w.report(T0).event_id == "route:p1:2"
    assert stored(w).version == 2 and stored(w).partition == 1
    r = rejected_report(order(), "no book", T0)
    assert r.status == "rejected" and r.final and r.remainder == D(1) and r.rounds == 0


@pytest.mark.parametrize("payload", [
    b"not json",
    b'{"type": "route"}',
    orjson.dumps({**json.loads(order().model_dump_json()), "qty": "-1"}),
    orjson.dumps({**json.loads(order().model_dump_json()), "qty": 1.5}),  # a float
    orjson.dumps({**json.loads(order().model_dump_json()), "symbol": "BTC-20261225-1-C"}),
    orjson.dumps({**json.loads(order().model_dump_json()), "parent_id": "a:b"}),
    orjson.dumps({**json.loads(order().model_dump_json()), "max_rounds": 0}),
])
def test_bad_route_orders_break_the_contract(payload: bytes) -> None:
    with pytest.raises(ContractError):
        ROUTES.decode(payload)


def test_a_good_route_order_round_trips() -> None:
    o = order(limit_price=D("90100.5"))
    assert ROUTES.decode(ROUTES.encode(o)) == o


def test_venue_books_keep_each_routing_venue_apart() -> None:
    vb = VenueBooks(get_settings(), "test", ["binance", OWN_VENUE])

    def book(source: str, bid: str) -> bytes:
        return orjson.dumps({"symbol": "BTC-USDT", "source": source,
                             "bids": [[bid, "1"]], "asks": [["101", "2"]]})

    vb._apply("md.book", book("binance", "99"))
    vb._apply("md.book", book("venue", "98"))  # StrikeFlow's own book
    vb._apply("md.book", book("consolidated", "99.5"))  # not a venue
    vb._apply("md.book", book("kraken", "97"))  # not configured
    vb._apply("md.book", b"{broken")
    assert set(vb.books("BTC-USDT")) == {"binance", OWN_VENUE}
    assert vb.venue_book("BTC-USDT", OWN_VENUE) == ([(D(98), D(1))], [(D(101), D(2))])
    assert vb.venue_book("ETH-USDT", "binance") is None
