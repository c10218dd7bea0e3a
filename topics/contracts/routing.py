"""Smart order routing: parent orders in on ``routing.orders`` (keyed by parent id), what
became of them out on ``routing.reports`` (keyed by parent id).

A parent is split across StrikeFlow's book and the external venues by the books' liquidity
and fees, in rounds (``streams.routing``). Each report is one version of the parent's state:
``event_id`` is ``route:<parent id>:<version>``, so a replay of the same step replaces itself
downstream; the last version has ``final=True``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from topics.contracts.base import (
    Contract,
    Event,
    Id,
    Money,
    NonNegativeInt64,
    NonNegativeMoney,
    NonNegativeQuantity,
    PositiveDecimal,
    Quantity,
    Text,
    UtcDatetime,
    Venue,
)

__all__ = ["ChildOrderState", "ChildStatusName", "ParentOrderReport", "RouteOrder",
           "RouteStatus"]

AccountId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
#: no ':' (child keys are ``<parent id>:<round>:<venue>``), short enough for a venue's
#: client order id field (64 characters with the round and the venue)
ParentId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
#: spot pairs only: routing buys and sells the underlying, not options
SpotSymbol = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,10}-USDT$", max_length=16)]
RouteStatus = Literal["new", "routing", "done", "partially_done", "cancelled", "rejected"]
ChildStatusName = Literal["placed", "filled", "failed"]


class RouteOrder(Contract):
    """Work ``qty`` of a spot pair across venues; the parent id is the idempotency key."""

    type: Literal["route"] = "route"
    command_id: Id = Field(description="the sender's id of this command")
    ts_sent: UtcDatetime = Field(description="the sender's clock: shown, never decides")
    account: AccountId
    parent_id: ParentId = Field(description="the Kafka key; a repeat changes nothing")
    symbol: SpotSymbol
    side: Literal["buy", "sell"]
    qty: Quantity
    limit_price: PositiveDecimal | None = Field(
        default=None, description="on the raw venue price: a buy takes nothing above it")
    max_rounds: int = Field(default=3, ge=1, le=20)


class ChildOrderState(Contract):
    """One child at one venue: ``key`` is its client order id there."""

    key: Id
    round: int = Field(ge=1)
    venue: Venue
    qty: Quantity
    status: ChildStatusName
    filled_qty: NonNegativeQuantity
    avg_price: PositiveDecimal | None = None
    fee: NonNegativeMoney
    expected_avg_price: PositiveDecimal
    reason: Text | None = None


class ParentOrderReport(Event):
    """A parent's state after a step: fills aggregated over its children, slippage against
    the arrival price (positive = worse for the parent), the share filled per venue."""

    parent_id: ParentId
    version: NonNegativeInt64 = Field(description="1, 2, 3 … per state change")
    account: AccountId
    symbol: SpotSymbol
    side: Literal["buy", "sell"]
    status: RouteStatus
    final: bool
    qty: Quantity
    filled_qty: NonNegativeQuantity
    remainder: NonNegativeQuantity
    vwap: PositiveDecimal | None = None
    arrival_price: PositiveDecimal | None = Field(
        default=None, description="consolidated mid when the parent arrived (None: rejected)")
    slippage_bps: Money | None = None
    all_in_slippage_bps: Money | None = Field(default=None, description="fees counted in")
    fees: NonNegativeMoney
    venue_shares: dict[Venue, NonNegativeMoney] = Field(
        description="fraction of the filled quantity per venue, summing to exactly 1")
    rounds: NonNegativeInt64
    children: list[ChildOrderState] = Field(max_length=200)
    reason: Text | None = None
