"""Inputs no code of ours wrote, generated and mutated: the gateway answers every one with
a 2xx or a 4xx, never a 5xx, and a WebSocket survives any frame."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect

from .conftest import Trader, Venue

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.redis]

FUZZ = settings(max_examples=60, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=12)

ORDER_FIELDS = ("symbol", "side", "type", "qty", "price", "trigger_price", "trail_ticks",
                "time_in_force", "expire_at", "post_only", "reduce_only", "display_qty",
                "client_order_id", "account")


def _valid(symbol: str) -> dict[str, Any]:
    return {"symbol": symbol, "side": "buy", "type": "limit", "qty": "0.001", "price": "1",
            "time_in_force": "IOC"}


@st.composite
def mutated_orders(draw: st.DrawFn, symbol: str) -> Any:
    """A valid order with fields dropped, replaced by any JSON value, or added; or any JSON."""
    if draw(st.integers(0, 5)) == 0:
        return draw(json_values)
    order = _valid(symbol)
    for field in draw(st.lists(st.sampled_from(ORDER_FIELDS), max_size=3, unique=True)):
        if draw(st.booleans()) and field in order:
            del order[field]
        else:
            order[field] = draw(json_values | st.sampled_from(
                ["1e400", "-0", "NaN", "Infinity", "0.0000000000000000000000001", "٣",
                 "BTC-USDT", "GTD", "9" * 40, "", " buy"]))
    return order


def test_any_order_body_gets_a_2xx_or_4xx(venue: Venue, trader: Callable[..., Trader]) -> None:
    who = trader(funds=Decimal(1000))
    statuses: list[int] = []

    @FUZZ
    @given(body=mutated_orders(venue.symbol))
    def post(body: Any) -> None:
        r = who.http.post("/api/v1/orders", content=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json"})
        statuses.append(r.status_code)
        assert r.status_code < 500, (body, r.status_code, r.text)
        assert "detail" in r.json() or "status" in r.json()

    post()
    assert any(400 <= s < 500 for s in statuses)


def test_any_websocket_frame_is_answered_and_the_socket_stays(
        venue: Venue, trader: Callable[..., Trader]) -> None:
    who = trader(funds=Decimal(0))
    url = venue.url.replace("http", "ws") + "/ws"
    with connect(url, open_timeout=10) as ws:
        ws.send(json.dumps({"op": "auth", "token": who.tokens["access_token"]}))
        assert json.loads(ws.recv(timeout=10))["op"] == "authenticated"

        @FUZZ
        @given(frame=json_values | st.fixed_dictionaries(
            {"op": st.sampled_from(["subscribe", "unsubscribe", "place", "amend", "cancel",
                                    "auth", "nope"])}, optional={
                "channels": json_values, "since": json_values, "id": json_values,
                "symbol": json_values, "qty": json_values, "token": json_values}))
        def send(frame: Any) -> None:
            ws.send(json.dumps(frame))
            ws.send('{"op": "ping"}')
            while True:  # every frame is answered; the ping's pong comes after it
                msg = json.loads(ws.recv(timeout=15))
                assert msg.get("error") != "internal error", (frame, msg)
                if msg.get("op") == "pong":
                    break

        send()
