"""Booking of order events into account activity: what each kind of event releases."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from streams.ledger import booking
from streams.ledger.booking import booking_outputs
from streams.risk.account import RISK_EVENT_PREFIX
from topics.contracts import OrderEvent, OrderReleased

D = Decimal
T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)


def event(kind: str, **fields: Any) -> OrderEvent:
    base: dict[str, Any] = {"event_id": "BTC-USDT:7", "ts_event": T0, "symbol": "BTC-USDT",
                            "seq": 7, "kind": kind, "account": "acc-1",
                            "client_order_id": "o1", "order_id": "BTC-USDT#3",
                            "causation_id": "cmd-9"}
    return OrderEvent(**(base | fields))


def releases(order_event: OrderEvent) -> list[OrderReleased]:
    return [r for _, _, r in booking_outputs(order_event) if isinstance(r, OrderReleased)]


@pytest.mark.parametrize("kind", ["filled", "cancelled", "expired"])
def test_a_finished_order_releases_everything(kind: str) -> None:
    [released] = releases(event(kind, leaves_qty=D(0)))
    assert (released.reason, released.command_id, released.leaves_qty) == (kind, None, None)
    assert released.event_id == "release:acc-1:o1:BTC-USDT:7"


@pytest.mark.parametrize("kind", ["rejected", "command_rejected"])
def test_a_rejection_names_the_command_it_answers(kind: str) -> None:
    [released] = releases(event(kind, order_id=None, reason_code=1012))
    assert (released.reason, released.command_id) == (kind, "cmd-9")


def test_an_applied_amend_carries_the_quantity_left() -> None:
    [released] = releases(event("amended", qty=D("0.5"), leaves_qty=D("0.3")))
    assert (released.command_id, released.leaves_qty) == ("cmd-9", D("0.3"))


def test_risk_own_rejections_are_not_booked() -> None:
    """Risk created nothing for a request it refused; the client order id such a rejection
    carries may be that of a live order (a reused id: 5011)."""
    assert booking.RISK_EVENT_PREFIX == RISK_EVENT_PREFIX
    for kind in ("rejected", "command_rejected"):
        assert booking_outputs(event(kind, event_id="risk:cmd-9", seq=0,
                                     reason_code=5011)) == []


@pytest.mark.parametrize("kind", ["accepted", "triggered"])
def test_events_that_change_no_hold_release_nothing(kind: str) -> None:
    assert releases(event(kind)) == []
