"""Our own book as a routing venue, the pure parts: the child as an IOC order, its limit,
and its outcome assembled from ``orders.events`` records (fills, the IOC remainder, risk's or
matching's refusal, repeats); and the adapter answering a child it has seen from what it
read back, without sending it again."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from infra.settings import get_settings
from streams.ledger.booking import FEES
from streams.ledger.fees import to_usdt
from streams.routing.own_book import (
    OwnBookRejected,
    OwnBookVenue,
    assemble,
    command_id,
    ioc_order,
    protective_price,
)
from streams.routing.parent import ChildOrder, ParentOrder
from streams.routing.split import split_order
from streams.routing.working import apply_answer
from streams.settlement.venue import Book, VenueError, VenueFill
from topics.catalogue import by_name

D = Decimal
KEY = "p1:1:strikeflow"
BOOK: Book = ([(D(99), D(1)), (D(98), D(2))], [(D(100), D("0.5")), (D(101), D(1))])
_seq = iter(range(1, 10_000))


def ev(kind: str, **fields: Any) -> dict[str, Any]:
    seq = next(_seq)
    base = {"event_id": f"BTC-USDT:{seq}", "causation_id": command_id(KEY),
            "symbol": "BTC-USDT", "seq": seq, "kind": kind, "account": "acct",
            "client_order_id": KEY, "side": "buy"}
    return base | fields


def fill(kind: str, qty: str, price: str, trade: str, leaves: str,
         maker: bool = False) -> dict[str, Any]:
    return ev(kind, qty=qty, price=price, trade_id=trade, leaves_qty=leaves, is_maker=maker)


def test_the_child_is_a_limit_ioc_keyed_by_its_key() -> None:
    order = ioc_order(KEY, account="acct", symbol="BTC-USDT", side="buy", qty=D("0.3"),
                      limit_price=D(101), ts_sent=datetime.now(UTC))
    assert (order.order_type, order.time_in_force, order.price) == ("limit", "IOC", D(101))
    assert order.client_order_id == KEY and order.command_id == f"route:{KEY}"
    assert by_name("orders.requests").decode(by_name("orders.requests").encode(order)) == order


@pytest.mark.parametrize(("side", "qty", "price"), [
    ("buy", "0.5", "100"), ("buy", "0.6", "101"), ("buy", "9", "101"),
    ("sell", "1", "99"), ("sell", "1.5", "98")])
def test_protective_price_is_the_worst_level_taken(side: str, qty: str, price: str) -> None:
    assert protective_price(BOOK, side, D(qty)) == D(price)
    assert protective_price(([], []), side, D(qty)) is None


def test_split_records_the_worst_level_as_the_child_limit() -> None:
    books = {"strikeflow": BOOK, "okx": ([(D(99), D(1))], [(D("100.5"), D("0.2"))])}
    split = split_order("buy", D(1), books, {"strikeflow": D(0), "okx": D(0)},
                        {"strikeflow": D("0.1"), "okx": D("0.1")})
    worst = {s.venue: s.worst_price for s in split.slices}
    assert worst == {"okx": D("100.5"), "strikeflow": D(101)}
    parent = ParentOrder("p1", "BTC-USDT", "buy", D(1), arrival_price=D(100))
    (child,) = [c for c in parent.route(books, {"strikeflow": D(0), "okx": D(0)},
                                        {"strikeflow": D("0.1"), "okx": D("0.1")})
                if c.venue == "strikeflow"]
    assert child.limit_price == D(101)
    assert ChildOrder.from_record(child.to_record()) == child
    old = child.to_record()
    del old["limit_price"]  # a record written before the field: still readable
    assert ChildOrder.from_record(old).limit_price is None


def test_fills_then_the_ioc_remainder_give_an_exact_average_and_booking_fees() -> None:
    events = [ev("accepted", qty="1.5", leaves_qty="1.5"),
              fill("partially_filled", "0.5", "100", "t1", "1"),
              fill("partially_filled", "0.5", "102", "t2", "0.5", maker=True),
              ev("cancelled", leaves_qty="0.5", reason_code=1201)]
    got = assemble(KEY, "BTC-USDT", "buy", events, reference_price=D("99.5"))
    assert isinstance(got, VenueFill)
    assert got.qty == 1 and got.avg_price == 101 and str(got.avg_price) == "101"
    assert got.fee == FEES.fee(to_usdt(D(50)), option=False, maker=False) + FEES.fee(
        to_usdt(D(51)), option=False, maker=True)
    assert (got.venue, got.client_order_id, got.reference_price) == ("strikeflow", KEY,
                                                                     D("99.5"))


def test_a_non_terminating_average_is_cut_at_the_contracts_18_places() -> None:
    events = [fill("partially_filled", "1", "100", "t1", "2"),
              fill("partially_filled", "1", "100", "t2", "1"),
              fill("filled", "1", "101", "t3", "0")]
    got = assemble(KEY, "BTC-USDT", "buy", events)
    assert isinstance(got, VenueFill)
    assert got.qty == 3 and abs(got.avg_price - D(301) / 3) < D("1e-17")
    assert got.avg_price.as_tuple().exponent == -18


def test_an_ioc_that_takes_nothing_is_a_fill_of_zero() -> None:
    got = assemble(KEY, "BTC-USDT", "buy", [ev("accepted"), ev("cancelled", leaves_qty="1")])
    assert isinstance(got, VenueFill) and got.qty == 0 and got.fee == 0
    parent = ParentOrder("p1", "BTC-USDT", "buy", D("0.3"), arrival_price=D(100))
    (child,) = parent.route({"strikeflow": BOOK}, {"strikeflow": D(0)},
                            {"strikeflow": D("0.1")})
    assert apply_answer(parent, child.key, got) is True
    assert parent.children[child.key].filled_qty == 0


def test_repeats_and_other_keys_count_once() -> None:
    first = fill("filled", "0.5", "100", "t1", "0")
    maker_side = first | {"event_id": "BTC-USDT:999", "client_order_id": "mm-1",
                          "is_maker": True}
    got = assemble(KEY, "BTC-USDT", "buy", [first, first, maker_side, dict(first)])
    assert isinstance(got, VenueFill) and got.qty == D("0.5") and got.avg_price == 100


def test_not_final_while_only_accepted_or_partly_filled() -> None:
    assert assemble(KEY, "BTC-USDT", "buy", []) is None
    assert assemble(KEY, "BTC-USDT", "buy", [ev("accepted")]) is None
    assert assemble(KEY, "BTC-USDT", "buy",
                    [fill("partially_filled", "0.1", "100", "t1", "0.2")]) is None


def test_a_refusal_is_a_venue_error_with_its_code() -> None:
    refused = ev("rejected", event_id=f"risk:{command_id(KEY)}", reason_code=5009,
                 reason="insufficient funds")
    got = assemble(KEY, "BTC-USDT", "buy", [refused, dict(refused)])
    assert isinstance(got, OwnBookRejected) and isinstance(got, VenueError)
    assert got.code == 5009 and "5009" in str(got)


@pytest.mark.parametrize("code", [1012, 5011])
def test_a_duplicate_refusal_is_never_final(code: int) -> None:
    """It answers a re-send whose first send may have traded: wait for that one."""
    dup = ev("rejected", reason_code=code, reason="duplicate")
    assert assemble(KEY, "BTC-USDT", "buy", [dup]) is None
    done = [dup, fill("filled", "0.3", "100", "t1", "0")]
    got = assemble(KEY, "BTC-USDT", "buy", done)
    assert isinstance(got, VenueFill) and got.qty == D("0.3")


class _NoProducer:
    def produce(self, *_: Any, **__: Any) -> None:
        raise AssertionError("a child with a known outcome must not be sent again")


def _venue() -> OwnBookVenue:
    venue = OwnBookVenue(get_settings(), lambda _s: BOOK, timeout_s=0.2,
                         producer=_NoProducer())  # type: ignore[arg-type]
    venue._stop.set()  # no reader thread: the test feeds what it would have read
    venue.ready.set()
    return venue


def _raw(events: list[dict[str, Any]]) -> list[bytes]:
    import orjson
    return [orjson.dumps(e) for e in events]


def test_a_child_seen_before_is_answered_from_the_events_not_sent_again() -> None:
    venue = _venue()
    other_command = fill("filled", "9", "100", "t9", "0") | {"causation_id": "gateway:x"}
    venue._apply(_raw([fill("partially_filled", "0.2", "100", "t1", "0.2"),
                       fill("filled", "0.2", "101", "t2", "0"), other_command]))
    got = venue.place_market_order(client_order_id=KEY, symbol="BTC-USDT", side="buy",
                                   qty=D("0.4"), account="acct", limit_price=D(101))
    assert got.qty == D("0.4") and got.avg_price == D("100.5")
    assert venue.find_order(KEY) == got
    assert venue.find_order("p2:1:strikeflow") is None
    with pytest.raises(VenueError):  # an order for no account cannot be sent
        venue.place_market_order(client_order_id=KEY, symbol="BTC-USDT", side="buy",
                                 qty=D("0.3"))


def test_a_refused_child_raises_again_on_a_resend() -> None:
    venue = _venue()
    venue._apply(_raw([ev("rejected", event_id=f"risk:{command_id(KEY)}", reason_code=5009,
                          reason="insufficient funds")]))
    for _ in range(2):
        with pytest.raises(OwnBookRejected) as err:
            venue.place_market_order(client_order_id=KEY, symbol="BTC-USDT", side="buy",
                                     qty=D("0.3"), account="acct", limit_price=D(101))
        assert err.value.code == 5009
    assert venue.find_order(KEY) is None
