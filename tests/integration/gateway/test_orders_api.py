"""Orders through the gateway: risk's answer, fills, the account's views, WebSocket entry."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.conftest import wait_for

from .conftest import Trader, Venue

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.redis]


def _order(venue: Venue, side: str, qty: str, price: str, **extra: Any) -> dict[str, Any]:
    return {"symbol": venue.symbol, "side": side, "type": "limit", "qty": qty, "price": price,
            "client_order_id": f"c-{uuid.uuid4().hex[:12]}", **extra}


def test_an_order_is_answered_with_risks_decision(venue: Venue,
                                                  trader: Callable[..., Trader]) -> None:
    rich, broke = trader(), trader(funds=Decimal(0))
    ok = rich.http.post("/api/v1/orders", json=_order(venue, "buy", "1", "100"))
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "accepted" and ok.json()["order_id"]
    refused = broke.http.post("/api/v1/orders", json=_order(venue, "buy", "1", "100"))
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["status"] == "rejected" and 5000 <= body["code"] < 6000 and body["reason"]


def test_a_crossing_order_fills_and_every_view_shows_it(venue: Venue,
                                                        trader: Callable[..., Trader]) -> None:
    maker, taker = trader(), trader()
    sell = _order(venue, "sell", "2", "250")
    assert maker.http.post("/api/v1/orders", json=sell).json()["status"] == "accepted"
    book = wait_for(lambda: (r := maker.http.get(f"/api/v1/market/book/{venue.symbol}"))
                    .status_code == 200 and (Decimal(250), Decimal(2)) in [
                        (Decimal(p), Decimal(q)) for p, q in r.json()["asks"]] and r.json(),
                    20, "the ask in the book")
    assert book["symbol"] == venue.symbol
    buy = _order(venue, "buy", "0.5", "250")
    answer = taker.http.post("/api/v1/orders", json=buy)
    assert answer.status_code == 200 and answer.json()["status"] == "accepted", answer.text
    order = wait_for(lambda: (r := taker.http.get(f"/api/v1/orders/{buy['client_order_id']}"))
                     .json().get("status") == "filled" and r.json(), 20, "the taker filled")
    assert Decimal(order["filled_qty"]) == Decimal("0.5")
    open_sells = maker.http.get("/api/v1/orders", params={"status": "open"}).json()
    (resting,) = [o for o in open_sells if o["client_order_id"] == sell["client_order_id"]]
    assert resting["status"] == "partially_filled" and Decimal(resting["leaves_qty"]) == \
        Decimal("1.5")
    position = wait_for(lambda: [p for p in taker.http.get("/api/v1/positions").json()
                                 if p["symbol"] == venue.symbol], 30, "the taker's position")
    assert Decimal(position[0]["qty"]) == Decimal("0.5")
    trades = taker.http.get(f"/api/v1/market/trades/{venue.symbol}").json()
    assert any(Decimal(t["price"]) == 250 and Decimal(t["qty"]) == Decimal("0.5")
               for t in trades)
    portfolio = taker.http.get("/api/v1/portfolio")
    assert portfolio.status_code in (200, 503)  # 503: no ClickHouse sink in this session


def test_cancel_and_cancel_all_end_open_orders(venue: Venue,
                                               trader: Callable[..., Trader]) -> None:
    who = trader()
    orders = [_order(venue, "buy", "1", str(10 + n)) for n in range(3)]
    for o in orders:
        assert who.http.post("/api/v1/orders", json=o).json()["status"] == "accepted"
    one = who.http.delete(f"/api/v1/orders/{orders[0]['client_order_id']}",
                          params={"symbol": venue.symbol})
    assert one.status_code == 200 and one.json()["status"] == "cancelled", one.text
    unknown = who.http.delete("/api/v1/orders/nope", params={"symbol": venue.symbol})
    assert unknown.status_code == 422 and unknown.json()["status"] == "command_rejected"
    wait_for(lambda: len(who.http.get("/api/v1/orders").json()) == 2, 20, "two left open")
    assert who.http.delete("/api/v1/orders", params={"symbol": venue.symbol}).status_code == 200
    wait_for(lambda: who.http.get("/api/v1/orders").json() == [], 20, "none left open")


def test_orders_over_websocket_and_the_private_channels(venue: Venue,
                                                        trader: Callable[..., Trader]) -> None:
    maker, taker = trader(), trader()
    assert maker.http.post("/api/v1/orders", json=_order(venue, "sell", "1", "300")).json()[
        "status"] == "accepted"
    url = venue.url.replace("http", "ws") + "/ws"
    with connect(url, open_timeout=10) as ws:
        ws.send(json.dumps({"op": "auth", "token": taker.tokens["access_token"]}))
        ws.send(json.dumps({"op": "subscribe",
                            "channels": ["fills", "orders", f"book.{venue.symbol}", "bogus"]}))
        buy = _order(venue, "buy", "1", "300")
        ws.send(json.dumps({"op": "place", "id": "r1", **buy}))
        seen: list[dict[str, Any]] = []
        while not (any(m.get("op") == "result" for m in seen)
                   and any(m.get("channel") == "fills" and m["type"] == "update" for m in seen)):
            seen.append(json.loads(ws.recv(timeout=20)))
    subscribed = next(m for m in seen if m.get("op") == "subscribed")
    assert subscribed["refused"] == ["bogus"]
    result = next(m for m in seen if m.get("op") == "result")
    assert result["id"] == "r1" and result["http_status"] == 200
    fill = next(m for m in seen if m.get("channel") == "fills" and m["type"] == "update")
    # the book may hold cheaper asks of earlier tests: the buy takes those first
    assert Decimal(fill["data"]["price"]) <= 300 and fill["data"]["liquidity"] == "taker"
    assert fill["data"]["client_order_id"] == buy["client_order_id"]
    assert fill["seq"] >= 1


def test_websocket_private_channels_and_orders_need_a_login(venue: Venue) -> None:
    with connect(venue.url.replace("http", "ws") + "/ws", open_timeout=10) as ws:
        ws.send(json.dumps({"op": "subscribe", "channels": ["orders", "fills"]}))
        ws.send(json.dumps({"op": "place", "id": "x", **_order(venue, "buy", "1", "1")}))
        got = [json.loads(ws.recv(timeout=10)) for _ in range(2)]
    assert next(m for m in got if m.get("op") == "subscribed")["refused"] == ["orders", "fills"]
    assert next(m for m in got if m.get("op") == "result")["http_status"] == 401
