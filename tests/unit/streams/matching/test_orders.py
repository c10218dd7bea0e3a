"""Command encoding and the order-status transition table."""

from __future__ import annotations

import dataclasses
import json

import pytest

from streams.matching import (
    COMMAND_TYPES,
    AdvanceTime,
    AmendOrder,
    CancelOrder,
    ExpireInstrument,
    HaltInstrument,
    InvalidTransition,
    MassCancel,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderStatus,
    OrderType,
    PostOnly,
    ResumeInstrument,
    Side,
    StpMode,
    SubmitOrder,
    TimeInForce,
    TriggerSource,
    UpdateMark,
    command_from_dict,
    command_to_dict,
    next_status,
)
from tests.unit.streams.matching.harness import IID

COMMANDS = [
    SubmitOrder(
        command_id="c1", instrument_id=IID, account_id="a", client_order_id="o",
        side=Side.SELL, qty=5, order_type=OrderType.STOP_LIMIT, price=90, stop_price=95,
        time_in_force=TimeInForce.GTD, expire_ts=10, trigger=TriggerSource.MARK,
        display_qty=2, stp=StpMode.CANCEL_BOTH, ts=3,
    ),
    SubmitOrder(command_id="c1b", instrument_id=IID, account_id="a", client_order_id="o",
                side=Side.BUY, qty=5, price=90, post_only=PostOnly.REPRICE),
    CancelOrder(command_id="c2", instrument_id=IID, account_id="a", order_id=3),
    AmendOrder(command_id="c3", instrument_id=IID, account_id="a", client_order_id="o", qty=4),
    MassCancel(command_id="c4", instrument_id=IID, side=Side.BUY),
    UpdateMark(command_id="c5", instrument_id=IID, mark_price=7),
    AdvanceTime(command_id="c6", instrument_id=IID, ts=9),
    HaltInstrument(command_id="c7", instrument_id=IID),
    ResumeInstrument(command_id="c8", instrument_id=IID),
    ExpireInstrument(command_id="c9", instrument_id=IID),
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: type(c).__name__)
def test_commands_round_trip_through_json(command: object) -> None:
    data = json.loads(json.dumps(command_to_dict(command)))  # type: ignore[arg-type]
    assert data["type"] in COMMAND_TYPES
    rebuilt = command_from_dict(data)
    assert rebuilt == command
    if isinstance(command, SubmitOrder):
        assert "plain" not in data and "structure_error" not in data
        assert rebuilt.plain == command.plain  # type: ignore[union-attr]


def test_replace_rechecks_structure() -> None:
    good = COMMANDS[1]
    bad = dataclasses.replace(good, qty=0)
    assert good.structure_error == 0 and bad.structure_error != 0  # type: ignore[union-attr]


def test_unknown_command_type_is_refused() -> None:
    with pytest.raises(KeyError):
        command_from_dict({"type": "Nope"})
    with pytest.raises(ValueError):
        command_from_dict({**command_to_dict(COMMANDS[1]), "side": "sideways"})


def _accepted(order_type: OrderType) -> OrderAccepted:
    return OrderAccepted(IID, 1, "c", 0, 1, "a", "o", Side.BUY, order_type,
                         TimeInForce.GTC, 10, None, 5)  # fmt: skip


def test_transition_table() -> None:
    status = next_status(None, _accepted(OrderType.LIMIT))
    assert status is OrderStatus.NEW
    assert next_status(None, _accepted(OrderType.STOP_MARKET)) is OrderStatus.PENDING_TRIGGER
    filled = OrderFilled(IID, 3, "c", 0, 1, "a", "o", Side.BUY, 2, 10, 5, 0, True)
    assert next_status(status, filled) is OrderStatus.FILLED
    with pytest.raises(InvalidTransition):
        next_status(OrderStatus.FILLED, OrderCancelled(IID, 4, "c", 0, 1, "a", "o", 0, 1201))
    with pytest.raises(InvalidTransition):
        next_status(OrderStatus.NEW, _accepted(OrderType.LIMIT))
