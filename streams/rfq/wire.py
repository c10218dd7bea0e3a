"""RFQ domain events → their ``rfq.events`` records; a block trade being cleared → the holds
risk is asked for (one per side, every leg at once); a failed clearing → their release; a
cleared block trade → the per-leg commands matching executes. Pure: the RFQ agent's glue,
kept here so it is tested without Faust."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streams.rfq.events import (
    QuoteAdded,
    QuoteCancelled,
    QuoteRefused,
    QuoteReplaced,
    RfqAccepted,
    RfqCancelled,
    RfqClearing,
    RfqEvent,
    RfqExpired,
    RfqNotCleared,
    RfqOpened,
    RfqRefused,
)
from streams.rfq.values import BlockTrade
from topics.contracts import BlockLeg, BlockRelease, BlockReservation
from topics.contracts import BlockTrade as BlockTradeCommand
from topics.contracts.rfq import RfqLeg, RfqUpdate

__all__ = ["block_trade_commands", "leg_client_order_id", "leg_command_id", "releases",
           "reservations", "to_update"]


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def leg_client_order_id(rfq_id: str, leg: int, role: str) -> str:
    """The client order id of one side (``t`` taker, ``m`` maker) of one leg."""
    return f"rfq-{rfq_id}-{leg}-{role}"


def leg_command_id(trade: BlockTrade, leg: int) -> str:
    """The command id of one leg: matching's block-trade command and the holds risk keeps for
    it until that command's fills or refusal release them."""
    return f"{trade.trade_id}:{leg}"


def to_update(event: RfqEvent) -> RfqUpdate:
    """The ``rfq.events`` record of one domain event."""
    base: dict[str, Any] = {"event_id": event.event_id, "ts_event": _utc(event.ts_ms),
                            "causation_id": event.causation_id, "rfq_id": event.rfq_id,
                            "seq": event.seq, "kind": event.type}
    if isinstance(event, RfqOpened):
        base |= {"account": event.taker, "amount": event.amount, "side": event.one_sided,
                 "legs": [RfqLeg(symbol=leg.symbol, side=leg.side, ratio=leg.ratio)
                          for leg in event.legs], "expires_at": _utc(event.expires_ms)}
    elif isinstance(event, QuoteAdded | QuoteReplaced):
        q = event.quote
        base |= {"account": q.maker, "maker": q.maker, "quote_id": q.quote_id, "side": q.side,
                 "price": q.price, "amount": q.amount, "expires_at": _utc(q.valid_until_ms)}
    elif isinstance(event, QuoteCancelled):
        base |= {"account": event.maker, "maker": event.maker, "quote_id": event.quote_id,
                 "side": event.side}
    elif isinstance(event, QuoteRefused | RfqRefused):
        who = event.maker if isinstance(event, QuoteRefused) else event.account
        base |= {"account": who, "code": int(event.code), "reason": event.to_record()["reason"],
                 "quote_id": getattr(event, "quote_id", None)}
    elif isinstance(event, RfqNotCleared):
        base |= {"kind": "rfq_refused", "account": event.trade.taker,
                 "maker": event.trade.maker, "quote_id": event.trade.quote_id,
                 "code": int(event.code),
                 "reason": f"{event.to_record()['reason']}: {event.account} "
                           f"{event.risk_code} {event.risk_reason}".strip()}
    elif isinstance(event, RfqAccepted | RfqClearing):
        t = event.trade
        base |= {"account": t.taker, "maker": t.maker, "quote_id": t.quote_id, "side": t.side,
                 "price": t.price, "amount": t.amount, "trade_id": t.trade_id,
                 "legs": [RfqLeg(symbol=f.symbol, side=f.taker_side) for f in t.legs],
                 "leg_prices": [f.price for f in t.legs]}
    elif isinstance(event, RfqCancelled):
        base |= {"account": event.taker}
    elif isinstance(event, RfqExpired):
        base |= {"expires_at": _utc(event.expires_ms)}
    return RfqUpdate(**base)


def _side_legs(trade: BlockTrade, role: str) -> list[BlockLeg]:
    return [BlockLeg(symbol=leg.symbol, side=leg.taker_side if role == "t" else leg.maker_side,
                     qty=leg.qty, price=leg.price,
                     client_order_id=leg_client_order_id(trade.rfq_id, n, role),
                     command_id=leg_command_id(trade, n))
            for n, leg in enumerate(trade.legs)]


def reservations(clearing: RfqClearing) -> list[BlockReservation]:
    """What risk must hold of the taker and of the maker (on ``accounts.activity``, keyed by
    the account) before the block trade of ``clearing`` may trade. Each leg's hold has the
    client order id and command id its fill and matching's answer will carry, so they
    release it as they release an order's."""
    t = clearing.trade
    return [BlockReservation(event_id=f"reserve:{clearing.attempt}:{account}",
                             ts_event=_utc(clearing.ts_ms), causation_id=clearing.event_id,
                             account=account, rfq_id=t.rfq_id, attempt=clearing.attempt,
                             legs=_side_legs(t, role))
            for account, role in ((t.taker, "t"), (t.maker, "m"))]


def releases(failed: RfqNotCleared) -> list[BlockRelease]:
    """Both sides' holds of a failed clearing (a side never held releases nothing)."""
    t = failed.trade
    return [BlockRelease(event_id=f"unreserve:{failed.attempt}:{account}",
                         ts_event=_utc(failed.ts_ms), causation_id=failed.event_id,
                         account=account, rfq_id=t.rfq_id, attempt=failed.attempt,
                         client_order_ids=[leg.client_order_id for leg in _side_legs(t, role)])
            for account, role in ((t.taker, "t"), (t.maker, "m"))]


def block_trade_commands(trade: BlockTrade) -> list[BlockTradeCommand]:
    """One block-trade command per leg, for matching (keyed by the leg's instrument). The ids
    are the trade's: re-sent after a crash, matching drops them as repeats."""
    out = []
    for n, leg in enumerate(trade.legs):
        out.append(BlockTradeCommand(
            command_id=leg_command_id(trade, n), ts_sent=_utc(trade.ts_ms), account=trade.taker,
            symbol=leg.symbol, client_order_id=leg_client_order_id(trade.rfq_id, n, "t"),
            side=leg.taker_side, qty=leg.qty, price=leg.price, maker_account=trade.maker,
            maker_client_order_id=leg_client_order_id(trade.rfq_id, n, "m"),
            trade_ref=trade.trade_id))
    return out
