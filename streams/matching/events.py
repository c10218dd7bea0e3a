"""Events the matching engine emits (past tense), one class per lifecycle step.

Every event carries ``instrument_id``, a per-instrument ``seq`` that increases by one per
event (gap-free, so a consumer can detect loss and order across topics), the
``causation_id`` (the command id that produced it) and ``ts``, the engine clock in ns
(taken from the commands, never the wall clock). ``(instrument_id, seq)`` is the event's
deterministic id; a trade's ``trade_id`` is ``f"{instrument_id}:{seq}"`` of its
``TradeExecuted`` (fills carry that ``trade_seq``), and the engine's order ids are the ``seq``
of the order's ``OrderAccepted``.

Events are ``NamedTuple`` classes: immutable, cheap to build (the engine builds three per
fill and builds them with ``tuple.__new__``, five times cheaper than a dataclass here) and
with type-aware equality. ``event._asdict()`` / :func:`event_to_dict` serialise them. Prices
are ticks, quantities lots.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, NamedTuple, TypeVar

from streams.instruments.catalogue import TradingStatus
from streams.matching.codes import Code
from streams.matching.orders import OrderType, Side, TimeInForce, TriggerSource

__all__ = [
    "EVENT_TYPES",
    "CommandRejected",
    "Event",
    "InstrumentStatusChanged",
    "OrderAccepted",
    "OrderAmended",
    "OrderCancelled",
    "OrderExpired",
    "OrderFilled",
    "OrderPartiallyFilled",
    "OrderRejected",
    "OrderTriggered",
    "TradeExecuted",
    "event_to_dict",
]


_T = TypeVar("_T")


def _typed_equality(cls: type[_T]) -> type[_T]:
    """Make equality include the event type: ``OrderCancelled`` and ``OrderExpired`` with the
    same field values are different events (plain tuples would compare equal)."""

    def __eq__(self: tuple, other: object) -> bool:
        return type(self) is type(other) and tuple.__eq__(self, other)  # type: ignore[arg-type]

    def __ne__(self: tuple, other: object) -> bool:
        return not __eq__(self, other)

    def __hash__(self: tuple) -> int:
        return hash((type(self).__name__, tuple.__hash__(self)))

    cls.__eq__ = __eq__  # type: ignore[assignment,method-assign]
    cls.__ne__ = __ne__  # type: ignore[assignment,method-assign]
    cls.__hash__ = __hash__  # type: ignore[assignment,method-assign]
    return cls


@_typed_equality
class OrderAccepted(NamedTuple):
    """The order passed validation and got its ``order_id``. ``price`` is the working limit
    price (after a post-only re-price); ``None`` for market and stop-market orders."""

    instrument_id: str
    seq: int
    causation_id: str
    ts: int
    order_id: int
    account_id: str
    client_order_id: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: int | None
    stop_price: int | None
    qty: int


@_typed_equality
class OrderRejected(NamedTuple):
    """A submission refused before acceptance; it never got an order id."""

    instrument_id: str
    seq: int
    causation_id: str
    ts: int
    account_id: str
    client_order_id: str
    code: Code


@_typed_equality
class OrderTriggered(NamedTuple):
    """A stop order's trigger was reached; it now works as a market or limit order."""

    instrument_id: str
    seq: int
    causation_id: str
    ts: int
    order_id: int
    account_id: str
    client_order_id: str
    trigger_price: int
    source: TriggerSource


@_typed_equality
class OrderPartiallyFilled(NamedTuple):
    """One execution against the order; ``leaves_qty > 0`` remains working."""

    instrument_id: str
    seq: int
    causation_id: str
    ts: int
    order_id: int
    account_id: str
    client_order_id: str
    side: Side
    trade_seq: int
    price: int
    qty: int
    leaves_qty: int
    is_maker: bool

    @property
    def trade_id(self) -> str:
        """Id of the :class:`TradeExecuted` this fill belongs to."""
        return f"{self.instrument_id}:{self.trade_seq}"


