"""Commands the matching engine accepts, and the enums that describe an order.

Commands are verbs (``SubmitOrder``, ``CancelOrder`` ...). All prices are integer *ticks*
and all quantities integer *lots* of the instrument (see
:meth:`streams.instruments.Instrument.price_to_ticks`); times are integer nanoseconds since
the epoch and come from the command itself (``ts``), never from the wall clock, so the engine
stays a pure function of its input.

Commands are slotted, mutable dataclasses for speed (a frozen dataclass costs ~1.5 us to
build), but must be treated as immutable once submitted: the engine keeps a reference to a
``SubmitOrder`` as the specification of the resting order.

``command_to_dict`` / ``command_from_dict`` are the one JSON-friendly encoding, used by
engine snapshots and by agents that decode Kafka messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum, StrEnum
from typing import Any

from streams.matching.codes import Code

__all__ = [
    "COMMAND_TYPES",
    "AdvanceTime",
    "AmendOrder",
    "CancelOrder",
    "Command",
    "ExpireInstrument",
    "HaltInstrument",
    "MassCancel",
    "OrderType",
    "PostOnly",
    "ResumeInstrument",
    "Side",
    "StpMode",
    "SubmitOrder",
    "TimeInForce",
    "TriggerSource",
    "UpdateMark",
    "check_structure",
    "command_from_dict",
    "command_to_dict",
]


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    """``market`` orders and triggered ``stop_market``/``trailing_stop`` orders never rest."""

    LIMIT = "limit"
    MARKET = "market"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


class TimeInForce(StrEnum):
    """GTC rests until cancelled; GTD until ``expire_ts``; IOC/FOK never rest."""

    GTC = "gtc"
    GTD = "gtd"
    IOC = "ioc"
    FOK = "fok"


class PostOnly(StrEnum):
    """Maker-only behaviour: reject a crossing order, or re-price it one tick behind the
    best opposite price."""

    NONE = "none"
    REJECT = "reject"
    REPRICE = "reprice"


class TriggerSource(StrEnum):
    """Which price fires a stop: the last trade on this book or the mark price input."""

    LAST = "last"
    MARK = "mark"


class StpMode(StrEnum):
    """Self-trade prevention, applied with the taker's mode when both sides share an account."""

    NONE = "none"
    CANCEL_NEWEST = "cancel_newest"
    CANCEL_OLDEST = "cancel_oldest"
    CANCEL_BOTH = "cancel_both"


@dataclass(slots=True, kw_only=True)
class SubmitOrder:
    """Place a new order. ``qty`` in lots; ``price``/``stop_price``/``protection_price`` in
    ticks; ``display_qty`` makes an iceberg; ``expire_ts`` (ns) is required for GTD.

    Construction never raises on bad values: it records the structural verdict
    (``structure_error``, a :class:`~streams.matching.codes.Code` or 0) and whether the
    order is a ``plain`` GTC limit order, so the engine rejects malformed orders with a code
    and checks only what depends on its state. Like every command, treat it as immutable
    (``dataclasses.replace`` builds a new one and re-checks it).
    """

    command_id: str
    instrument_id: str
    account_id: str
    client_order_id: str
    side: Side
    qty: int
    order_type: OrderType = OrderType.LIMIT
    price: int | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    expire_ts: int | None = None
    post_only: PostOnly = PostOnly.NONE
    reduce_only: bool = False
    stop_price: int | None = None
    trigger: TriggerSource = TriggerSource.LAST
    trailing_offset: int | None = None
    display_qty: int | None = None
    protection_price: int | None = None
    stp: StpMode = StpMode.CANCEL_NEWEST
    ts: int = 0
    structure_error: int = field(default=0, init=False, repr=False, compare=False)
    plain: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        error = check_structure(self)
        self.structure_error = error
        self.plain = (
            not error
            and self.order_type is OrderType.LIMIT
            and self.time_in_force is TimeInForce.GTC
            and self.post_only is PostOnly.NONE
            and self.display_qty is None
            and self.reduce_only is False
        )


