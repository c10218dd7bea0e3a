"""Numbered result codes of the counter service (the 4xxx block of the venue's code table).

Why numbers: a refusal travels to the client, to logs and to dashboards, where a stable integer
outlives any renaming. The venue's blocks are matching 1xxx, pre-trade risk 2xxx, settlement
3xxx (see ``streams/matching/codes.py``); the counter service that sells simplified options
takes 4xxx. Inside the block:

* 4001-4099 — a request was malformed (nothing was looked up);
* 4101-4199 — the account, the product or the order refused it;
* 4201-4299 — pricing refused it;
* 4301-4399 — money refused it.

A number, once published, keeps its meaning forever: to drop a code, move its number to
:data:`RETIRED` and never hand it out again (a unit test enforces both rules).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["RETIRED", "SUBSYSTEM_RANGE", "CounterCode", "describe"]

#: Inclusive range of numbers this subsystem may use.
SUBSYSTEM_RANGE = range(4000, 5000)

#: Numbers once published and never to be reused (none retired yet).
RETIRED: frozenset[int] = frozenset()


class CounterCode(IntEnum):
    """Why the counter service refused a request."""

    # -- 4001-4099: malformed request -----------------------------------------------------
    INVALID_QUANTITY = 4001
    INVALID_CLIENT_ORDER_ID = 4002
    INVALID_ACCOUNT_ID = 4003
    INVALID_AMOUNT = 4004
    INVALID_REFERENCE = 4005
    INVALID_PRODUCT = 4006

    # -- 4101-4199: account or product refused ---------------------------------------------
    UNKNOWN_ACCOUNT = 4101
    ACCOUNT_NOT_ACTIVE = 4102
    UNKNOWN_PRODUCT = 4103
    PRODUCT_NOT_TRADING = 4104
    PRODUCT_EXPIRED = 4105
    TOO_CLOSE_TO_EXPIRY = 4106
    UNKNOWN_ORDER = 4107
    INVALID_STATUS_TRANSITION = 4108

    # -- 4201-4299: pricing refused ----------------------------------------------------------
    NO_PRICE = 4201
    STALE_PRICE = 4202
    PRICING_FAILED = 4203

    # -- 4301-4399: money refused --------------------------------------------------------------
    INSUFFICIENT_BALANCE = 4301
    TRANSFER_CONFLICT = 4302


_TEXT: dict[CounterCode, str] = {
    CounterCode.INVALID_QUANTITY: "contracts must be a positive multiple of the step, at most "
                                  "the maximum per order",
    CounterCode.INVALID_CLIENT_ORDER_ID: "client order id must be 1-64 of [A-Za-z0-9_.:-]",
    CounterCode.INVALID_ACCOUNT_ID: "account id must be 1-64 of [A-Za-z0-9_.:-]",
    CounterCode.INVALID_AMOUNT: "amount must be a positive USDT amount with at most 8 decimals",
    CounterCode.INVALID_REFERENCE: "transfer reference must be 1-128 printable characters",
    CounterCode.INVALID_PRODUCT: "product definition is not valid",
    CounterCode.UNKNOWN_ACCOUNT: "no such account",
    CounterCode.ACCOUNT_NOT_ACTIVE: "account is not active",
    CounterCode.UNKNOWN_PRODUCT: "no such product",
    CounterCode.PRODUCT_NOT_TRADING: "product is not listed for sale",
    CounterCode.PRODUCT_EXPIRED: "product has expired",
    CounterCode.TOO_CLOSE_TO_EXPIRY: "product is too close to expiry to be sold",
    CounterCode.UNKNOWN_ORDER: "no such order",
    CounterCode.INVALID_STATUS_TRANSITION: "the order cannot move to that status",
    CounterCode.NO_PRICE: "no price for the underlying",
    CounterCode.STALE_PRICE: "the underlying's price is too old to quote on",
    CounterCode.PRICING_FAILED: "the premium could not be computed",
    CounterCode.INSUFFICIENT_BALANCE: "USDT balance does not cover premium and fee",
    CounterCode.TRANSFER_CONFLICT: "a transfer with this reference exists with other terms",
}


def describe(code: CounterCode) -> str:
    """A one-line human explanation of a code (for CLIs and logs)."""
    return _TEXT[code]
