"""Order commands (verbs) and order events, trades and book updates (past tense)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, model_validator

from topics.contracts.base import (
    Contract,
    Event,
    Id,
    Int64,
    Money,
    NonNegativeInt64,
    NonNegativeQuantity,
    PositiveDecimal,
    PositiveInt64,
    Quantity,
    Ref,
    Symbol,
    Text,
    UtcDatetime,
)

__all__ = [
    "AmendOrder",
    "BlockTrade",
    "BookUpdate",
    "CancelAll",
    "CancelOrder",
    "MassCancel",
    "OrderCommand",
    "OrderEvent",
    "OrderRequest",
    "ResetMmp",
    "SetMmpConfig",
    "SubmitOrder",
    "Trade",
    "order_command_adapter",
    "order_request_adapter",
]

AccountId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
ClientOrderId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Side = Literal["buy", "sell"]
Underlying = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,10}$", description="e.g. BTC")]
#: the longest MMP window or freeze a maker may set (one day)
_MMP_MAX_MS = 86_400_000


class _Request(Contract):
    command_id: Id = Field(description="idempotency key")
    ts_sent: UtcDatetime
    account: AccountId


class _Command(_Request):
    symbol: Symbol


class SubmitOrder(_Command):
    type: Literal["submit"] = "submit"
    client_order_id: ClientOrderId
    side: Side
    order_type: Literal["limit", "market", "stop", "stop_limit", "trailing_stop"]
    qty: Quantity
    price: PositiveDecimal | None = None
    trigger_price: PositiveDecimal | None = None
    trigger_source: Literal["last", "mark"] = "last"
    trail_ticks: PositiveInt64 | None = None
    protection_price: PositiveDecimal | None = None
    time_in_force: Literal["GTC", "IOC", "FOK", "GTD"] = "GTC"
    expire_at: UtcDatetime | None = None
    post_only: Literal["no", "reject", "reprice"] = "no"
    reduce_only: bool = False
    display_qty: Quantity | None = Field(default=None, description="iceberg visible size")
    stp: Literal["none", "cancel_newest", "cancel_oldest", "cancel_both"] = "cancel_newest"
    mmp: bool = Field(default=False, description="a market-maker protection quote (Deribit's "
                      "mmp flag): only these count toward the account's MMP limits, are "
                      "cancelled when it trips and refused while it is frozen")

    @model_validator(mode="after")
    def _fields_fit_type(self) -> SubmitOrder:
        needs_price = self.order_type in ("limit", "stop_limit")
        if needs_price and self.price is None:
            raise ValueError(f"{self.order_type} order needs a price")
        if self.order_type in ("stop", "stop_limit") and self.trigger_price is None:
            raise ValueError(f"{self.order_type} order needs a trigger_price")
        if self.order_type == "trailing_stop" and self.trail_ticks is None:
            raise ValueError("trailing_stop order needs trail_ticks")
        if self.time_in_force == "GTD" and self.expire_at is None:
            raise ValueError("GTD order needs expire_at")
        if self.display_qty is not None and self.display_qty >= self.qty:
            raise ValueError("display_qty must be smaller than qty")
        return self


class CancelOrder(_Command):
    type: Literal["cancel"] = "cancel"
    client_order_id: ClientOrderId


class AmendOrder(_Command):
    type: Literal["amend"] = "amend"
    client_order_id: ClientOrderId
    new_qty: Quantity | None = None
    new_price: PositiveDecimal | None = None


class MassCancel(_Command):
    type: Literal["mass_cancel"] = "mass_cancel"


class BlockTrade(_Command):
    """One leg of a block trade agreed off the book (an accepted RFQ): matching executes it
    at ``price`` between the taker (``account``, ``side``) and ``maker_account`` without
    touching the book, and reports it as any trade (a trade and a fill for each side), so
    booking, the ledger and positions treat it as one. Only the worker writes
    ``orders.commands``: a client cannot send one."""

    type: Literal["block_trade"] = "block_trade"
    client_order_id: ClientOrderId
    side: Side
    qty: Quantity
    price: PositiveDecimal
    maker_account: AccountId
    maker_client_order_id: ClientOrderId
    trade_ref: Ref = Field(description="the block trade it belongs to (rfq:<rfq id>)")


OrderCommand = Annotated[
    SubmitOrder | CancelOrder | AmendOrder | MassCancel | BlockTrade, Field(discriminator="type")
]
order_command_adapter: TypeAdapter[OrderCommand] = TypeAdapter(OrderCommand)


class CancelAll(_Request):
    """Cancel every open order of the account — all of them, one underlying's or one
    instrument's — in one step. Only on ``orders.requests``: risk, which holds the account's
    orders in arrival order, expands it into one :class:`MassCancel` per instrument it has
    open orders in (so an order sent just before the cancel is cancelled too). ``reason``
    says who asked: the trader, the gateway when a session with cancel-on-disconnect ended,
    or market-maker protection."""

    type: Literal["cancel_all"] = "cancel_all"
    underlying: Underlying | None = None
    symbol: Symbol | None = None
    reason: Literal["user", "disconnect"] = "user"


class SetMmpConfig(_Request):
    """Market-maker protection for one underlying (Deribit's ``set_mmp_config``): when the
    account's fills within ``interval_ms`` reach a limit — traded quantity, |net delta| or
    |net vega| — risk cancels its orders in the underlying and refuses new ones for
    ``frozen_ms`` (0: until :class:`ResetMmp`). Limits left out are not checked; one is
    needed. Setting it again replaces the limits; removing is ``enabled: false``."""

    type: Literal["set_mmp"] = "set_mmp"
    underlying: Underlying
    enabled: bool = True
    interval_ms: PositiveInt64 = Field(default=60_000, le=_MMP_MAX_MS)
    frozen_ms: NonNegativeInt64 = Field(default=10_000, le=_MMP_MAX_MS)
    qty_limit: PositiveDecimal | None = None
    delta_limit: PositiveDecimal | None = None
    vega_limit: PositiveDecimal | None = None

    @model_validator(mode="after")
    def _one_limit(self) -> SetMmpConfig:
        if self.enabled and not (self.qty_limit or self.delta_limit or self.vega_limit):
            raise ValueError("market-maker protection needs a qty, delta or vega limit")
        return self


class ResetMmp(_Request):
    """Lift a market-maker-protection freeze of one underlying (and start a new window)."""

    type: Literal["reset_mmp"] = "reset_mmp"
    underlying: Underlying


OrderRequest = Annotated[
    SubmitOrder | CancelOrder | AmendOrder | MassCancel | CancelAll | SetMmpConfig | ResetMmp,
    Field(discriminator="type"),
]
#: what producers may send on ``orders.requests``: the order commands plus the account-wide
#: requests risk answers itself
order_request_adapter: TypeAdapter[OrderRequest] = TypeAdapter(OrderRequest)


class OrderEvent(Event):
    """One step of an order's life, as the matching engine reported it.

    ``event_id`` is ``{symbol}:{seq}`` with the engine's per-instrument sequence, so a replay
    reproduces the same ids. Which optional fields are set depends on ``kind``: fills carry
    ``price``/``qty`` of the fill, ``leaves_qty`` and ``trade_id``; rejections carry
    ``reason_code`` (the engine's numbered codes) and ``reason``.
    """

    symbol: Symbol
    seq: NonNegativeInt64 = Field(description="per-instrument engine sequence")
    kind: Literal["accepted", "rejected", "triggered", "partially_filled", "filled",
                  "cancelled", "expired", "amended", "command_rejected"]
    account: AccountId | None = None
    client_order_id: ClientOrderId | None = None
    order_id: Ref | None = None
    side: Side | None = None
    order_type: Ref | None = None
    time_in_force: Ref | None = None
    price: PositiveDecimal | None = None
    stop_price: PositiveDecimal | None = None
    trigger_price: PositiveDecimal | None = None
    qty: NonNegativeQuantity | None = None
    leaves_qty: NonNegativeQuantity | None = None
    trade_id: Ref | None = None
    is_maker: bool | None = None
    reason_code: Int64 | None = None
    reason: Text | None = None


class Trade(Event):
    symbol: Symbol
    trade_id: Ref  # ids: no control characters (trades is an input: AML screening reads it)
    price: PositiveDecimal
    qty: Quantity
    aggressor_side: Side
    maker_order_id: Ref
    taker_order_id: Ref
    maker_account: AccountId
    taker_account: AccountId
    seq: NonNegativeInt64


class BookUpdate(Event):
    """Top of book and aggregated depth after an engine step (or a venue's consolidated view)."""

    symbol: Symbol
    source: str = Field(description="'venue' for StrikeFlow's own book, else the feed's venue")
    seq: int = Field(ge=0)
    bids: list[tuple[PositiveDecimal, Quantity]]
    asks: list[tuple[PositiveDecimal, Quantity]]
    last_price: PositiveDecimal | None = None
    notional_bid: Money | None = None