def check_structure(c: SubmitOrder) -> int:
    """Checks that need no engine state (types, enum members, field combinations); returns
    the reject :class:`~streams.matching.codes.Code` or 0. The engine adds the state-dependent
    ones (status, minimum quantity, GTD time, duplicates, post-only crossing ...)."""
    if c.account_id.__class__ is not str or c.client_order_id.__class__ is not str:
        return Code.INVALID_IDENTIFIER
    if c.side.__class__ is not Side:
        return Code.INVALID_SIDE
    qty = c.qty
    if qty.__class__ is not int or qty <= 0:
        return Code.INVALID_QUANTITY
    ot = c.order_type
    tif = c.time_in_force
    if ot is OrderType.LIMIT or ot is OrderType.STOP_LIMIT:
        price = c.price
        if price.__class__ is not int or price <= 0:
            return Code.INVALID_PRICE
        if c.protection_price is not None:
            return Code.INVALID_PROTECTION_PRICE
    elif ot is OrderType.MARKET or ot is OrderType.STOP_MARKET or ot is OrderType.TRAILING_STOP:
        if c.price is not None:
            return Code.INVALID_PRICE
        prot = c.protection_price
        if prot is not None and (prot.__class__ is not int or prot <= 0):
            return Code.INVALID_PROTECTION_PRICE
        if ot is OrderType.MARKET and tif is TimeInForce.GTD:
            return Code.INVALID_ORDER_TYPE
    else:
        return Code.INVALID_ORDER_TYPE
    if ot is OrderType.LIMIT or ot is OrderType.MARKET:
        if c.stop_price is not None:
            return Code.INVALID_STOP_PRICE
        if c.trailing_offset is not None:
            return Code.INVALID_TRAILING_OFFSET
    elif ot is OrderType.TRAILING_STOP:
        if c.stop_price is not None:
            return Code.INVALID_STOP_PRICE
        offset = c.trailing_offset
        if offset.__class__ is not int or offset <= 0:
            return Code.INVALID_TRAILING_OFFSET
        if c.trigger is not TriggerSource.LAST:
            return Code.INVALID_ORDER_TYPE
    else:
        stop = c.stop_price
        if stop.__class__ is not int or stop <= 0:
            return Code.INVALID_STOP_PRICE
        if c.trailing_offset is not None:
            return Code.INVALID_TRAILING_OFFSET
        if c.trigger.__class__ is not TriggerSource:
            return Code.INVALID_ORDER_TYPE
    if tif is TimeInForce.GTD:
        if c.expire_ts.__class__ is not int:
            return Code.INVALID_EXPIRE_TIME
    elif tif.__class__ is not TimeInForce:
        return Code.INVALID_ORDER_TYPE
    elif c.expire_ts is not None:
        return Code.INVALID_EXPIRE_TIME
    immediate = tif is TimeInForce.IOC or tif is TimeInForce.FOK
    po = c.post_only
    if po is not PostOnly.NONE and (
        po.__class__ is not PostOnly or ot is not OrderType.LIMIT or immediate
    ):
        return Code.INVALID_ORDER_TYPE
    display = c.display_qty
    if display is not None:
        if (ot is not OrderType.LIMIT and ot is not OrderType.STOP_LIMIT) or immediate:
            return Code.INVALID_ORDER_TYPE
        if display.__class__ is not int or display <= 0 or display > qty:
            return Code.INVALID_DISPLAY_QTY
    if c.stp.__class__ is not StpMode:
        return Code.INVALID_STP_MODE
    if c.reduce_only is not False and c.reduce_only is not True:
        return Code.INVALID_ORDER_TYPE
    return 0


@dataclass(slots=True, kw_only=True)
class CancelOrder:
    """Cancel one live order (resting or untriggered stop) of ``account_id``, found by the
    engine's ``order_id`` or by the account's ``client_order_id``."""

    command_id: str
    instrument_id: str
    account_id: str
    order_id: int | None = None
    client_order_id: str | None = None
    ts: int = 0


