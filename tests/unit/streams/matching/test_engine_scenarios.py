"""Scenario tables: one row per behaviour of every order type and command.

Each row is ``(setup, action, expected events, expected book or None)``; events are
summarised by :class:`Harness` with client order ids as order names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from streams.instruments import TradingStatus
from streams.matching import Code, OrderType, PostOnly, StpMode, TimeInForce, TriggerSource
from tests.unit.streams.matching.harness import BUY, SELL, Harness

C = Code
OT = OrderType
TIF = TimeInForce
Step = Callable[[Harness], Any]


def case(
    setup: list[Step],
    action: Step,
    events: list[tuple],
    book: dict[str, list[tuple]] | None = None,
    **config: Any,
) -> tuple:
    return (setup, action, events, book, config)


def stop_market(h: Harness, name: str, side: Any, qty: int, stop: int, **kw: Any) -> Any:
    return h.submit(name, side, qty, order_type=OT.STOP_MARKET, stop_price=stop, **kw)


SCENARIOS: dict[str, tuple] = {
    # ---------------------------------------------------------------- limit
    "limit rests when it does not cross": case(
        [lambda h: h.sell("a1", 10, 101)],
        lambda h: h.buy("b1", 5, 100),
        [("accepted", "b1", 100)],
        {"bids": [("b1", 100, 5, 5)], "asks": [("a1", 101, 10, 10)]},
    ),
    "crossing limit fills at the maker price": case(
        [lambda h: h.sell("a1", 10, 101)],
        lambda h: h.buy("b1", 10, 103),
        [
            ("accepted", "b1", 103),
            ("trade", "a1", "b1", 101, 10),
            ("filled", "a1", 101, 10),
            ("filled", "b1", 101, 10),
        ],
        {"bids": [], "asks": []},
    ),
    "partial cross rests the remainder": case(
        [lambda h: h.sell("a1", 4, 101)],
        lambda h: h.buy("b1", 10, 101),
        [
            ("accepted", "b1", 101),
            ("trade", "a1", "b1", 101, 4),
            ("filled", "a1", 101, 4),
            ("partial", "b1", 101, 4, 6),
        ],
        {"bids": [("b1", 101, 6, 6)], "asks": []},
    ),
    "better price first, then earlier order": case(
        [
            lambda h: h.sell("a1", 5, 102),
            lambda h: h.sell("a2", 5, 101),
            lambda h: h.sell("a3", 5, 101),
        ],
        lambda h: h.buy("b1", 12, 102),
        [
            ("accepted", "b1", 102),
            ("trade", "a2", "b1", 101, 5),
            ("filled", "a2", 101, 5),
            ("partial", "b1", 101, 5, 7),
            ("trade", "a3", "b1", 101, 5),
            ("filled", "a3", 101, 5),
            ("partial", "b1", 101, 5, 2),
            ("trade", "a1", "b1", 102, 2),
            ("partial", "a1", 102, 2, 3),
            ("filled", "b1", 102, 2),
        ],
        {"bids": [], "asks": [("a1", 102, 3, 3)]},
    ),
    # ---------------------------------------------------------------- market
    "market sweeps inside the default protection band": case(
        [
            lambda h: h.sell("a1", 3, 100),
            lambda h: h.sell("a2", 3, 104),
            lambda h: h.sell("a3", 3, 106),
        ],
        lambda h: h.buy("m1", 10, order_type=OT.MARKET),
        [
            ("accepted", "m1", None),
            ("trade", "a1", "m1", 100, 3),
            ("filled", "a1", 100, 3),
            ("partial", "m1", 100, 3, 7),
            ("trade", "a2", "m1", 104, 3),
            ("filled", "a2", 104, 3),
            ("partial", "m1", 104, 3, 4),
            ("cancelled", "m1", 4, C.MARKET_REMAINDER),
        ],
        {"bids": [], "asks": [("a3", 106, 3, 3)]},
    ),
    "market never trades through an explicit protection price": case(
        [lambda h: h.sell("a1", 3, 100), lambda h: h.sell("a2", 3, 101)],
        lambda h: h.buy("m1", 10, order_type=OT.MARKET, protection_price=100),
        [
            ("accepted", "m1", None),
            ("trade", "a1", "m1", 100, 3),
            ("filled", "a1", 100, 3),
            ("partial", "m1", 100, 3, 7),
            ("cancelled", "m1", 7, C.MARKET_REMAINDER),
        ],
    ),
    "market sell with no bids is cancelled": case(
        [],
        lambda h: h.sell("m1", 5, order_type=OT.MARKET),
        [("accepted", "m1", None), ("cancelled", "m1", 5, C.MARKET_NO_LIQUIDITY)],
    ),
    "market FOK is all or nothing": case(
        [lambda h: h.sell("a1", 3, 100)],
        lambda h: h.buy("m1", 5, order_type=OT.MARKET, time_in_force=TIF.FOK),
        [("accepted", "m1", None), ("cancelled", "m1", 5, C.FOK_NOT_FILLABLE)],
        {"bids": [], "asks": [("a1", 100, 3, 3)]},
    ),
    # ---------------------------------------------------------------- IOC / FOK
    "IOC fills what it can and cancels the rest": case(
        [lambda h: h.sell("a1", 3, 100)],
        lambda h: h.buy("i1", 5, 100, time_in_force=TIF.IOC),
        [
            ("accepted", "i1", 100),
            ("trade", "a1", "i1", 100, 3),
            ("filled", "a1", 100, 3),
            ("partial", "i1", 100, 3, 2),
            ("cancelled", "i1", 2, C.IOC_REMAINDER),
        ],
        {"bids": [], "asks": []},
    ),
    "IOC that cannot trade is cancelled": case(
        [],
        lambda h: h.buy("i1", 5, 100, time_in_force=TIF.IOC),
        [("accepted", "i1", 100), ("cancelled", "i1", 5, C.IOC_REMAINDER)],
    ),
    "FOK fills across levels when all is available": case(
        [lambda h: h.sell("a1", 3, 100), lambda h: h.sell("a2", 3, 101)],
        lambda h: h.buy("f1", 5, 101, time_in_force=TIF.FOK),
        [
            ("accepted", "f1", 101),
            ("trade", "a1", "f1", 100, 3),
            ("filled", "a1", 100, 3),
            ("partial", "f1", 100, 3, 2),
            ("trade", "a2", "f1", 101, 2),
            ("partial", "a2", 101, 2, 1),
            ("filled", "f1", 101, 2),
        ],
    ),
    "FOK short within its limit trades nothing": case(
        [lambda h: h.sell("a1", 3, 100), lambda h: h.sell("a2", 3, 101)],
        lambda h: h.buy("f1", 5, 100, time_in_force=TIF.FOK),
        [("accepted", "f1", 100), ("cancelled", "f1", 5, C.FOK_NOT_FILLABLE)],
        {"bids": [], "asks": [("a1", 100, 3, 3), ("a2", 101, 3, 3)]},
    ),
    "FOK counts the hidden part of an iceberg": case(
        [lambda h: h.sell("a1", 10, 100, display_qty=2)],
        lambda h: h.buy("f1", 8, 100, time_in_force=TIF.FOK),
        [("accepted", "f1", 100)]
        + [
            ev
            for left in (8, 6, 4, 2)
            for ev in (
                ("trade", "a1", "f1", 100, 2),
                ("partial", "a1", 100, 2, left),
                ("partial", "f1", 100, 2, left - 2) if left > 2 else ("filled", "f1", 100, 2),
            )
        ],
        {"bids": [], "asks": [("a1", 100, 2, 2)]},
    ),
    "FOK blocked by own order under cancel-newest": case(
        [lambda h: h.sell("a1", 5, 100, account_id="X")],
        lambda h: h.buy(
            "f1", 5, 100, time_in_force=TIF.FOK, account_id="X", stp=StpMode.CANCEL_NEWEST
        ),
        [("accepted", "f1", 100), ("cancelled", "f1", 5, C.FOK_NOT_FILLABLE)],
        {"bids": [], "asks": [("a1", 100, 5, 5)]},
    ),
    "FOK sees that an iceberg refresh queues behind its own order": case(
        [
            lambda h: h.sell("a1", 4, 98, account_id="A", display_qty=1),
            lambda h: h.sell("c1", 5, 98, account_id="C"),
        ],
        lambda h: h.buy(
            "f1", 3, 98, time_in_force=TIF.FOK, account_id="C", stp=StpMode.CANCEL_NEWEST
        ),
        [("accepted", "f1", 98), ("cancelled", "f1", 3, C.FOK_NOT_FILLABLE)],
        {"bids": [], "asks": [("a1", 98, 4, 1), ("c1", 98, 5, 5)]},
    ),
    # ---------------------------------------------------------------- GTD
    "GTD expires when the clock reaches its time": case(
        [lambda h: h.buy("g1", 5, 100, time_in_force=TIF.GTD, expire_ts=1000)],
        lambda h: h.advance(1000),
        [("expired", "g1", 5, C.GTD_EXPIRED)],
        {"bids": [], "asks": []},
    ),
    "GTD is alive one nanosecond before": case(
        [lambda h: h.buy("g1", 5, 100, time_in_force=TIF.GTD, expire_ts=1000)],
        lambda h: h.advance(999),
        [],
        {"bids": [("g1", 100, 5, 5)], "asks": []},
    ),
    "GTD already past is rejected": case(
        [lambda h: h.advance(500)],
        lambda h: h.buy("g1", 5, 100, time_in_force=TIF.GTD, expire_ts=500),
        [("rejected", "g1", C.INVALID_EXPIRE_TIME)],
    ),
    "any command's timestamp expires due GTD orders first": case(
        [lambda h: h.buy("g1", 5, 100, time_in_force=TIF.GTD, expire_ts=1000)],
        lambda h: h.sell("s1", 5, 100, ts=1000),
        [("expired", "g1", 5, C.GTD_EXPIRED), ("accepted", "s1", 100)],
        {"bids": [], "asks": [("s1", 100, 5, 5)]},
    ),
    # ---------------------------------------------------------------- post-only
    "post-only reject mode refuses to take": case(
        [lambda h: h.sell("a1", 5, 101)],
        lambda h: h.buy("p1", 5, 101, post_only=PostOnly.REJECT),
        [("rejected", "p1", C.POST_ONLY_WOULD_TAKE)],
    ),
    "post-only re-price mode goes one tick behind the best ask": case(
        [lambda h: h.sell("a1", 5, 101)],
        lambda h: h.buy("p1", 5, 103, post_only=PostOnly.REPRICE),
        [("accepted", "p1", 100)],
        {"bids": [("p1", 100, 5, 5)], "asks": [("a1", 101, 5, 5)]},
    ),
    "post-only sell re-prices one tick above the best bid": case(
        [lambda h: h.buy("b1", 5, 100)],
        lambda h: h.sell("p1", 5, 99, post_only=PostOnly.REPRICE),
        [("accepted", "p1", 101)],
    ),
    "passive post-only rests unchanged": case(
        [lambda h: h.sell("a1", 5, 101)],
        lambda h: h.buy("p1", 5, 100, post_only=PostOnly.REJECT),
        [("accepted", "p1", 100)],
    ),
    # ---------------------------------------------------------------- reduce-only
    "reduce-only without a position source is rejected": case(
        [],
        lambda h: h.buy("r1", 5, 100, reduce_only=True),
        [("rejected", "r1", C.REDUCE_ONLY_UNAVAILABLE)],
    ),
    # ---------------------------------------------------------------- stops
    "buy stop-market fires on the last trade": case(
        [
            lambda h: h.sell("a1", 5, 100),
            lambda h: h.sell("a2", 5, 105),
            lambda h: stop_market(h, "s1", BUY, 5, 100),
        ],
        lambda h: h.buy("t1", 5, 100),
        [
            ("accepted", "t1", 100),
            ("trade", "a1", "t1", 100, 5),
            ("filled", "a1", 100, 5),
            ("filled", "t1", 100, 5),
            ("triggered", "s1", 100),
            ("trade", "a2", "s1", 105, 5),
            ("filled", "a2", 105, 5),
            ("filled", "s1", 105, 5),
        ],
    ),
    "sell stop-limit fires, trades, then rests": case(
        [
            lambda h: h.buy("b1", 5, 100),
            lambda h: h.sell("s1", 5, 98, order_type=OT.STOP_LIMIT, stop_price=100),
        ],
        lambda h: h.sell("t1", 2, 100),
        [
            ("accepted", "t1", 100),
            ("trade", "b1", "t1", 100, 2),
            ("partial", "b1", 100, 2, 3),
            ("filled", "t1", 100, 2),
            ("triggered", "s1", 100),
            ("trade", "b1", "s1", 100, 3),
            ("filled", "b1", 100, 3),
            ("partial", "s1", 100, 3, 2),
        ],
        {"bids": [], "asks": [("s1", 98, 2, 2)]},
    ),
    "mark-price stop fires on a mark update": case(
        [
            lambda h: h.sell("a1", 5, 100),
            lambda h: stop_market(h, "s1", BUY, 5, 105, trigger=TriggerSource.MARK),
            lambda h: h.mark(104),
        ],
        lambda h: h.mark(105),
        [
            ("triggered", "s1", 105),
            ("trade", "a1", "s1", 100, 5),
            ("filled", "a1", 100, 5),
            ("filled", "s1", 100, 5),
        ],
    ),
    "stop already reached is rejected": case(
        [lambda h: h.sell("a1", 1, 100), lambda h: h.buy("b1", 1, 100)],
        lambda h: stop_market(h, "s1", BUY, 5, 99),
        [("rejected", "s1", C.STOP_WOULD_TRIGGER_IMMEDIATELY)],
    ),
    "pending stop can be cancelled": case(
        [lambda h: stop_market(h, "s1", BUY, 5, 105)],
        lambda h: h.cancel("s1"),
        [("cancelled", "s1", 5, C.CANCELLED_BY_USER)],
    ),
    "fired stop moves the price and fires the next": case(
        [
            lambda h: h.sell("a1", 5, 100),
            lambda h: h.sell("a2", 5, 101),
            lambda h: h.sell("a3", 5, 102),
            lambda h: stop_market(h, "s1", BUY, 5, 100),
            lambda h: stop_market(h, "s2", BUY, 5, 101),
        ],
        lambda h: h.buy("t1", 5, 100),
        [
            ("accepted", "t1", 100),
            ("trade", "a1", "t1", 100, 5),
            ("filled", "a1", 100, 5),
            ("filled", "t1", 100, 5),
            ("triggered", "s1", 100),
            ("trade", "a2", "s1", 101, 5),
            ("filled", "a2", 101, 5),
            ("filled", "s1", 101, 5),
            ("triggered", "s2", 101),
            ("trade", "a3", "s2", 102, 5),
            ("filled", "a3", 102, 5),
            ("filled", "s2", 102, 5),
        ],
    ),
    "trailing sell stop follows the high and fires on the drop": case(
        [
            lambda h: h.sell("a1", 1, 100),
            lambda h: h.buy("b1", 1, 100),
            lambda h: h.sell("ts1", 5, order_type=OT.TRAILING_STOP, trailing_offset=3),
            lambda h: h.sell("a2", 1, 105),
            lambda h: h.buy("b2", 1, 105),
            lambda h: h.buy("b3", 5, 101),
        ],
        lambda h: h.sell("x1", 1, 101),
        [
            ("accepted", "x1", 101),
            ("trade", "b3", "x1", 101, 1),
            ("partial", "b3", 101, 1, 4),
            ("filled", "x1", 101, 1),
            ("triggered", "ts1", 101),
            ("trade", "b3", "ts1", 101, 4),
            ("filled", "b3", 101, 4),
            ("partial", "ts1", 101, 4, 1),
            ("cancelled", "ts1", 1, C.MARKET_REMAINDER),
        ],
    ),
    "trailing stop needs a last price": case(
        [],
        lambda h: h.sell("ts1", 5, order_type=OT.TRAILING_STOP, trailing_offset=3),
        [("rejected", "ts1", C.NO_REFERENCE_PRICE)],
    ),
    # ---------------------------------------------------------------- iceberg
    "iceberg shows only its display quantity": case(
        [],
        lambda h: h.sell("i1", 10, 101, display_qty=3),
        [("accepted", "i1", 101)],
        {"bids": [], "asks": [("i1", 101, 10, 3)]},
    ),
    "iceberg refresh goes behind later orders": case(
        [lambda h: h.sell("i1", 10, 101, display_qty=3), lambda h: h.sell("a1", 5, 101)],
        lambda h: h.buy("b1", 6, 101),
        [
            ("accepted", "b1", 101),
            ("trade", "i1", "b1", 101, 3),
            ("partial", "i1", 101, 3, 7),
            ("partial", "b1", 101, 3, 3),
            ("trade", "a1", "b1", 101, 3),
            ("partial", "a1", 101, 3, 2),
            ("filled", "b1", 101, 3),
        ],
        {"bids": [], "asks": [("a1", 101, 2, 2), ("i1", 101, 7, 3)]},
    ),
    # ---------------------------------------------------------------- cancel
    "cancel by client order id": case(
        [lambda h: h.buy("b1", 5, 100)],
        lambda h: h.cancel("b1"),
        [("cancelled", "b1", 5, C.CANCELLED_BY_USER)],
        {"bids": [], "asks": []},
    ),
    "cancel by engine order id": case(
        [lambda h: h.buy("b1", 5, 100)],
        lambda h: h.cancel_id(1, "acct-b1"),
        [("cancelled", "b1", 5, C.CANCELLED_BY_USER)],
    ),
    "cancel of an unknown order is refused": case(
        [],
        lambda h: h.cancel("nope"),
        [("command_rejected", "CancelOrder", C.UNKNOWN_ORDER)],
    ),
    "cancel of another account's order is refused": case(
        [lambda h: h.buy("b1", 5, 100)],
        lambda h: h.cancel("b1", account="intruder"),
        [("command_rejected", "CancelOrder", C.UNKNOWN_ORDER)],
        {"bids": [("b1", 100, 5, 5)], "asks": []},
    ),
    "cancel of a filled order is refused": case(
        [lambda h: h.buy("b1", 5, 100), lambda h: h.sell("a1", 5, 100)],
        lambda h: h.cancel("b1"),
        [("command_rejected", "CancelOrder", C.UNKNOWN_ORDER)],
    ),
    "mass cancel of one account": case(
        [
            lambda h: h.buy("b1", 5, 100, account_id="X"),
            lambda h: h.buy("b2", 5, 99, account_id="Y"),
            lambda h: h.sell("a1", 5, 105, account_id="X"),
            lambda h: stop_market(h, "s1", BUY, 1, 110, account_id="X"),
        ],
        lambda h: h.mass_cancel("X"),
        [
            ("cancelled", "b1", 5, C.MASS_CANCELLED),
            ("cancelled", "a1", 5, C.MASS_CANCELLED),
            ("cancelled", "s1", 1, C.MASS_CANCELLED),
        ],
        {"bids": [("b2", 99, 5, 5)], "asks": []},
    ),
    "mass cancel of one side": case(
        [
            lambda h: h.buy("b1", 5, 100),
            lambda h: h.sell("a1", 5, 105),
            lambda h: h.sell("a2", 5, 106),
        ],
        lambda h: h.mass_cancel(None, SELL),
        [("cancelled", "a1", 5, C.MASS_CANCELLED), ("cancelled", "a2", 5, C.MASS_CANCELLED)],
        {"bids": [("b1", 100, 5, 5)], "asks": []},
    ),
    # ---------------------------------------------------------------- amend
    "quantity decrease keeps priority": case(
        [lambda h: h.buy("b1", 10, 100), lambda h: h.buy("b2", 10, 100)],
        lambda h: h.amend("b1", qty=4),
        [("amended", "b1", 100, 4, 4, True)],
        {"bids": [("b1", 100, 4, 4), ("b2", 100, 10, 10)], "asks": []},
    ),
    "quantity increase loses priority": case(
        [lambda h: h.buy("b1", 10, 100), lambda h: h.buy("b2", 10, 100)],
        lambda h: h.amend("b1", qty=12),
        [("amended", "b1", 100, 12, 12, False)],
        {"bids": [("b2", 100, 10, 10), ("b1", 100, 12, 12)], "asks": []},
    ),
    "price change loses priority": case(
        [lambda h: h.buy("b1", 10, 100), lambda h: h.buy("b2", 10, 99)],
        lambda h: h.amend("b1", price=99),
        [("amended", "b1", 99, 10, 10, False)],
        {"bids": [("b2", 99, 10, 10), ("b1", 99, 10, 10)], "asks": []},
    ),
    "amend into the spread trades": case(
        [lambda h: h.sell("a1", 5, 101), lambda h: h.buy("b1", 10, 100)],
        lambda h: h.amend("b1", price=101),
        [
            ("amended", "b1", 101, 10, 10, False),
            ("trade", "a1", "b1", 101, 5),
            ("filled", "a1", 101, 5),
            ("partial", "b1", 101, 5, 5),
        ],
        {"bids": [("b1", 101, 5, 5)], "asks": []},
    ),
    "amend quantity counts what already filled": case(
        [lambda h: h.sell("a1", 4, 100), lambda h: h.buy("b1", 10, 100)],
        lambda h: h.amend("b1", qty=5),
        [("amended", "b1", 100, 5, 1, True)],
        {"bids": [("b1", 100, 1, 1)], "asks": []},
    ),
    "amend to no more than filled is refused": case(
        [lambda h: h.sell("a1", 4, 100), lambda h: h.buy("b1", 10, 100)],
        lambda h: h.amend("b1", qty=4),
        [("command_rejected", "AmendOrder", C.AMEND_QTY_NOT_ABOVE_FILLED)],
    ),
    "amend without change is refused": case(
        [lambda h: h.buy("b1", 10, 100)],
        lambda h: h.amend("b1", price=100, qty=10),
        [("command_rejected", "AmendOrder", C.AMEND_NO_CHANGE)],
    ),
    "post-only amend that would cross is refused": case(
        [lambda h: h.sell("a1", 5, 101), lambda h: h.buy("p1", 5, 100, post_only=PostOnly.REJECT)],
        lambda h: h.amend("p1", price=101),
        [("command_rejected", "AmendOrder", C.POST_ONLY_WOULD_TAKE)],
        {"bids": [("p1", 100, 5, 5)], "asks": [("a1", 101, 5, 5)]},
    ),
    "stops cannot be amended": case(
        [lambda h: stop_market(h, "s1", BUY, 5, 105)],
        lambda h: h.amend("s1", qty=3),
        [("command_rejected", "AmendOrder", C.ORDER_NOT_AMENDABLE)],
    ),
    "iceberg quantity decrease trims the visible part": case(
        [lambda h: h.sell("i1", 10, 101, display_qty=4)],
        lambda h: h.amend("i1", qty=3),
        [("amended", "i1", 101, 3, 3, True)],
        {"bids": [], "asks": [("i1", 101, 3, 3)]},
    ),
    # ---------------------------------------------------------------- self-trade prevention
    "STP cancel newest cancels the incoming order": case(
        [lambda h: h.sell("a1", 5, 100, account_id="X")],
        lambda h: h.buy("b1", 5, 100, account_id="X", stp=StpMode.CANCEL_NEWEST),
        [("accepted", "b1", 100), ("cancelled", "b1", 5, C.SELF_TRADE_PREVENTED)],
        {"bids": [], "asks": [("a1", 100, 5, 5)]},
    ),
    "STP cancel oldest cancels the resting order and goes on": case(
        [
            lambda h: h.sell("a1", 5, 100, account_id="X"),
            lambda h: h.sell("a2", 5, 100, account_id="Y"),
        ],
        lambda h: h.buy("b1", 5, 100, account_id="X", stp=StpMode.CANCEL_OLDEST),
        [
            ("accepted", "b1", 100),
            ("cancelled", "a1", 5, C.SELF_TRADE_PREVENTED),
            ("trade", "a2", "b1", 100, 5),
            ("filled", "a2", 100, 5),
            ("filled", "b1", 100, 5),
        ],
        {"bids": [], "asks": []},
    ),
    "STP cancel both": case(
        [lambda h: h.sell("a1", 5, 100, account_id="X")],
        lambda h: h.buy("b1", 5, 100, account_id="X", stp=StpMode.CANCEL_BOTH),
        [
            ("accepted", "b1", 100),
            ("cancelled", "a1", 5, C.SELF_TRADE_PREVENTED),
            ("cancelled", "b1", 5, C.SELF_TRADE_PREVENTED),
        ],
        {"bids": [], "asks": []},
    ),
    "STP none lets an account trade with itself": case(
        [lambda h: h.sell("a1", 5, 100, account_id="X")],
        lambda h: h.buy("b1", 5, 100, account_id="X", stp=StpMode.NONE),
        [
            ("accepted", "b1", 100),
            ("trade", "a1", "b1", 100, 5),
            ("filled", "a1", 100, 5),
            ("filled", "b1", 100, 5),
        ],
    ),
    "STP newest after a partial fill": case(
        [
            lambda h: h.sell("a1", 3, 100, account_id="Y"),
            lambda h: h.sell("a2", 5, 100, account_id="X"),
        ],
        lambda h: h.buy("b1", 8, 100, account_id="X", stp=StpMode.CANCEL_NEWEST),
        [
            ("accepted", "b1", 100),
            ("trade", "a1", "b1", 100, 3),
            ("filled", "a1", 100, 3),
            ("partial", "b1", 100, 3, 5),
            ("cancelled", "b1", 5, C.SELF_TRADE_PREVENTED),
        ],
        {"bids": [], "asks": [("a2", 100, 5, 5)]},
    ),
    # ---------------------------------------------------------------- halt / resume / expiry
    "halt announces the status": case(
        [],
        lambda h: h.halt(),
        [("status", TradingStatus.HALTED)],
    ),
    "halted book rejects new orders": case(
        [lambda h: h.halt()],
        lambda h: h.buy("b1", 5, 100),
        [("rejected", "b1", C.INSTRUMENT_HALTED)],
    ),
    "halted book still accepts cancels": case(
        [lambda h: h.buy("b1", 5, 100), lambda h: h.halt()],
        lambda h: h.cancel("b1"),
        [("cancelled", "b1", 5, C.CANCELLED_BY_USER)],
    ),
    "halted book refuses amends": case(
        [lambda h: h.buy("b1", 5, 100), lambda h: h.halt()],
        lambda h: h.amend("b1", qty=3),
        [("command_rejected", "AmendOrder", C.INSTRUMENT_HALTED)],
    ),
    "resume fires stops reached during the halt": case(
        [
            lambda h: h.sell("a1", 5, 100),
            lambda h: stop_market(h, "s1", BUY, 5, 105, trigger=TriggerSource.MARK),
            lambda h: h.halt(),
            lambda h: h.mark(106),
        ],
        lambda h: h.resume(),
        [
            ("status", TradingStatus.TRADING),
            ("triggered", "s1", 106),
            ("trade", "a1", "s1", 100, 5),
            ("filled", "a1", 100, 5),
            ("filled", "s1", 100, 5),
        ],
    ),
    "resume while trading is refused": case(
        [],
        lambda h: h.resume(),
        [("command_rejected", "ResumeInstrument", C.INVALID_STATUS_TRANSITION)],
    ),
    "halt while halted is refused": case(
        [lambda h: h.halt()],
        lambda h: h.halt(),
        [("command_rejected", "HaltInstrument", C.INVALID_STATUS_TRANSITION)],
    ),
    "expiry expires every live order": case(
        [lambda h: h.buy("b1", 5, 100), lambda h: stop_market(h, "s1", SELL, 5, 90)],
        lambda h: h.expire(),
        [
            ("status", TradingStatus.EXPIRED),
            ("expired", "b1", 5, C.INSTRUMENT_EXPIRED),
            ("expired", "s1", 5, C.INSTRUMENT_EXPIRED),
        ],
        {"bids": [], "asks": []},
    ),
    "expired book rejects orders": case(
        [lambda h: h.expire()],
        lambda h: h.buy("b1", 5, 100),
        [("rejected", "b1", C.INSTRUMENT_EXPIRED)],
    ),
    "expired book cannot resume": case(
        [lambda h: h.expire()],
        lambda h: h.resume(),
        [("command_rejected", "ResumeInstrument", C.INVALID_STATUS_TRANSITION)],
    ),
    "clock past the instrument expiry expires it": case(
        [
            lambda h: h.buy("b1", 5, 100),
            lambda h: h.buy("g1", 5, 99, time_in_force=TIF.GTD, expire_ts=900),
        ],
        lambda h: h.advance(1000),
        [
            ("expired", "g1", 5, C.GTD_EXPIRED),
            ("status", TradingStatus.EXPIRED),
            ("expired", "b1", 5, C.INSTRUMENT_EXPIRED),
        ],
        {"bids": [], "asks": []},
        expiry_ts=1000,
    ),
    # ---------------------------------------------------------------- idempotence
    "repeated client order id is rejected": case(
        [lambda h: h.buy("b1", 5, 100)],
        lambda h: h.buy("b1", 5, 99),
        [("rejected", "b1", C.DUPLICATE_CLIENT_ORDER_ID)],
        {"bids": [("b1", 100, 5, 5)], "asks": []},
    ),
    "client order id of a finished order stays taken": case(
        [lambda h: h.buy("b1", 5, 100), lambda h: h.cancel("b1")],
        lambda h: h.buy("b1", 5, 99),
        [("rejected", "b1", C.DUPLICATE_CLIENT_ORDER_ID)],
    ),
    "same client order id on another account is fine": case(
        [lambda h: h.buy("b1", 5, 100)],
        lambda h: h.buy("b1", 5, 99, account_id="other"),
        [("accepted", "b1", 99)],
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario(name: str) -> None:
    setup, action, expected, book, config = SCENARIOS[name]
    h = Harness(**config)
    for step in setup:
        step(h)
    assert h.summary(action(h)) == expected
    if book is not None:
        assert h.book() == book


def test_repeated_command_id_is_ignored() -> None:
    h = Harness()
    command = h.submit_cmd("b1", BUY, 5, 100)
    first = h.run(command)
    assert h.summary(first) == [("accepted", "b1", 100)]
    assert h.run(command) == []
    cancel_events = h.cancel("b1")
    assert h.summary(cancel_events) == [("cancelled", "b1", 5, C.CANCELLED_BY_USER)]
    assert h.run(command) == []  # still remembered: never executed twice


def test_command_window_forgets_old_ids_but_never_loses_live_client_ids() -> None:
    h = Harness(command_window=4, client_id_window=3)
    live = h.submit_cmd("keep", BUY, 1, 90)
    h.run(live)
    for i in range(20):
        h.buy(f"x{i}", 1, 80)
        h.cancel(f"x{i}")
    assert h.summary(h.buy("keep", 1, 91)) == [("rejected", "keep", C.DUPLICATE_CLIENT_ORDER_ID)]
    assert h.summary(h.cancel("keep")) == [("cancelled", "keep", 1, C.CANCELLED_BY_USER)]
    for i in range(20):
        h.buy(f"y{i}", 1, 80)
    # far outside both windows: the command id and the finished client id are forgotten
    assert h.summary(h.run(live)) == [("accepted", "keep", 90)]