@_typed_equality
class OrderFilled(NamedTuple):
    """The execution that completed the order (``leaves_qty == 0``); same fields as
    :class:`OrderPartiallyFilled`."""

    instrument_id: str
    seq: int
    causation_id: str
    ts: int
    order_id: int
    account_id: str
    client_order_id: str
    side: Side
    trade_seq: int
    price: int
    qty: int
    leaves_qty: int
    is_maker: bool

    @property
    def trade_id(self) -> str:
        """Id of the :class:`TradeExecuted` this fill belongs to."""
        return f"{self.instrument_id}:{self.trade_seq}"


@_typed_equality
class TradeExecuted(NamedTuple):
    """One match between a resting (maker) and an incoming (taker) order, at the maker's
    price. ``aggressor_side`` is the taker's side; the fills of both orders carry this
    event's ``seq`` as ``trade_seq``."""

    instrument_id: str
    seq: int
    causation_id: str
    ts: int
    price: int
    qty: int
    aggressor_side: Side
    maker_order_id: int
    taker_order_id: int
    maker_account_id: str
    taker_account_id: str

    @property
    def trade_id(self) -> str:
        """Deterministic trade id ``f"{instrument_id}:{seq}"`` (built on demand: the hot
        path does not pay for the string)."""
        return f"{self.instrument_id}:{self.seq}"


@_typed_equality
class OrderCancelled(NamedTuple):
    """The order ended with ``leaves_qty`` unfilled; ``code`` says why (user, mass cancel,
    IOC/FOK/market remainder, self-trade prevention)."""

    instrument_id: str
    seq: int
    causation_id: str
    ts: int
    order_id: int
    account_id: str
    client_order_id: str
    leaves_qty: int
    code: Code


@_typed_equality
class OrderExpired(NamedTuple):
    """The order reached its GTD time or its instrument expired."""

    instrument_id: str
    seq: int
    causation_id: str
    ts: int
    order_id: int
    account_id: str
    client_order_id: str
    leaves_qty: int
    code: Code


@_typed_equality
class OrderAmended(NamedTuple):
    """New working price and total quantity; ``priority_kept`` is false when the order went
    to the back of its price level."""

    instrument_id: str
    seq: int
    causation_id: str
    ts: int
    order_id: int
    account_id: str
    client_order_id: str
    price: int
    qty: int
    leaves_qty: int
    priority_kept: bool


@_typed_equality
class CommandRejected(NamedTuple):
    """A cancel, amend or control command that could not be applied. ``command`` is the
    command class name; order fields are ``None`` when not applicable."""

    instrument_id: str
    seq: int
    causation_id: str
    ts: int
    command: str
    account_id: str | None
    order_id: int | None
    client_order_id: str | None
    code: Code


@_typed_equality
class InstrumentStatusChanged(NamedTuple):
    """Trading status moved (halt, resume, expiry)."""

    instrument_id: str
    seq: int
    causation_id: str
    ts: int
    status: TradingStatus


Event = (
    OrderAccepted
    | OrderRejected
    | OrderTriggered
    | OrderPartiallyFilled
    | OrderFilled
    | TradeExecuted
    | OrderCancelled
    | OrderExpired
    | OrderAmended
    | CommandRejected
    | InstrumentStatusChanged
)

#: Event class by name (the ``type`` tag of :func:`event_to_dict`).
EVENT_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        OrderAccepted,
        OrderRejected,
        OrderTriggered,
        OrderPartiallyFilled,
        OrderFilled,
        TradeExecuted,
        OrderCancelled,
        OrderExpired,
        OrderAmended,
        CommandRejected,
        InstrumentStatusChanged,
    )
}


def event_to_dict(event: Event) -> dict[str, Any]:
    """Plain dict tagged with ``type``; enums become their values (codes become ints)."""
    data: dict[str, Any] = {"type": type(event).__name__}
    for name, value in zip(event._fields, event, strict=True):
        data[name] = value.value if isinstance(value, Enum) else value
    if isinstance(event, TradeExecuted | OrderFilled | OrderPartiallyFilled):
        data["trade_id"] = event.trade_id
    return data