@dataclass(slots=True, kw_only=True)
class AmendOrder:
    """Change a resting order's price and/or total quantity (``qty`` includes what already
    filled). A price change or a quantity increase loses time priority; a decrease keeps it."""

    command_id: str
    instrument_id: str
    account_id: str
    order_id: int | None = None
    client_order_id: str | None = None
    price: int | None = None
    qty: int | None = None
    ts: int = 0


@dataclass(slots=True, kw_only=True)
class MassCancel:
    """Cancel every live order of the instrument, optionally only one account's and/or one
    side's (``None`` means all)."""

    command_id: str
    instrument_id: str
    account_id: str | None = None
    side: Side | None = None
    ts: int = 0


@dataclass(slots=True, kw_only=True)
class BlockTrade:
    """A trade agreed off the book (a leg of an accepted RFQ) between the taker
    (``account_id``, ``side``) and ``maker_account_id``, at ``price`` ticks for ``qty`` lots:
    executed as it is, without touching the book or the last price."""

    command_id: str
    instrument_id: str
    account_id: str
    client_order_id: str
    side: Side
    qty: int
    price: int
    maker_account_id: str
    maker_client_order_id: str
    ts: int = 0


@dataclass(slots=True, kw_only=True)
class UpdateMark:
    """New mark price (ticks) from market data; fires mark-triggered stops."""

    command_id: str
    instrument_id: str
    mark_price: int
    ts: int = 0


@dataclass(slots=True, kw_only=True)
class AdvanceTime:
    """Move the engine clock to ``ts`` (ns): expires GTD orders and, at its expiry, the
    instrument. Any command's ``ts`` does the same; this one carries nothing else."""

    command_id: str
    instrument_id: str
    ts: int


@dataclass(slots=True, kw_only=True)
class HaltInstrument:
    """Stop trading: orders stay in the book, only cancels are accepted."""

    command_id: str
    instrument_id: str
    ts: int = 0


@dataclass(slots=True, kw_only=True)
class ResumeInstrument:
    """Resume trading after a halt; stops whose trigger was reached meanwhile fire now."""

    command_id: str
    instrument_id: str
    ts: int = 0


@dataclass(slots=True, kw_only=True)
class ExpireInstrument:
    """Expire the instrument now: every live order expires and the book closes for good."""

    command_id: str
    instrument_id: str
    ts: int = 0


Command = (
    SubmitOrder
    | CancelOrder
    | AmendOrder
    | MassCancel
    | BlockTrade
    | UpdateMark
    | AdvanceTime
    | HaltInstrument
    | ResumeInstrument
    | ExpireInstrument
)

#: Command class by the ``type`` tag used in the dict encoding.
COMMAND_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        SubmitOrder,
        CancelOrder,
        AmendOrder,
        MassCancel,
        BlockTrade,
        UpdateMark,
        AdvanceTime,
        HaltInstrument,
        ResumeInstrument,
        ExpireInstrument,
    )
}

_ENUM_FIELDS: dict[str, type[StrEnum]] = {
    "side": Side,
    "order_type": OrderType,
    "time_in_force": TimeInForce,
    "post_only": PostOnly,
    "trigger": TriggerSource,
    "stp": StpMode,
}
_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls) if f.init) for cls in COMMAND_TYPES.values()
}


def command_to_dict(command: Command) -> dict[str, Any]:
    """Plain dict (str/int/bool/None only) tagged with ``type``; inverse of
    :func:`command_from_dict`."""
    data: dict[str, Any] = {"type": type(command).__name__}
    for name in _FIELD_NAMES[type(command)]:
        value = getattr(command, name)
        data[name] = value.value if isinstance(value, Enum) else value
    return data


def command_from_dict(data: dict[str, Any]) -> Command:
    """Rebuild a command from :func:`command_to_dict` output (enum strings become enums).

    Raises ``ValueError``/``KeyError``/``TypeError`` on malformed input; agents turn that into
    a dead letter.
    """
    cls = COMMAND_TYPES[data["type"]]
    kwargs = {k: v for k, v in data.items() if k != "type"}
    for name, enum_cls in _ENUM_FIELDS.items():
        value = kwargs.get(name)
        if value is not None:
            kwargs[name] = enum_cls(value)
    return cls(**kwargs)
