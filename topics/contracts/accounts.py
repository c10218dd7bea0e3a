"""Accounts: what happened to them (activity), their positions, the USDT ledger, risk alerts,
and settlement (results per order, the house's hedges, option expiries).

Every event has a deterministic ``event_id`` so a replay re-emits the same ids and every
consumer (the risk agent, the sinks) upserts by it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from topics.contracts.base import (
    Contract,
    Event,
    Money,
    PositiveDecimal,
    Quantity,
    Ref,
    SignedQuantity,
    Symbol,
    Text,
    UtcDatetime,
)
from topics.contracts.compliance import KycChanged

__all__ = [
    "AccountActivity",
    "AlertKind",
    "AlertLevel",
    "BlockLeg",
    "BlockRelease",
    "BlockReservation",
    "ExpirySettled",
    "Fill",
    "FundsTransferred",
    "HedgeFill",
    "LedgerEntry",
    "OrderReleased",
    "Position",
    "PositionExpired",
    "PremiumPaid",
    "RiskAlert",
    "SettlementResult",
    "account_activity_adapter",
]

AccountId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Side = Literal["buy", "sell"]
Underlying = Literal["BTC", "ETH"]


# -- accounts.activity: what the risk agent (keyed by account) learns after the fact ----------
class Fill(Event):
    """One side of an exchange trade, re-keyed by account. ``event_id`` is
    ``fill:<trade id>:<maker|taker>``; ``cash`` is the USDT this fill moves for the account
    (-premium or -notional when buying, + when selling), ``fee`` what it pays on top."""

    type: Literal["fill"] = "fill"
    account: AccountId
    symbol: Symbol
    trade_id: Ref
    order_id: Ref
    client_order_id: Ref | None = None
    side: Side
    liquidity: Literal["maker", "taker"]
    price: PositiveDecimal
    qty: Quantity
    cash: Money
    fee: Money


class OrderReleased(Event):
    """What an order holds changed: the risk agent releases (part of) its reservation.
    ``event_id`` is ``release:<account>:<client order id>:<order event id>``; ``reason`` is
    the order event's kind.

    * ``command_id`` unset: the order left the book (filled, cancelled, expired).
    * ``command_id`` set: matching's answer to that one command, for the order
      ``(symbol, client_order_id)``. ``rejected``/``command_rejected``: only what that
      command reserved is released (the whole order if it is the submit that created it,
      nothing if it is a duplicate, a cancel or an amend of a live order); ``amended``: the
      order lives on with ``leaves_qty`` left.

    Both fields are optional, so records booked before them still read.
    """

    type: Literal["released"] = "released"
    account: AccountId
    symbol: Symbol
    order_id: Ref
    client_order_id: Ref | None = None
    reason: Text
    command_id: Ref | None = None  # the command this answers (see above)
    leaves_qty: Quantity | None = None  # amended: the quantity the order has left


class FundsTransferred(Event):
    """A USDT deposit or withdrawal from the order database (CDC). ``amount`` is signed."""

    type: Literal["transfer"] = "transfer"
    account: AccountId
    transfer_id: Ref
    amount: Money
    reference: Text
    address: Text | None = None  # the outside wallet, when known (AML screens it)


class PositionExpired(Event):
    """An option position was cash-settled at expiry: it is closed, ``payout`` (signed) paid.
    ``event_id`` is the expiry posting's id, so re-running an expiry changes nothing."""

    type: Literal["expired"] = "expired"
    account: AccountId
    symbol: Symbol
    qty: SignedQuantity
    settlement_price: PositiveDecimal
    payout: Money


class PremiumPaid(Event):
    """The account bought a simplified option from the house and paid ``amount`` (premium
    + fee, as a negative number) in the order database; ``event_id`` is the posting's id."""

    type: Literal["premium"] = "premium"
    account: AccountId
    order_id: Ref
    product: Symbol
    amount: Money


class BlockLeg(Contract):
    """One leg of a block trade as one account trades it: what risk holds for it until the
    leg's fill (or matching's refusal of its command ``command_id``) releases it."""

    symbol: Symbol
    side: Side
    qty: Quantity
    price: PositiveDecimal
    client_order_id: Ref
    command_id: Ref


class BlockReservation(Event):
    """The RFQ agent asks risk to hold what an accepted block trade needs of ``account``
    (every leg at once: all or none), before anything trades. Risk answers on
    ``rfq.clearing``. Worker-only (clients cannot write ``accounts.activity``): a trader
    cannot clear its own block. ``event_id`` is ``reserve:<accept command id>:<account>``."""

    type: Literal["block_reserve"] = "block_reserve"
    account: AccountId
    rfq_id: Ref
    attempt: Ref = Field(description="the accept command this clearing belongs to")
    legs: list[BlockLeg] = Field(min_length=1, max_length=8)


