"""Contracts of the order database's change stream and of ``settlement.orders``.

Two kinds of model live here:

* **Rows** (:class:`OrderRow`, :class:`TransferRow`, :class:`AccountRow`): one captured
  table's columns, exactly as Debezium writes them with ``decimal.handling.mode=string`` (money
  as exact decimal strings) and ISO-8601 UTC timestamps. ``extra="forbid"`` makes a new column
  an *unexpected schema* (a dead letter), not a silently dropped field.
* **The event** (:class:`OptionOrderEvent`) the settlement side consumes: one per order and
  status, with the product's terms copied in, so it is complete on its own.

Its ``event_id`` is ``option-order:<order id>:<status>`` whoever produces it (the bridge from
Debezium, a snapshot, or reconciliation), so a re-emission is recognisably the same event.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from topics.contracts.base import (
    Contract,
    Event,
    Money,
    NonNegativeInt64,
    NonNegativeMoney,
    PositiveDecimal,
    Quantity,
    Symbol,
    UtcDatetime,
)

__all__ = [
    "AccountRow",
    "KycRow",
    "OptionOrderEvent",
    "OrderRow",
    "OrderStatus",
    "TransferRow",
    "option_order_event_id",
]

AccountId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
ClientOrderId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Underlying = Literal["BTC", "ETH"]
OptionType = Literal["call", "put"]
OrderStatus = Literal["open", "settling", "settled", "cancelled"]


def option_order_event_id(order_id: UUID | str, status: str) -> str:
    """The one id of "order X reached status S": the settlement side de-duplicates on it."""
    return f"option-order:{order_id}:{status}"


class OrderRow(Contract):
    """A row of ``public.orders``: a simplified option sold by the counter service."""

    id: UUID
    account_id: AccountId
    client_order_id: ClientOrderId
    product_id: Symbol
    underlying: Underlying
    strike: PositiveDecimal
    expiry: UtcDatetime
    option_type: OptionType
    contract_size: PositiveDecimal
    side: Literal["buy"]
    contracts: Quantity
    underlying_price: PositiveDecimal
    iv: PositiveDecimal
    price: PositiveDecimal
    premium: PositiveDecimal
    fee: NonNegativeMoney
    total: PositiveDecimal
    status: OrderStatus
    created_at: UtcDatetime
    updated_at: UtcDatetime


class TransferRow(Contract):
    """A row of ``public.transfers``: a USDT deposit or withdrawal."""

    id: UUID
    account_id: AccountId
    kind: Literal["deposit", "withdrawal"]
    asset: Literal["USDT"]
    amount: PositiveDecimal
    reference: str = Field(min_length=1, max_length=128, pattern=r"^[^\x00]+$")
    created_at: UtcDatetime
    # the outside wallet (migration 0004); absent in rows captured before it
    address: str | None = Field(default=None, min_length=1, max_length=128,
                                pattern=r"^[^\x00-\x1f\x7f]+$")


class KycRow(Contract):
    """A row of ``public.account_kyc``: an account's KYC status and tier (migration 0004)."""

    id: AccountId
    status: Literal["none", "pending", "verified", "rejected", "suspended"]
    tier: int = Field(ge=0, le=3)
    updated_at: UtcDatetime


class AccountRow(Contract):
    """A row of ``public.accounts``."""

    id: AccountId
    status: Literal["active", "frozen", "closed"]
    created_at: UtcDatetime
    updated_at: UtcDatetime


class OptionOrderEvent(Event):
    """A simplified-option order reached ``status`` (``open``: bought and paid).

    Emitted once per order and status; consumers upsert by ``event_id``. ``source`` says how
    it reached the stream: ``stream`` (Debezium's change stream), ``snapshot`` (Debezium's
    initial snapshot) or ``reconcile`` (re-emitted by reconciliation).
    """

    order_id: UUID
    account: AccountId
    client_order_id: ClientOrderId
    product: Symbol
    underlying: Underlying
    strike: PositiveDecimal
    expiry: UtcDatetime
    option_type: OptionType
    contract_size: PositiveDecimal
    side: Literal["buy"]
    contracts: Quantity
    underlying_price: PositiveDecimal
    iv: PositiveDecimal = Field(description="implied vol the premium was priced at (0.55 = 55%)")
    price: PositiveDecimal = Field(description="premium per coin of underlying, USDT")
    premium: Money = Field(description="price x contracts x contract_size, USDT")
    fee: NonNegativeMoney
    total: Money = Field(description="premium + fee: what the account was debited")
    status: OrderStatus
    ordered_at: UtcDatetime
    source: Literal["stream", "snapshot", "reconcile"]
    source_lsn: NonNegativeInt64 | None = Field(default=None,
                                                description="PostgreSQL LSN, if streamed")
    source_tx_id: NonNegativeInt64 | None = None
