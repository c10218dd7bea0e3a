"""Events → Elasticsearch actions: ids, the order upsert's fields, money kept exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from sinks.search_index.documents import (
    actions_for,
    audit_message,
    dead_letter_doc,
    order_update,
)
from topics.contracts import OrderEvent, RiskAlert, SettlementResult, Trade

T0 = datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC)
SCRIPT = "test-order-upsert"


def _order(kind: str, seq: int, **fields: Any) -> OrderEvent:
    base: dict[str, Any] = {"event_id": f"BTC-USDT:{seq}", "ts_event": T0 + timedelta(seconds=seq),
                            "symbol": "BTC-USDT", "seq": seq, "kind": kind, "account": "acc-1",
                            "client_order_id": "c-1", "order_id": "BTC-USDT#7"}
    return OrderEvent(**(base | fields))


def _params(action: dict[str, Any]) -> dict[str, Any]:
    return action["script"]["params"]


def test_accepted_sets_identity_once_and_state_by_seq() -> None:
    ev = _order("accepted", 5, side="buy", order_type="limit", time_in_force="GTC",
                price=Decimal("43250.500000000000000001"), qty=Decimal("1.5"))
    action = order_update(ev, SCRIPT)
    assert action is not None
    assert action["_id"] == "BTC-USDT#7" and action["_op_type"] == "update"
    assert action["scripted_upsert"] is True and action["script"]["id"] == SCRIPT
    params = _params(action)
    assert params["seq"] == 5
    assert params["once"] == {"order_id": "BTC-USDT#7", "account": "acc-1", "symbol": "BTC-USDT",
                              "client_order_id": "c-1", "side": "buy", "order_type": "limit",
                              "time_in_force": "GTC", "created_at": "2026-11-23T09:00:05.123456Z"}
    assert params["fields"] == {"updated_at": "2026-11-23T09:00:05.123456Z",
                                "last_event": "accepted", "status": "open",
                                "price": "43250.500000000000000001", "qty": "1.5",
                                "leaves_qty": "1.5"}


@pytest.mark.parametrize(("kind", "extra", "expected"), [
    ("partially_filled", {"price": Decimal("100.25"), "qty": Decimal("0.5"),
                          "leaves_qty": Decimal("1"), "trade_id": "BTC-USDT:9",
                          "is_maker": True, "side": "buy"},
     {"status": "partially_filled", "last_fill_price": "100.25", "last_fill_qty": "0.5",
      "leaves_qty": "1", "last_trade_id": "BTC-USDT:9"}),
    ("filled", {"price": Decimal("100"), "qty": Decimal("1"), "leaves_qty": Decimal("0"),
                "trade_id": "BTC-USDT:10", "is_maker": False, "side": "buy"},
     {"status": "filled", "last_fill_price": "100", "last_fill_qty": "1", "leaves_qty": "0",
      "last_trade_id": "BTC-USDT:10"}),
    ("amended", {"price": Decimal("99"), "qty": Decimal("2"), "leaves_qty": Decimal("2")},
     {"price": "99", "qty": "2", "leaves_qty": "2"}),
    ("cancelled", {"leaves_qty": Decimal("0.75")}, {"status": "cancelled", "leaves_qty": "0.75"}),
    ("triggered", {"trigger_price": Decimal("101")},
     {"status": "triggered", "trigger_price": "101"}),
])
def test_state_fields_per_kind(kind: str, extra: dict[str, Any],
                               expected: dict[str, Any]) -> None:
    action = order_update(_order(kind, 9, **extra), SCRIPT)
    assert action is not None
    fields = _params(action)["fields"]
    assert fields.pop("last_event") == kind
    assert fields.pop("updated_at") == "2026-11-23T09:00:09.123456Z"
    assert fields == expected


def test_a_rejection_without_order_id_is_its_own_document() -> None:
    ev = _order("rejected", 3, order_id=None, event_id="BTC-USDT:reject:cmd-1",
                reason_code=1101, reason="INSUFFICIENT_MARGIN: not enough")
    action = order_update(ev, SCRIPT)
    assert action is not None and action["_id"] == "BTC-USDT:reject:cmd-1"
    assert _params(action)["fields"]["status"] == "rejected"
    assert _params(action)["fields"]["reason_code"] == 1101


def test_command_rejections_touch_no_order_but_are_audited_and_notified() -> None:
    ev = _order("command_rejected", 4, reason_code=1201, reason="UNKNOWN_ORDER: no such order")
    assert order_update(ev, SCRIPT) is None
    kinds = [k for k, _ in actions_for("orders.events", ev, SCRIPT)]
    assert kinds == ["audit", "notifications"]


def test_fill_gives_order_audit_and_notification_with_event_id() -> None:
    ev = _order("filled", 12, price=Decimal("43000.1"), qty=Decimal("0.25"),
                leaves_qty=Decimal("0"), trade_id="BTC-USDT:11", is_maker=False, side="sell")
    planned = dict(actions_for("orders.events", ev, SCRIPT))
    assert set(planned) == {"orders", "audit", "notifications"}
    audit, note = planned["audit"], planned["notifications"]
    assert audit["_op_type"] == note["_op_type"] == "create"
    assert audit["_id"] == note["_id"] == "BTC-USDT:12"
    assert audit["_source"]["message"] == (
        "order BTC-USDT#7 (client order c-1) filled for account acc-1: sold 0.25 BTC-USDT "
        "@ 43000.1 as taker, 0 left, trade BTC-USDT:11")
    assert audit["_source"]["payload"]["price"] == "43000.1"
    assert note["_source"]["title"] == "Sold 0.25 BTC-USDT @ 43000.1"
    assert note["_source"]["category"] == "fill"


def test_acceptance_gives_no_notification() -> None:
    ev = _order("accepted", 1, side="buy", order_type="market", qty=Decimal("1"))
    assert [k for k, _ in actions_for("orders.events", ev, SCRIPT)] == ["orders", "audit"]


def test_trade_document_keeps_money_exact() -> None:
    tr = Trade(event_id="ETH-USDT:5", ts_event=T0, symbol="ETH-USDT", trade_id="ETH-USDT:5",
               price=Decimal("3199.123456789"), qty=Decimal("0.000000003"),
               aggressor_side="buy", maker_order_id="ETH-USDT#1", taker_order_id="ETH-USDT#2",
               maker_account="m", taker_account="t", seq=5)
    [(kind, action)] = actions_for("trades", tr, SCRIPT)
    doc = action["_source"]
    assert (kind, action["_id"]) == ("trades", "ETH-USDT:5")
    assert doc["notional"] == "0.000009597370370367"
    assert Decimal(doc["notional"]) == tr.price * tr.qty
    assert doc["accounts"] == ["m", "t"] and doc["ts_event"] == "2026-11-23T09:00:00.123456Z"


def test_settlement_and_risk_messages_and_notifications() -> None:
    booked = SettlementResult(event_id="settlement:o-1:booked", ts_event=T0, order_id="o-1",
                              account="acc-2", state="booked", product="BTC-20261225-100000-C",
                              premium=Decimal("125.5"), fee=Decimal("0.25"),
                              hedge_side="buy", hedge_qty=Decimal("0.01"),
                              hedge_symbol="BTC-USDT", hedge_price=Decimal("90000"))
    assert audit_message(booked) == (
        "settlement of order o-1 for account acc-2: booked, product BTC-20261225-100000-C, "
        "premium 125.5 USDT, fee 0.25 USDT, hedge buy 0.01 BTC-USDT @ 90000")
    planned = dict(actions_for("settlement.results", booked, SCRIPT))
    assert set(planned) == {"audit", "notifications"}
    assert planned["notifications"]["_source"]["category"] == "settlement"
    hedging = booked.model_copy(update={"state": "hedging", "event_id": "settlement:o-1:h"})
    assert [k for k, _ in actions_for("settlement.results", hedging, SCRIPT)] == ["audit"]
    alert = RiskAlert(event_id="risk:acc-2:margin_call:1", ts_event=T0, account="acc-2",
                      kind="margin_call", level="critical", message="equity below maintenance",
                      margin_ratio=Decimal("1.05"))
    planned = dict(actions_for("risk.alerts", alert, SCRIPT))
    assert planned["audit"]["_source"]["message"] == (
        "risk alert critical margin call for account acc-2: equity below maintenance "
        "(margin ratio 1.05)")
    assert planned["notifications"]["_source"]["level"] == "critical"


def test_dead_letter_id_names_the_source_offset() -> None:
    a = dead_letter_doc("trades", 2, 41, b"k", b"\xffnot json", "invalid", "boom", "x-trades")
    b = dead_letter_doc("trades", 2, 41, b"k", b"\xffnot json", "invalid", "boom", "x-trades")
    assert a["_id"] == b["_id"] == "trades:2:41:x-trades"
    assert a["_source"]["payload"] == "\ufffdnot json" and a["_source"]["key"] == "k"
