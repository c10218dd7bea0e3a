"""Numbered result codes of block RFQs (the 6xxx block of the venue's code table).

Why numbers: a refused quote or accept travels to the taker, the makers, logs and dashboards,
where a stable integer outlives any renaming. Blocks in use: matching 1xxx, the counter
service 4xxx, pre-trade risk 5xxx, block RFQs 6xxx. Inside this block:

* 6001-6099 — a command was malformed (ids, time, sides, amounts, prices, legs);
* 6101-6199 — a maker's quote or quote cancel was refused;
* 6201-6299 — a taker's accept or cancel was refused;
* 6301-6399 — the RFQ is not open (never opened, expired, accepted, cancelled).

A number, once published, keeps its meaning forever: to drop a code, move its number to
:data:`RETIRED` and never hand it out again (a unit test enforces both rules).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["RETIRED", "SUBSYSTEM_RANGE", "RfqCode", "RfqError", "describe"]

#: Inclusive range of numbers this subsystem may use.
SUBSYSTEM_RANGE = range(6000, 7000)

#: Numbers once published and never to be reused (none retired yet).
RETIRED: frozenset[int] = frozenset()


class RfqError(Exception):
    """An RFQ invariant is broken (an impossible transition, a corrupt record): crash loudly.
    Bad *input* never raises; it is refused with an :class:`RfqCode`."""


class RfqCode(IntEnum):
    """Why a command on an RFQ was refused."""

    # -- 6001-6099: malformed command -------------------------------------------------------
    INVALID_IDENTIFIER = 6001
    INVALID_TIME = 6002
    INVALID_SIDE = 6003
    INVALID_AMOUNT = 6004
    INVALID_PRICE = 6005
    INVALID_LEG_COUNT = 6006
    INVALID_LEG = 6007
    DUPLICATE_LEG = 6008
    RATIOS_NOT_REDUCED = 6009
    NO_ADJUSTABLE_LEG = 6010
    RFQ_EXISTS = 6011

    # -- 6101-6199: quote refused -----------------------------------------------------------
    TAKER_CANNOT_QUOTE = 6101
    WRONG_SIDE = 6102
    QUOTE_AMOUNT_TOO_SMALL = 6103
    DUPLICATE_QUOTE_ID = 6104
    QUOTE_NOT_FOUND = 6105

    # -- 6201-6299: accept / cancel refused -------------------------------------------------
    NOT_TAKER = 6201
    NO_ELIGIBLE_QUOTE = 6202
    QUOTE_EXPIRED = 6203
    QUOTE_SIDE_MISMATCH = 6204
    LIMIT_NOT_MET = 6205
    NO_MARK = 6206
    LEG_PRICE_NOT_POSITIVE = 6207
    LEG_PRICES_NOT_EXACT = 6208
    LEG_NOT_TRADABLE = 6209
    TAKER_NOT_CLEARED = 6210
    MAKER_NOT_CLEARED = 6211

    # -- 6301-6399: RFQ not open ------------------------------------------------------------
    UNKNOWN_RFQ = 6301
    RFQ_EXPIRED = 6302
    RFQ_ALREADY_ACCEPTED = 6303
    RFQ_CANCELLED = 6304
    RFQ_CLEARING = 6305


_DESCRIPTIONS: dict[RfqCode, str] = {
    RfqCode.INVALID_IDENTIFIER: "command, RFQ, account and quote ids must be non-empty str",
    RfqCode.INVALID_TIME: "venue time must be a non-negative int of milliseconds",
    RfqCode.INVALID_SIDE: "side must be buy/sell (taker, one-sided flag) or bid/ask (quote)",
    RfqCode.INVALID_AMOUNT: "amount must be a finite Decimal > 0",
    RfqCode.INVALID_PRICE: "price must be a finite Decimal (a single leg's price > 0)",
    RfqCode.INVALID_LEG_COUNT: "an RFQ has 1 to max_legs legs",
    RfqCode.INVALID_LEG: "a leg needs a symbol, side buy/sell and a positive int ratio",
    RfqCode.DUPLICATE_LEG: "an instrument appears in more than one leg",
    RfqCode.RATIOS_NOT_REDUCED: "leg ratios share a common factor: divide them out",
    RfqCode.NO_ADJUSTABLE_LEG: "no leg ratio of the form 2^a*5^b to carry the price residual",
    RfqCode.RFQ_EXISTS: "an RFQ with this id was opened already",
    RfqCode.TAKER_CANNOT_QUOTE: "the taker cannot quote its own RFQ",
    RfqCode.WRONG_SIDE: "quote or accept side not allowed by the one-sided RFQ",
    RfqCode.QUOTE_AMOUNT_TOO_SMALL: "quote amount is below the RFQ amount",
    RfqCode.DUPLICATE_QUOTE_ID: "quote id already used in this RFQ",
    RfqCode.QUOTE_NOT_FOUND: "no live quote with this id (of this maker)",
    RfqCode.NOT_TAKER: "only the taker who opened the RFQ may accept or cancel it",
    RfqCode.NO_ELIGIBLE_QUOTE: "no live quote on that side",
    RfqCode.QUOTE_EXPIRED: "the quote's valid-until has passed",
    RfqCode.QUOTE_SIDE_MISMATCH: "the quote is on the other side of the accept",
    RfqCode.LIMIT_NOT_MET: "the quote's price is worse than the taker's limit",
    RfqCode.NO_MARK: "a leg has no positive finite mark to price it at",
    RfqCode.LEG_PRICE_NOT_POSITIVE: "splitting the net price would give a leg a price <= 0",
    RfqCode.LEG_PRICES_NOT_EXACT: "leg prices cannot add up to the net price exactly",
    RfqCode.LEG_NOT_TRADABLE: "a leg is not listed or not trading, or its price or quantity "
                              "is off the instrument's grid",
    RfqCode.TAKER_NOT_CLEARED: "risk refused the taker's side of the block trade (funds, "
                               "margin, exposure or KYC; the risk code is in the detail); "
                               "the RFQ stays open",
    RfqCode.MAKER_NOT_CLEARED: "risk refused the maker's side of the block trade (the risk "
                               "code is in the detail); its quote is withdrawn, the RFQ stays "
                               "open",
    RfqCode.UNKNOWN_RFQ: "no RFQ was opened with this id",
    RfqCode.RFQ_EXPIRED: "the RFQ has expired",
    RfqCode.RFQ_ALREADY_ACCEPTED: "the RFQ was accepted already",
    RfqCode.RFQ_CANCELLED: "the RFQ was cancelled by its taker",
    RfqCode.RFQ_CLEARING: "an accepted quote is being cleared by risk: wait for its outcome",
}


def describe(code: int) -> str:
    """Human text for a code (for logs and dashboards; clients key on the number)."""
    try:
        return _DESCRIPTIONS[RfqCode(code)]
    except ValueError:
        return f"unknown code {code}"
