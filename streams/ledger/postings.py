"""Facts → balanced postings. Every posting's legs sum to exactly zero, and every id is a
function of the fact alone, so re-booking a fact re-emits the same ids (consumers upsert).

Exchange trades clear through ``house:clearing`` (the venue is every trade's counterparty,
as a clearing house is): the buyer pays clearing, clearing pays the seller. Each fill is its
own posting, so the booking agent needs no state; once both fills of a trade are booked,
clearing's net for that trade is zero — :func:`streams.ledger.checks.check_ledger` checks it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from streams.ledger.fees import to_usdt

__all__ = [
    "CLEARING",
    "HOUSE_CASH",
    "HOUSE_FEES",
    "HOUSE_HEDGE",
    "HOUSE_OPTIONS",
    "HOUSE_SETTLEMENT",
    "Leg",
    "Posting",
    "PostingError",
    "expiry_posting",
    "fill_posting",
    "hedge_posting",
    "option_sale_posting",
    "transfer_posting",
]

#: The house's accounts. ``house:cash`` is the outside world of USDT: deposits come from it
#: and withdrawals go back to it, so the ledger as a whole always sums to zero.
CLEARING = "house:clearing"
HOUSE_FEES = "house:fees"
HOUSE_OPTIONS = "house:options"  # premiums of the simplified options the house sells
HOUSE_HEDGE = "house:hedge"  # USDT spent and received hedging on external venues
HOUSE_SETTLEMENT = "house:settlement"  # expiry payouts of the house's option book
HOUSE_CASH = "house:cash"

Kind = Literal["trade", "fee", "premium", "settlement", "transfer", "hedge", "expiry"]


class PostingError(ValueError):
    """A posting that would not balance, or a fact that cannot be booked."""


@dataclass(frozen=True, slots=True)
class Leg:
    account: str
    amount: Decimal  # credit > 0, debit < 0
    kind: Kind
    symbol: str | None = None


@dataclass(frozen=True, slots=True)
class Posting:
    posting_id: str
    reference: str
    legs: tuple[Leg, ...]

    def __post_init__(self) -> None:
        total = sum((leg.amount for leg in self.legs), Decimal(0))
        if total != 0:
            raise PostingError(f"posting {self.posting_id} does not balance: {total}")
        if not self.legs:
            raise PostingError(f"posting {self.posting_id} has no legs")

    def entries(self) -> Iterator[tuple[str, Leg]]:
        """``(entry id, leg)`` for each leg: ``<posting id>:<leg number>``."""
        for number, leg in enumerate(self.legs):
            yield f"{self.posting_id}:{number}", leg

    def amount_of(self, account: str) -> Decimal:
        return sum((leg.amount for leg in self.legs if leg.account == account), Decimal(0))


def _legs(*legs: Leg) -> tuple[Leg, ...]:
    return tuple(leg for leg in legs if leg.amount != 0)


def fill_posting(*, trade_id: str, liquidity: str, account: str, symbol: str, cash: Decimal,
                 fee: Decimal, option: bool) -> Posting:
    """One side of a trade: ``cash`` (-notional buying, +notional selling) against clearing,
    and the fee to ``house:fees``."""
    kind: Kind = "premium" if option else "trade"
    legs = _legs(Leg(account, cash, kind, symbol), Leg(CLEARING, -cash, kind, symbol),
                 Leg(account, -fee, "fee", symbol), Leg(HOUSE_FEES, fee, "fee", symbol))
    return Posting(f"fill:{trade_id}:{liquidity}", f"trade {trade_id}", legs)


def transfer_posting(*, transfer_id: str, account: str, amount: Decimal,
                     reference: str) -> Posting:
    """A deposit (``amount`` > 0) or withdrawal (< 0) between the account and the world."""
    if amount == 0:
        raise PostingError(f"transfer {transfer_id} of zero")
    return Posting(f"transfer:{transfer_id}", reference,
                   (Leg(account, amount, "transfer"), Leg(HOUSE_CASH, -amount, "transfer")))


def option_sale_posting(*, order_id: str, account: str, product: str, premium: Decimal,
                        fee: Decimal) -> Posting:
    """A simplified option the house sold: the account paid premium + fee (the counter
    service debited it in the order database); the house books both."""
    legs = _legs(Leg(account, -premium, "premium", product),
                 Leg(HOUSE_OPTIONS, premium, "premium", product),
                 Leg(account, -fee, "fee", product), Leg(HOUSE_FEES, fee, "fee", product))
    return Posting(f"option-sale:{order_id}", f"simplified option {order_id}", legs)


def hedge_posting(*, hedge_id: str, venue: str, symbol: str, side: str, qty: Decimal,
                  price: Decimal, fee: Decimal) -> Posting:
    """The house's hedge trade on an external venue, in USDT: buying spends notional + fee,
    selling receives notional - fee. The venue's account is ``venue:<name>``."""
    notional = to_usdt(qty * price)
    cash = -notional if side == "buy" else notional
    legs = _legs(Leg(HOUSE_HEDGE, cash, "hedge", symbol),
                 Leg(f"venue:{venue}", -cash, "hedge", symbol),
                 Leg(HOUSE_HEDGE, -fee, "fee", symbol), Leg(f"venue:{venue}", fee, "fee", symbol))
    return Posting(f"hedge:{hedge_id}", f"hedge {hedge_id} on {venue}", legs)


def expiry_posting(*, underlying: str, expiry: str, account: str, symbol: str,
                   payout: Decimal, counterparty: str) -> Posting:
    """Cash settlement of one position at expiry: ``payout`` to the holder (negative for a
    short) against ``counterparty`` — clearing for exchange positions, the house's option
    book for simplified options."""
    legs = _legs(Leg(account, payout, "expiry", symbol), Leg(counterparty, -payout, "expiry",
                                                             symbol))
    if not legs:
        legs = (Leg(account, Decimal(0), "expiry", symbol),)  # worthless: recorded, moves 0
    return Posting(f"expiry:{underlying}:{expiry}:{account}:{symbol}",
                   f"expiry {underlying} {expiry}", legs)
