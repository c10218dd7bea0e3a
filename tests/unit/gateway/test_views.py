"""Live views from the topics: book deltas, order states, fills, positions."""

from __future__ import annotations

from typing import Any

from gateway.feed import Client, Hub
from gateway.views import LiveViews, book_delta


def _book(seq: int, bids: list[list[str]], asks: list[list[str]]) -> dict[str, Any]:
    return {"symbol": "BTC-USDT", "source": "venue", "seq": seq, "bids": bids, "asks": asks,
            "ts_event": f"2026-12-04T12:00:0{seq % 10}Z"}


def test_book_deltas_carry_changed_and_removed_levels() -> None:
    old = {"bids": {"100": "1", "99": "2"}, "asks": {"101": "1"}}
    new = {"bids": {"100": "3"}, "asks": {"101": "1", "102": "5"}}
    assert book_delta(old, new) == {"bids": [["100", "3"], ["99", "0"]],
                                    "asks": [["102", "5"]]}


def test_a_subscriber_rebuilds_the_book_from_snapshot_and_deltas() -> None:
    hub = Hub()
    views = LiveViews(hub)
    views.apply("md.book", _book(1, [["100", "1"]], [["101", "1"]]))
    client = Client(100)
    hub.subscribe(client, "book.BTC-USDT")
    views.apply("md.book", _book(2, [["100", "1"], ["99", "4"]], []))
    views.apply("md.book", _book(2, [["1", "1"]], []))  # a replay: ignored
    views.apply("md.book", {**_book(3, [], []), "source": "binance"})  # not our book
    msgs = [client.queue.get_nowait() for _ in range(client.queue.qsize())]
    snap, delta = msgs[0], msgs[1]
    book = {side: dict(snap["data"][side]) for side in ("bids", "asks")}
    for side in ("bids", "asks"):
        for price, qty in delta["data"][side]:
            if qty == "0":
                book[side].pop(price)
            else:
                book[side][price] = qty
    assert book == {"bids": {"100": "1", "99": "4"}, "asks": {}}
    assert views.book("BTC-USDT")["engine_seq"] == 2


def _event(kind: str, **extra: Any) -> dict[str, Any]:
    return {"symbol": "BTC-USDT", "kind": kind, "account": "acc-a", "client_order_id": "c1",
            "event_id": f"BTC-USDT:{kind}", "ts_event": "2026-12-04T12:00:00Z", **extra}


def test_order_events_keep_open_orders_and_publish_fills() -> None:
    hub = Hub()
    views = LiveViews(hub)
    views.apply("orders.events", _event("accepted", side="buy", price="100", qty="2",
                                        leaves_qty="2", order_id="BTC-USDT#1"))
    assert [o["client_order_id"] for o in views.open_orders("acc-a")] == ["c1"]
    views.apply("orders.events", _event("partially_filled", price="100", qty="0.5",
                                        leaves_qty="1.5", is_maker=True, trade_id="t1"))
    order = views.orders["acc-a"]["c1"]
    assert (order["status"], order["qty"], order["filled_qty"], order["leaves_qty"]) == (
        "partially_filled", "2", "0.5", "1.5")
    fills = [d for _, d in hub.channels["fills:acc-a"].ring]
    assert fills[0]["liquidity"] == "maker" and fills[0]["qty"] == "0.5"
    views.apply("orders.events", _event("cancelled", leaves_qty="0"))
    assert views.open_orders("acc-a") == []
    views.apply("orders.events", {**_event("rejected"), "account": None})  # no account: skip
    assert "c1" in views.orders["acc-a"]


def test_an_older_position_does_not_replace_a_newer_one() -> None:
    views = LiveViews(Hub())
    pos = {"account": "acc-a", "symbol": "BTC-USDT", "qty": "1", "avg_price": "100",
           "realized_pnl": "0", "unrealized_pnl": "5", "seq": 7}
    views.apply("positions", pos)
    views.apply("positions", pos | {"qty": "9", "seq": 6})
    assert views.positions["acc-a"]["BTC-USDT"]["qty"] == "1"


def test_a_rejected_cancel_of_an_unknown_order_keeps_no_order() -> None:
    hub = Hub()
    views = LiveViews(hub)
    views.apply("orders.events", _event("command_rejected", reason_code=1002, reason="unknown"))
    assert views.orders["acc-a"] == {} and views.open_orders("acc-a") == []
    (update,) = [d for _, d in hub.channels["orders:acc-a"].ring]
    assert update["event"] == "command_rejected" and update["reason_code"] == 1002


def test_a_block_rfq_is_a_private_auction_each_maker_sees_only_its_own() -> None:
    views = LiveViews(Hub())
    steps = [
        {"kind": "rfq_opened", "account": "tk"},
        {"kind": "quote_added", "account": "m1", "maker": "m1", "quote_id": "a"},
        {"kind": "quote_added", "account": "m2", "maker": "m2", "quote_id": "b"},
        {"kind": "quote_refused", "account": "m3", "quote_id": "c", "code": 6104},
        {"kind": "rfq_clearing", "account": "tk", "maker": "m2", "price": "50"},
        {"kind": "rfq_refused", "account": "tk", "maker": "m2", "code": 6211},
        {"kind": "rfq_expired"},
    ]
    for seq, step in enumerate(steps, 1):
        views.apply("rfq.events", step | {"rfq_id": "r1", "event_id": f"r1:{seq}", "seq": seq})
    assert [s["kind"] for s in views.rfq("r1", "tk") or []] == [s["kind"] for s in steps]
    seen = {who: [(s["kind"], s.get("quote_id"), s.get("account"))
                  for s in views.rfq("r1", who) or []] for who in ("m1", "m2", "m3", "x")}
    assert seen["m1"] == [("rfq_opened", None, None), ("quote_added", "a", "m1"),
                          ("rfq_expired", None, None)]
    assert seen["m2"] == [("rfq_opened", None, None), ("quote_added", "b", "m2"),
                          ("rfq_clearing", None, None), ("rfq_refused", None, None),
                          ("rfq_expired", None, None)]
    assert seen["m3"] == [("rfq_opened", None, None), ("quote_refused", "c", "m3"),
                          ("rfq_expired", None, None)]
    assert seen["x"] == [("rfq_opened", None, None), ("rfq_expired", None, None)]
    assert views.rfq("nope", "tk") is None
