"""Between the wire and the engine: contracts in Decimal, the engine in integer ticks and lots.

The one place that turns an ``orders.commands`` message into an engine command and an engine
event into ``orders.events`` / ``trades`` messages (exchange-core's "translate internal events
in one place"). Pure: no Faust, no Kafka.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from streams.instruments import Instrument
from streams.instruments.catalogue import InstrumentError
from streams.matching import codes, events, orders
from topics.contracts import orders as wire

__all__ = [
    "Rejection",
    "encode_event",
    "ns_to_datetime",
    "order_id",
    "rejected_before_engine",
    "to_command",
    "to_messages",
    "ts_ns",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Ticks and lots stay within a signed 64-bit integer: what snapshots, sinks and every other
# language's client can hold, and far beyond any real price or quantity.
_MAX_UNITS = 2**63
_ORDER_TYPES = {
    "limit": orders.OrderType.LIMIT,
    "market": orders.OrderType.MARKET,
    "stop": orders.OrderType.STOP_MARKET,
    "stop_limit": orders.OrderType.STOP_LIMIT,
    "trailing_stop": orders.OrderType.TRAILING_STOP,
}
_POST_ONLY = {
    "no": orders.PostOnly.NONE,
    "reject": orders.PostOnly.REJECT,
    "reprice": orders.PostOnly.REPRICE,
}


class Rejection(Exception):
    """A command that is well formed on the wire but cannot reach the engine (off the grid)."""

    def __init__(self, code: codes.Code, detail: str) -> None:
        self.code = code
        super().__init__(detail)


def ts_ns(ts: datetime) -> int:
    delta = ts - _EPOCH
    return ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1000


def ns_to_datetime(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


def order_id(symbol: str, engine_id: int | None) -> str | None:
    return None if engine_id is None else f"{symbol}#{engine_id}"


def _ticks(inst: Instrument, price: Decimal | None, code: codes.Code) -> int | None:
    if price is None:
        return None
    try:
        ticks = inst.price_to_ticks(price)
    except InstrumentError as exc:  # off the grid, or beyond any price the engine holds
        raise Rejection(code, str(exc)) from None
    if not 0 < ticks < _MAX_UNITS:
        raise Rejection(code, f"price {price} is outside the range the engine holds")
    return ticks


def _lots(inst: Instrument, qty: Decimal | None) -> int | None:
    if qty is None:
        return None
    try:
        lots = inst.qty_to_lots(qty)
    except InstrumentError as exc:
        raise Rejection(codes.Code.INVALID_QUANTITY, str(exc)) from None
    if not 0 < lots < _MAX_UNITS:
        raise Rejection(codes.Code.INVALID_QUANTITY,
                        f"quantity {qty} is outside the range the engine holds")
    return lots


def to_command(cmd: Any, inst: Instrument, now_ns: int) -> orders.Command:
    """The engine command for a validated wire command; :class:`Rejection` if off the grid.

    ``now_ns`` is the venue's time for this command (the broker's log-append time of the
    message): the engine's clock, which decides GTD and instrument expiry, never comes from
    ``ts_sent``, a field the client fills.
    """
    common = {
        "command_id": cmd.command_id,
        "instrument_id": cmd.symbol,
        "account_id": cmd.account,
        "ts": now_ns,
    }
    if isinstance(cmd, wire.SubmitOrder):
        return orders.SubmitOrder(
            **common,
            client_order_id=cmd.client_order_id,
            side=orders.Side(cmd.side),
            qty=_lots(inst, cmd.qty) or 0,
            order_type=_ORDER_TYPES[cmd.order_type],
            price=_ticks(inst, cmd.price, codes.Code.INVALID_PRICE),
            time_in_force=orders.TimeInForce(cmd.time_in_force.lower()),
            expire_ts=ts_ns(cmd.expire_at) if cmd.expire_at else None,
            post_only=_POST_ONLY[cmd.post_only],
            reduce_only=cmd.reduce_only,
            stop_price=_ticks(inst, cmd.trigger_price, codes.Code.INVALID_STOP_PRICE),
            trigger=orders.TriggerSource(cmd.trigger_source),
            trailing_offset=cmd.trail_ticks,
            display_qty=_lots(inst, cmd.display_qty),
            protection_price=_ticks(
                inst, cmd.protection_price, codes.Code.INVALID_PROTECTION_PRICE
            ),
            stp=orders.StpMode(cmd.stp),
        )
    if isinstance(cmd, wire.CancelOrder):
        return orders.CancelOrder(**common, client_order_id=cmd.client_order_id)
    if isinstance(cmd, wire.AmendOrder):
        return orders.AmendOrder(
            **common,
            client_order_id=cmd.client_order_id,
            price=_ticks(inst, cmd.new_price, codes.Code.INVALID_PRICE),
            qty=_lots(inst, cmd.new_qty),
        )
    if isinstance(cmd, wire.MassCancel):
        return orders.MassCancel(**common)
    if isinstance(cmd, wire.BlockTrade):
        return orders.BlockTrade(
            **common,
            client_order_id=cmd.client_order_id,
            side=orders.Side(cmd.side),
            qty=_lots(inst, cmd.qty) or 0,
            price=_ticks(inst, cmd.price, codes.Code.INVALID_PRICE) or 0,
            maker_account_id=cmd.maker_account,
            maker_client_order_id=cmd.maker_client_order_id,
        )
    raise TypeError(f"no engine command for {type(cmd).__name__}")


def rejected_before_engine(cmd: Any, rejection: Rejection, seq: int,
                           now_ns: int) -> wire.OrderEvent:
    """An ``orders.events`` rejection for a command the engine never saw (``seq`` is the
    engine's current sequence: the event does not advance it, so its id carries the command)."""
    return wire.OrderEvent(
        event_id=f"{cmd.symbol}:reject:{cmd.command_id}",
        ts_event=ns_to_datetime(now_ns),
        causation_id=cmd.command_id,
        symbol=cmd.symbol,
        seq=seq,
        kind="rejected",
        account=cmd.account,
        client_order_id=getattr(cmd, "client_order_id", None),
        reason_code=int(rejection.code),
        reason=f"{rejection.code.name}: {rejection}",
    )


_KINDS: dict[type, str] = {
    events.OrderAccepted: "accepted",
    events.OrderRejected: "rejected",
    events.OrderTriggered: "triggered",
    events.OrderPartiallyFilled: "partially_filled",
    events.OrderFilled: "filled",
    events.OrderCancelled: "cancelled",
    events.OrderExpired: "expired",
    events.OrderAmended: "amended",
    events.CommandRejected: "command_rejected",
}
_PRICE_FIELDS = ("price", "stop_price", "trigger_price")
_QTY_FIELDS = ("qty", "leaves_qty")


def to_messages(event: events.Event, inst: Instrument) -> tuple[str, Any] | None:
    """``("orders.events" | "trades", message)`` for an engine event; None for internal ones.

    Built with ``model_construct``: the engine's output is on the instrument's grid by
    construction, and validating every event again costs more than matching it (the unit
    tests validate these messages in full).
    """
    symbol = event.instrument_id
    common = {
        "event_id": f"{symbol}:{event.seq}",
        "ts_event": ns_to_datetime(event.ts),
        "causation_id": event.causation_id,
        "symbol": symbol,
        "seq": event.seq,
    }
    if isinstance(event, events.TradeExecuted):
        return "trades", wire.Trade.model_construct(
            **common,
            trade_id=event.trade_id,
            price=inst.ticks_to_price(event.price),
            qty=inst.lots_to_qty(event.qty),
            aggressor_side=event.aggressor_side.value,
            maker_order_id=order_id(symbol, event.maker_order_id),
            taker_order_id=order_id(symbol, event.taker_order_id),
            maker_account=event.maker_account_id,
            taker_account=event.taker_account_id,
        )
    kind = _KINDS.get(type(event))
    if kind is None:  # InstrumentStatusChanged: the book's own news, not an order's
        return None
    fields: dict[str, Any] = {
        "kind": kind,
        "account": event.account_id,
        "client_order_id": event.client_order_id,
    }
    data = event._asdict()
    if "order_id" in data:
        fields["order_id"] = order_id(symbol, data["order_id"])
    for name in ("side", "order_type", "time_in_force"):
        if data.get(name) is not None:
            fields[name] = data[name].value
    for name in _PRICE_FIELDS:
        if data.get(name) is not None:
            fields[name] = inst.ticks_to_price(data[name])
    for name in _QTY_FIELDS:
        if data.get(name) is not None:
            fields[name] = inst.lots_to_qty(data[name])
    if "is_maker" in data:
        fields["is_maker"] = data["is_maker"]
        fields["trade_id"] = event.trade_id  # type: ignore[union-attr]
    code = data.get("code")
    if code:
        fields["reason_code"] = int(code)
        fields["reason"] = codes.describe(code)
    return "orders.events", wire.OrderEvent.model_construct(**common, **fields)


# -- the hot path: engine event → contract JSON, without building pydantic models ----------
_TRADES = "trades"
_EVENTS = "orders.events"


def _iso(ns: int) -> str:
    return ns_to_datetime(ns).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _dec(value: Decimal) -> str:
    return format(value, "f")


def encode_event(event: events.Event, inst: Instrument, ts_init: str) -> tuple[str, bytes] | None:
    """The same JSON ``to_messages`` + the topic's ``encode`` would give (a unit test holds
    them equal), at a fraction of the cost: the matching agent's output path."""
    symbol = event.instrument_id
    out: dict[str, Any] = {"event_id": f"{symbol}:{event.seq}", "ts_event": _iso(event.ts),
                           "ts_init": ts_init, "causation_id": event.causation_id,
                           "symbol": symbol}
    if isinstance(event, events.TradeExecuted):
        out.update(trade_id=event.trade_id, price=_dec(inst.ticks_to_price(event.price)),
                   qty=_dec(inst.lots_to_qty(event.qty)),
                   aggressor_side=event.aggressor_side.value,
                   maker_order_id=f"{symbol}#{event.maker_order_id}",
                   taker_order_id=f"{symbol}#{event.taker_order_id}",
                   maker_account=event.maker_account_id, taker_account=event.taker_account_id,
                   seq=event.seq)
        return _TRADES, orjson.dumps(out)
    kind = _KINDS.get(type(event))
    if kind is None:
        return None
    data = event._asdict()
    engine_order = data.get("order_id")
    out.update(seq=event.seq, kind=kind, account=event.account_id,
               client_order_id=event.client_order_id,
               order_id=None if engine_order is None else f"{symbol}#{engine_order}")
    for name in ("side", "order_type", "time_in_force"):
        value = data.get(name)
        out[name] = None if value is None else value.value
    for name in _PRICE_FIELDS:
        value = data.get(name)
        out[name] = None if value is None else _dec(inst.ticks_to_price(value))
    for name in _QTY_FIELDS:
        value = data.get(name)
        out[name] = None if value is None else _dec(inst.lots_to_qty(value))
    if "is_maker" in data:
        out["trade_id"], out["is_maker"] = event.trade_id, data["is_maker"]  # type: ignore[union-attr]
    else:
        out["trade_id"], out["is_maker"] = None, None
    code = data.get("code")
    out["reason_code"] = int(code) if code else None
    out["reason"] = codes.describe(code) if code else None
    return _EVENTS, orjson.dumps(out)
