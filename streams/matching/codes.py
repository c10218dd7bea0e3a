"""Numbered result codes of the matching subsystem (the 1xxx block of the venue's code table).

Why numbers: reject and cancel reasons travel to clients, ClickHouse and dashboards, where a
stable integer outlives any renaming. Each subsystem owns one block (matching 1xxx, pre-trade
risk 2xxx, settlement 3xxx ...); inside the block:

* 1001-1099 — a submitted order was rejected before it was accepted;
* 1101-1199 — a cancel, amend or control command was refused;
* 1201-1299 — why an accepted order ended without (fully) filling.

A number, once published, keeps its meaning forever: to drop a code, move its number to
:data:`RETIRED` and never hand it out again (a unit test enforces both rules).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["RETIRED", "SUBSYSTEM_RANGE", "Code", "describe"]

#: Inclusive range of numbers this subsystem may use.
SUBSYSTEM_RANGE = range(1000, 2000)

#: Numbers that were once published and must never be reused (none retired yet).
RETIRED: frozenset[int] = frozenset()


class Code(IntEnum):
    """Reject / cancel / expiry reasons emitted by the matching engine."""

    # -- 1001-1099: order rejected at submission -----------------------------------------
    WRONG_INSTRUMENT = 1001
    INSTRUMENT_HALTED = 1002
    INSTRUMENT_EXPIRED = 1003
    INVALID_QUANTITY = 1004
    INVALID_PRICE = 1005
    INVALID_ORDER_TYPE = 1006
    INVALID_EXPIRE_TIME = 1007
    INVALID_STOP_PRICE = 1008
    INVALID_TRAILING_OFFSET = 1009
    INVALID_DISPLAY_QTY = 1010
    INVALID_PROTECTION_PRICE = 1011
    DUPLICATE_CLIENT_ORDER_ID = 1012
    POST_ONLY_WOULD_TAKE = 1013
    REDUCE_ONLY_UNAVAILABLE = 1014
    REDUCE_ONLY_WOULD_INCREASE = 1015
    STOP_WOULD_TRIGGER_IMMEDIATELY = 1016
    NO_REFERENCE_PRICE = 1017
    INVALID_STP_MODE = 1018
    INVALID_SIDE = 1019
    INVALID_IDENTIFIER = 1020

    # -- 1101-1199: cancel / amend / control command refused -----------------------------
    UNKNOWN_ORDER = 1101
    ORDER_NOT_AMENDABLE = 1102
    AMEND_NO_CHANGE = 1103
    AMEND_QTY_NOT_ABOVE_FILLED = 1104
    UNKNOWN_COMMAND = 1105
    INVALID_MARK_PRICE = 1106
    INVALID_STATUS_TRANSITION = 1107
    MISSING_ORDER_REFERENCE = 1108
    INVALID_TIMESTAMP = 1109
    BLOCK_TRADE_WITH_ITSELF = 1110

    # -- 1201-1299: why a live order ended unfilled --------------------------------------
    CANCELLED_BY_USER = 1201
    MASS_CANCELLED = 1202
    IOC_REMAINDER = 1203
    FOK_NOT_FILLABLE = 1204
    MARKET_REMAINDER = 1205
    MARKET_NO_LIQUIDITY = 1206
    SELF_TRADE_PREVENTED = 1207
    GTD_EXPIRED = 1208


_DESCRIPTIONS: dict[Code, str] = {
    Code.WRONG_INSTRUMENT: "command addressed to another instrument's engine",
    Code.INSTRUMENT_HALTED: "instrument is halted: only cancels are accepted",
    Code.INSTRUMENT_EXPIRED: "instrument has expired",
    Code.INVALID_QUANTITY: "quantity must be an int number of lots >= the minimum",
    Code.INVALID_PRICE: "limit price must be a positive int number of ticks",
    Code.INVALID_ORDER_TYPE: "unsupported combination of order type, time in force and flags",
    Code.INVALID_EXPIRE_TIME: "GTD needs an expire time after the engine clock; others none",
    Code.INVALID_STOP_PRICE: "stop price must be a positive int number of ticks",
    Code.INVALID_TRAILING_OFFSET: "trailing offset must be a positive int number of ticks",
    Code.INVALID_DISPLAY_QTY: "iceberg display quantity must be >= minimum and <= quantity",
    Code.INVALID_PROTECTION_PRICE: "market protection price must be a positive int of ticks",
    Code.DUPLICATE_CLIENT_ORDER_ID: "client order id already used by this account",
    Code.POST_ONLY_WOULD_TAKE: "post-only order would have traded on arrival",
    Code.REDUCE_ONLY_UNAVAILABLE: "reduce-only needs a position source, none is configured",
    Code.REDUCE_ONLY_WOULD_INCREASE: "reduce-only order would increase the position",
    Code.STOP_WOULD_TRIGGER_IMMEDIATELY: "stop price already reached by the trigger price",
    Code.NO_REFERENCE_PRICE: "trailing stop needs a last trade price to trail",
    Code.INVALID_STP_MODE: "self-trade prevention mode must be a StpMode member",
    Code.INVALID_SIDE: "side must be Side.BUY or Side.SELL",
    Code.INVALID_IDENTIFIER: "command, account and client order ids must be str",
    Code.UNKNOWN_ORDER: "no live order with this id for this account",
    Code.ORDER_NOT_AMENDABLE: "only resting limit orders can be amended",
    Code.AMEND_NO_CHANGE: "amend changes neither price nor quantity",
    Code.AMEND_QTY_NOT_ABOVE_FILLED: "amended quantity must exceed the filled quantity",
    Code.UNKNOWN_COMMAND: "command type not handled by the matching engine",
    Code.INVALID_MARK_PRICE: "mark price must be a positive int number of ticks",
    Code.INVALID_STATUS_TRANSITION: "instrument status cannot change that way",
    Code.MISSING_ORDER_REFERENCE: "cancel/amend needs an order id or a client order id",
    Code.INVALID_TIMESTAMP: "command timestamp must be int nanoseconds",
    Code.BLOCK_TRADE_WITH_ITSELF: "a block trade needs two different accounts",
    Code.CANCELLED_BY_USER: "cancelled on request",
    Code.MASS_CANCELLED: "cancelled by a mass cancel",
    Code.IOC_REMAINDER: "immediate-or-cancel remainder",
    Code.FOK_NOT_FILLABLE: "fill-or-kill could not be filled in full",
    Code.MARKET_REMAINDER: "market order remainder: protection price reached or book exhausted",
    Code.MARKET_NO_LIQUIDITY: "market order found no opposite liquidity",
    Code.SELF_TRADE_PREVENTED: "self-trade prevention cancelled this order",
    Code.GTD_EXPIRED: "good-till-date order reached its expire time",
}


def describe(code: int) -> str:
    """Human text for a code (for logs and dashboards; clients key on the number)."""
    try:
        return _DESCRIPTIONS[Code(code)]
    except ValueError:
        return f"unknown code {code}"
