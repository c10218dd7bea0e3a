"""Bad input becomes a numbered reject, never an exception (table of malformed commands)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from streams.matching import (
    AdvanceTime,
    CancelOrder,
    Code,
    MassCancel,
    OrderRejected,
    OrderType,
    PostOnly,
    StpMode,
    SubmitOrder,
    TimeInForce,
    TriggerSource,
    UpdateMark,
    check_structure,
)
from tests.unit.streams.matching.harness import BUY, IID, Harness

C = Code
OT = OrderType
TIF = TimeInForce

# (overrides of a valid "buy 5 @ 100 GTC limit", expected code)
BAD_SUBMITS: dict[str, tuple[dict[str, Any], Code]] = {
    "zero quantity": ({"qty": 0}, C.INVALID_QUANTITY),
    "negative quantity": ({"qty": -1}, C.INVALID_QUANTITY),
    "float quantity": ({"qty": 1.5}, C.INVALID_QUANTITY),
    "bool quantity": ({"qty": True}, C.INVALID_QUANTITY),
    "limit without price": ({"price": None}, C.INVALID_PRICE),
    "zero price": ({"price": 0}, C.INVALID_PRICE),
    "float price": ({"price": 100.0}, C.INVALID_PRICE),
    "Decimal price": ({"price": Decimal("100")}, C.INVALID_PRICE),
    "market with a price": ({"order_type": OT.MARKET}, C.INVALID_PRICE),
    "side as plain string": ({"side": "buy"}, C.INVALID_SIDE),
    "order type as plain string": ({"order_type": "limit"}, C.INVALID_ORDER_TYPE),
    "tif as plain string": ({"time_in_force": "gtc"}, C.INVALID_ORDER_TYPE),
    "GTD without expire time": ({"time_in_force": TIF.GTD}, C.INVALID_EXPIRE_TIME),
    "GTC with expire time": ({"expire_ts": 10}, C.INVALID_EXPIRE_TIME),
    "market GTD": (
        {"order_type": OT.MARKET, "price": None, "time_in_force": TIF.GTD, "expire_ts": 9},
        C.INVALID_ORDER_TYPE,
    ),
    "post-only IOC": (
        {"post_only": PostOnly.REJECT, "time_in_force": TIF.IOC},
        C.INVALID_ORDER_TYPE,
    ),
    "post-only market": (
        {"post_only": PostOnly.REJECT, "order_type": OT.MARKET, "price": None},
        C.INVALID_ORDER_TYPE,
    ),
    "post-only as plain string": ({"post_only": "reject"}, C.INVALID_ORDER_TYPE),
    "display above quantity": ({"display_qty": 6}, C.INVALID_DISPLAY_QTY),
    "zero display": ({"display_qty": 0}, C.INVALID_DISPLAY_QTY),
    "iceberg IOC": ({"display_qty": 2, "time_in_force": TIF.IOC}, C.INVALID_ORDER_TYPE),
    "iceberg market": (
        {"display_qty": 2, "order_type": OT.MARKET, "price": None},
        C.INVALID_ORDER_TYPE,
    ),
    "stop-market without stop price": (
        {"order_type": OT.STOP_MARKET, "price": None},
        C.INVALID_STOP_PRICE,
    ),
    "limit with stop price": ({"stop_price": 90}, C.INVALID_STOP_PRICE),
    "limit with trailing offset": ({"trailing_offset": 3}, C.INVALID_TRAILING_OFFSET),
    "trailing without offset": (
        {"order_type": OT.TRAILING_STOP, "price": None},
        C.INVALID_TRAILING_OFFSET,
    ),
    "trailing on the mark": (
        {"order_type": OT.TRAILING_STOP, "price": None, "trailing_offset": 3,
         "trigger": TriggerSource.MARK},
        C.INVALID_ORDER_TYPE,
    ),
    "trigger as plain string": (
        {"order_type": OT.STOP_LIMIT, "stop_price": 90, "trigger": "mark"},
        C.INVALID_ORDER_TYPE,
    ),
    "stp as plain string": ({"stp": "none"}, C.INVALID_STP_MODE),
    "account id not a string": ({"account_id": None}, C.INVALID_IDENTIFIER),
    "client order id not a string": ({"client_order_id": 7}, C.INVALID_IDENTIFIER),
    "protection price on a limit": ({"protection_price": 100}, C.INVALID_PROTECTION_PRICE),
    "zero protection price": (
        {"order_type": OT.MARKET, "price": None, "protection_price": 0},
        C.INVALID_PROTECTION_PRICE,
    ),
    "reduce-only not a bool": ({"reduce_only": "yes"}, C.INVALID_ORDER_TYPE),
    "unknown order type value": ({"order_type": object()}, C.INVALID_ORDER_TYPE),
}  # fmt: skip


def _submit(**overrides: Any) -> SubmitOrder:
    fields: dict[str, Any] = {
        "command_id": "c1", "instrument_id": IID, "account_id": "acct",
        "client_order_id": "o1", "side": BUY, "qty": 5, "price": 100, "stp": StpMode.NONE,
    }  # fmt: skip
    fields.update(overrides)
    return SubmitOrder(**fields)


@pytest.mark.parametrize("name", list(BAD_SUBMITS))
def test_malformed_submit_is_rejected_with_its_code(name: str) -> None:
    overrides, code = BAD_SUBMITS[name]
    command = _submit(**overrides)
    assert check_structure(command) == code
    assert not command.plain
    h = Harness()
    events = h.run(command)
    assert len(events) == 1 and isinstance(events[0], OrderRejected)
    assert events[0].code == code
    assert h.engine.open_orders() == []


def test_a_valid_plain_limit_is_flagged_plain() -> None:
    command = _submit()
    assert command.structure_error == 0 and command.plain


@pytest.mark.parametrize(
    ("overrides", "code"),
    [({"qty": 4}, C.INVALID_QUANTITY), ({"qty": 10, "display_qty": 4}, C.INVALID_DISPLAY_QTY)],
)
def test_instrument_minimum_applies(overrides: dict[str, Any], code: Code) -> None:
    h = Harness(min_qty=5)
    events = h.run(_submit(**overrides))
    assert [type(e) for e in events] == [OrderRejected] and events[0].code == code


def test_wrong_instrument() -> None:
    h = Harness()
    assert h.summary(h.run(_submit(instrument_id="ETH-USDT"))) == [
        ("rejected", "o1", C.WRONG_INSTRUMENT)
    ]
    cancel = CancelOrder(command_id="c2", instrument_id="ETH-USDT", account_id="a", order_id=1)
    assert h.summary(h.run(cancel)) == [("command_rejected", "CancelOrder", C.WRONG_INSTRUMENT)]


def test_unknown_command_type() -> None:
    h = Harness()
    assert h.summary(h.run(object())) == [("command_rejected", "object", C.UNKNOWN_COMMAND)]


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (_submit(command_id=["not", "hashable"]), C.INVALID_IDENTIFIER),
        (_submit(ts=1.5), C.INVALID_TIMESTAMP),
        (_submit(ts=None), C.INVALID_TIMESTAMP),
    ],
)
def test_bad_envelope_fields(command: SubmitOrder, code: Code) -> None:
    events = Harness().run(command)
    assert [e.code for e in events] == [code]


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (UpdateMark(command_id="m", instrument_id=IID, mark_price=0), C.INVALID_MARK_PRICE),
        (UpdateMark(command_id="m", instrument_id=IID, mark_price=1.5), C.INVALID_MARK_PRICE),
        (CancelOrder(command_id="x", instrument_id=IID, account_id="a"),
         C.MISSING_ORDER_REFERENCE),
        (CancelOrder(command_id="x", instrument_id=IID, account_id="a", order_id="1"),
         C.INVALID_IDENTIFIER),
        (CancelOrder(command_id="x", instrument_id=IID, account_id="a", client_order_id=3),
         C.INVALID_IDENTIFIER),
        (MassCancel(command_id="x", instrument_id=IID, side="buy"), C.INVALID_SIDE),
        (MassCancel(command_id="x", instrument_id=IID, account_id=5), C.INVALID_IDENTIFIER),
    ],
)  # fmt: skip
def test_bad_control_commands(command: Any, code: Code) -> None:
    events = Harness().run(command)
    assert [e.code for e in events] == [code]


def test_amend_validation() -> None:
    h = Harness()
    h.buy("b1", 5, 100)
    assert h.summary(h.amend("b1", price=0)) == [
        ("command_rejected", "AmendOrder", C.INVALID_PRICE)
    ]
    assert h.summary(h.amend("b1", qty=2.5)) == [
        ("command_rejected", "AmendOrder", C.INVALID_QUANTITY)
    ]
    assert h.summary(h.amend("nope", qty=2)) == [
        ("command_rejected", "AmendOrder", C.UNKNOWN_ORDER)
    ]


def test_clock_only_moves_forward() -> None:
    h = Harness()
    h.run(AdvanceTime(command_id="t1", instrument_id=IID, ts=100))
    h.run(AdvanceTime(command_id="t2", instrument_id=IID, ts=50))
    assert h.engine.clock == 100
    (accepted,) = h.sell("s1", 1, 100, ts=10)
    assert accepted.ts == 100
    assert h.summary(h.sell("s2", 1, 100, time_in_force=TIF.GTD, expire_ts=100)) == [
        ("rejected", "s2", C.INVALID_EXPIRE_TIME)
    ]


def test_unhashable_identifiers_are_rejected_not_raised() -> None:
    h = Harness()
    h.buy("b1", 5, 100)
    cancel = CancelOrder(command_id="x", instrument_id=IID, account_id=["a"], client_order_id="b1")
    assert [e.code for e in h.run(cancel)] == [C.INVALID_IDENTIFIER]
    submit = _submit(command_id="y", account_id={"a": 1})
    assert [e.code for e in h.run(submit)] == [C.INVALID_IDENTIFIER]
