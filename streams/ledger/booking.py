"""Booking of order events, pure: an ``orders.events`` record becomes account activity (for
the risk agent) and balanced ledger postings. :mod:`streams.ledger.agents` is the Faust glue.

Stateless: every output id is a function of its input event, so a replayed batch re-emits the
same ids and every consumer upserts or skips them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from streams.instruments import InstrumentKind
from streams.ledger.fees import FeeSchedule, to_usdt
from streams.ledger.postings import fill_posting
from streams.ledger.records import ledger_entries
from streams.listing import venue_catalogue
from topics.contracts import Fill, OrderEvent, OrderReleased

__all__ = ["ANSWER_KINDS", "FEES", "FINAL_KINDS", "RISK_EVENT_PREFIX", "booking_outputs"]

ACTIVITY = "accounts.activity"
LEDGER = "ledger"
#: order events after which the order holds nothing any more
FINAL_KINDS = frozenset({"filled", "cancelled", "expired"})
#: order events that answer one command: they concern only what that command reserved
ANSWER_KINDS = frozenset({"rejected", "command_rejected", "amended"})
#: event ids of the risk agent's own rejections (``streams.risk.account.RISK_EVENT_PREFIX``)
RISK_EVENT_PREFIX = "risk:"
FEES = FeeSchedule()


def booking_outputs(event: OrderEvent, fees: FeeSchedule = FEES
                    ) -> list[tuple[str, bytes, Any]]:
    """``(topic, key, record)`` for one order event: the fill as activity and postings, the
    release of what the event changed. Pure, so replays and tests get the same records."""
    out: list[tuple[str, bytes, Any]] = []
    if event.account is None:
        return out
    account_key = event.account.encode()
    if event.trade_id is not None and event.qty and event.price is not None:
        # the listing at the fill's venue time, not now: a replay books the same records
        inst = venue_catalogue().at(event.ts_event).get(event.symbol)
        option = inst is not None and inst.kind is InstrumentKind.OPTION
        size = (inst.contract_size or Decimal(1)) if inst is not None else Decimal(1)
        notional = to_usdt(event.price * event.qty * size)
        cash = -notional if event.side == "buy" else notional
        maker = bool(event.is_maker)
        fee = fees.fee(notional, option=option, maker=maker)
        liquidity = "maker" if maker else "taker"
        fill = Fill(event_id=f"fill:{event.trade_id}:{liquidity}", ts_event=event.ts_event,
                    causation_id=event.event_id, account=event.account, symbol=event.symbol,
                    trade_id=event.trade_id, order_id=event.order_id or "",
                    client_order_id=event.client_order_id, side=event.side or "buy",
                    liquidity=liquidity, price=event.price, qty=event.qty, cash=cash, fee=fee)
        out.append((ACTIVITY, account_key, fill))
        posting = fill_posting(trade_id=event.trade_id, liquidity=liquidity,
                               account=event.account, symbol=event.symbol, cash=cash, fee=fee,
                               option=option)
        out += [(LEDGER, e.account.encode(), e)
                for e in ledger_entries(posting, event.ts_event, event.event_id)]
    released = _released(event)
    if released is not None:
        out.append((ACTIVITY, account_key, released))
    return out


def _released(event: OrderEvent) -> OrderReleased | None:
    """What risk must release for an order event, if anything.

    A finished order releases its whole reservation. An answer to one command (a rejection,
    an applied amend) names that command, so risk changes only what the command reserved:
    a rejected duplicate submit, cancel or amend must not release the live order whose
    client order id it carries. Risk's own rejections are not booked at all: risk created
    nothing for them.
    """
    if event.account is None or event.client_order_id is None \
            or event.event_id.startswith(RISK_EVENT_PREFIX):
        return None
    if event.kind in FINAL_KINDS:
        command_id = None
    elif event.kind in ANSWER_KINDS and event.causation_id is not None:
        command_id = event.causation_id
    else:
        return None
    return OrderReleased(
        event_id=f"release:{event.account}:{event.client_order_id}:{event.event_id}",
        ts_event=event.ts_event, causation_id=event.event_id, account=event.account,
        symbol=event.symbol, order_id=event.order_id or "",
        client_order_id=event.client_order_id, reason=event.kind, command_id=command_id,
        leaves_qty=event.leaves_qty if event.kind == "amended" else None)
