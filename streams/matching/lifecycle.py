"""Order status as a transition table driven only by events.

The engine does not store a status per order (it would cost time on the hot path); this
table is the contract that consumers (risk, order views, tests) rebuild status with, and the
unit tests check that every event stream the engine produces walks it without error.
"""

from __future__ import annotations

from enum import StrEnum

from streams.matching.events import (
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderTriggered,
)
from streams.matching.orders import OrderType

__all__ = ["TERMINAL_STATUSES", "TRANSITIONS", "InvalidTransition", "OrderStatus", "next_status"]


class OrderStatus(StrEnum):
    PENDING_TRIGGER = "pending_trigger"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"


class InvalidTransition(ValueError):
    """An event that cannot happen to an order in its current status."""


_S = OrderStatus
#: ``(status, event class) -> next status``; ``None`` is "no order yet".
TRANSITIONS: dict[tuple[OrderStatus | None, type[Event]], OrderStatus] = {
    (None, OrderRejected): _S.REJECTED,
    (_S.PENDING_TRIGGER, OrderTriggered): _S.NEW,
    (_S.PENDING_TRIGGER, OrderCancelled): _S.CANCELLED,
    (_S.PENDING_TRIGGER, OrderExpired): _S.EXPIRED,
    (_S.NEW, OrderPartiallyFilled): _S.PARTIALLY_FILLED,
    (_S.NEW, OrderFilled): _S.FILLED,
    (_S.NEW, OrderCancelled): _S.CANCELLED,
    (_S.NEW, OrderExpired): _S.EXPIRED,
    (_S.NEW, OrderAmended): _S.NEW,
    (_S.PARTIALLY_FILLED, OrderPartiallyFilled): _S.PARTIALLY_FILLED,
    (_S.PARTIALLY_FILLED, OrderFilled): _S.FILLED,
    (_S.PARTIALLY_FILLED, OrderCancelled): _S.CANCELLED,
    (_S.PARTIALLY_FILLED, OrderExpired): _S.EXPIRED,
    (_S.PARTIALLY_FILLED, OrderAmended): _S.PARTIALLY_FILLED,
}
TERMINAL_STATUSES = frozenset({_S.FILLED, _S.CANCELLED, _S.EXPIRED, _S.REJECTED})
_STOP_TYPES = frozenset({OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP})


def next_status(status: OrderStatus | None, event: Event) -> OrderStatus:
    """Status after ``event``; raises :class:`InvalidTransition` for an impossible step."""
    if isinstance(event, OrderAccepted):
        if status is not None:
            raise InvalidTransition(f"order {event.order_id} accepted twice")
        return _S.PENDING_TRIGGER if event.order_type in _STOP_TYPES else _S.NEW
    try:
        return TRANSITIONS[(status, type(event))]
    except KeyError:
        raise InvalidTransition(f"{type(event).__name__} not allowed in status {status}") from None
