"""Block RFQs (Deribit's block RFQ is the convention): commands on ``rfq.commands`` (keyed by
RFQ id) and what became of them on ``rfq.events``.

A taker opens an RFQ on 1..4 legs and an amount; makers quote the bid or the ask of the whole
structure (a net USDT price per unit, negative for a structure that pays); the taker accepts a
quote (or the best one) before it and the RFQ expire. The accepted quote becomes a block trade
that matching executes leg by leg (:class:`topics.contracts.orders.BlockTrade`), booked and
settled like any trade.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from topics.contracts.base import (
    Contract,
    Event,
    Id,
    Int64,
    Money,
    NonNegativeInt64,
    Quantity,
    Symbol,
    Text,
    UtcDatetime,
)
from topics.contracts.orders import AccountId, ClientOrderId

__all__ = [
    "AcceptRfq",
    "CancelRfq",
    "CancelRfqQuote",
    "OpenRfq",
    "QuoteId",
    "QuoteRfq",
    "RfqClearance",
    "RfqCommand",
    "RfqId",
    "RfqLeg",
    "RfqUpdate",
    "rfq_command_adapter",
]

#: short: the legs' client order ids are made from it (``rfq-<id>-<leg>-t``, at most 64)
RfqId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
QuoteId = ClientOrderId  # the same alphabet and length


class RfqLeg(Contract):
    """One instrument of the structure, as its buyer trades it, ``ratio`` units per unit."""

    symbol: Symbol
    side: Literal["buy", "sell"]
    ratio: int = Field(default=1, ge=1, le=100)


class _RfqCommand(Contract):
    command_id: Id = Field(description="idempotency key")
    ts_sent: UtcDatetime
    account: AccountId = Field(description="who sends it: the taker, or a quoting maker")
    rfq_id: RfqId


class OpenRfq(_RfqCommand):
    type: Literal["open"] = "open"
    legs: list[RfqLeg] = Field(min_length=1, max_length=4)
    amount: Quantity
    side: Literal["buy", "sell"] | None = Field(
        default=None, description="one-sided: only this side is asked for (None: both)")


class QuoteRfq(_RfqCommand):
    type: Literal["quote"] = "quote"
    quote_id: QuoteId
    side: Literal["bid", "ask"]
    price: Money = Field(description="net USDT per unit of the structure")
    amount: Quantity


class CancelRfqQuote(_RfqCommand):
    type: Literal["cancel_quote"] = "cancel_quote"
    quote_id: QuoteId


class AcceptRfq(_RfqCommand):
    type: Literal["accept"] = "accept"
    side: Literal["buy", "sell"]
    quote_id: QuoteId | None = Field(default=None, description="None: the best live quote")
    limit_price: Money | None = None


class CancelRfq(_RfqCommand):
    type: Literal["cancel"] = "cancel"


RfqCommand = Annotated[OpenRfq | QuoteRfq | CancelRfqQuote | AcceptRfq | CancelRfq,
                       Field(discriminator="type")]
rfq_command_adapter: TypeAdapter[RfqCommand] = TypeAdapter(RfqCommand)


class RfqClearance(Event):
    """Risk's answer to a :class:`~topics.contracts.accounts.BlockReservation`: whether
    ``account`` can carry its side of the block trade of ``attempt`` (``code`` None: held;
    else the 5xxx risk code and its reason). On ``rfq.clearing``, keyed by RFQ id; only the
    worker writes it. ``event_id`` is ``clearance:<attempt>:<account>``."""

    rfq_id: RfqId
    attempt: Id
    account: AccountId
    code: Int64 | None = None
    reason: Text | None = None


class RfqUpdate(Event):
    """One step of an RFQ; ``event_id`` is ``<rfq id>:<seq>`` (the RFQ's own sequence), so a
    replay publishes the same ids. ``account`` is the taker or the maker concerned; refusals
    carry ``code`` (6xxx) and ``reason``; ``rfq_accepted`` carries the block trade's id, the
    maker, the net ``price`` and the legs with their prices."""

    rfq_id: RfqId
    seq: NonNegativeInt64
    kind: Literal["rfq_opened", "quote_added", "quote_replaced", "quote_cancelled",
                  "quote_refused", "rfq_refused", "rfq_clearing", "rfq_accepted",
                  "rfq_expired", "rfq_cancelled"]
    account: AccountId | None = None
    maker: AccountId | None = None
    quote_id: QuoteId | None = None
    side: Literal["buy", "sell", "bid", "ask"] | None = None
    price: Money | None = None
    amount: Quantity | None = None
    legs: list[RfqLeg] | None = None
    leg_prices: list[Money] | None = None
    trade_id: str | None = None
    expires_at: UtcDatetime | None = None
    code: Int64 | None = None
    reason: Text | None = None