class BlockRelease(Event):
    """The clearing of ``attempt`` failed (the other side was refused): risk drops what it
    holds for those legs, if anything. ``event_id`` is ``unreserve:<attempt>:<account>``."""

    type: Literal["block_release"] = "block_release"
    account: AccountId
    rfq_id: Ref
    attempt: Ref
    client_order_ids: list[Ref] = Field(min_length=1, max_length=8)


AccountActivity = Annotated[Fill | OrderReleased | FundsTransferred | PositionExpired
                            | PremiumPaid | KycChanged | BlockReservation | BlockRelease,
                            Field(discriminator="type")]
account_activity_adapter: TypeAdapter[AccountActivity] = TypeAdapter(AccountActivity)


# -- ledger -----------------------------------------------------------------------------------
class LedgerEntry(Event):
    """One leg of a balanced double-entry posting in USDT (all legs of a posting sum to 0).

    ``event_id`` is ``<posting id>:<leg>``, so a re-emitted posting has the same ids.
    House accounts are named ``house:<purpose>`` (fees, options, hedge, settlement, cash).
    """

    posting_id: str
    account: str
    amount: Money = Field(description="credit > 0, debit < 0")
    kind: Literal["trade", "fee", "premium", "settlement", "transfer", "hedge", "expiry"]
    reference: str
    symbol: Symbol | None = None


# -- positions and risk -----------------------------------------------------------------------
class Position(Event):
    """The latest position of an account in an instrument (compacted by ``account|symbol``).

    ``seq`` grows with every change of the account, so the newest version wins in an upsert.
    """

    account: AccountId
    symbol: Symbol
    qty: Decimal = Field(description="signed: > 0 long, < 0 short")
    avg_price: Money
    realized_pnl: Money
    unrealized_pnl: Money
    mark_price: Money | None = None
    maintenance_margin: Money = Decimal(0)
    seq: int = Field(default=0, ge=0)


#: ``mmp``: market-maker protection tripped (the account's orders in ``symbol``'s underlying
#: were cancelled and new ones are refused for a while)
AlertKind = Literal["margin_call", "liquidation", "exposure_limit", "stop_loss", "price", "mmp"]
AlertLevel = Literal["info", "warning", "critical"]


class RiskAlert(Event):
    """A risk threshold crossed (once per crossing; ``event_id`` names the crossing)."""

    account: AccountId
    kind: AlertKind
    level: AlertLevel
    message: str
    margin_ratio: Decimal | None = None
    symbol: Symbol | None = None


# -- settlement -------------------------------------------------------------------------------
class SettlementResult(Event):
    """One step of settling a simplified-option order (pending → hedging → hedged → booked).

    ``event_id`` is ``settlement:<order id>:<state>``.
    """

    order_id: str
    account: AccountId
    state: Literal["pending", "hedging", "hedged", "booked", "failed"]
    product: Symbol | None = None
    underlying: Underlying | None = None
    premium: Money | None = None
    fee: Money | None = None
    hedge_id: str | None = None
    hedge_symbol: Symbol | None = None
    hedge_side: Side | None = None
    hedge_qty: Decimal | None = None
    hedge_price: Money | None = None
    attempts: int = Field(default=0, ge=0)
    reason: str | None = None


class HedgeFill(Event):
    """The house's hedge trade on an external venue, through the venue adapter.

    ``hedge_id`` is the idempotency key the venue saw (``hedge:<order id>``); ``event_id`` is
    ``hedge-fill:<hedge id>``.
    """

    hedge_id: str
    order_id: str
    venue: str
    symbol: Symbol
    underlying: Underlying
    side: Side
    qty: Quantity
    avg_price: PositiveDecimal
    reference_price: PositiveDecimal = Field(description="the book's mid when the hedge was sent")
    slippage_bps: Decimal
    fee: Money


class ExpirySettled(Event):
    """An expiry of an underlying was cash-settled at the TWAP of its index.

    ``event_id`` is ``expiry:<underlying>:<expiry>``: re-running an expiry re-emits the same.
    """

    underlying: Underlying
    expiry: UtcDatetime
    settlement_price: PositiveDecimal
    twap_window_start: UtcDatetime
    samples: int = Field(ge=1)
    positions: int = Field(ge=0)
    total_payout: Money
    payout_to_accounts: Money
