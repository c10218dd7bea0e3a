"""Booking: fills and finished orders (``orders.events``, keyed by instrument) become
account activity (``accounts.activity``, keyed by account, for the risk agent) and balanced
ledger postings (``ledger``). Stateless: every output id is a function of its input event, so
a replayed batch re-emits the same ids and every consumer upserts or skips them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import mode
import structlog

from streams.app import app
from streams.instruments import InstrumentKind
from streams.ledger.fees import FeeSchedule, to_usdt
from streams.ledger.postings import fill_posting
from streams.ledger.records import ledger_entries
from streams.listing import venue_catalogue
from streams.output import BatchOutput
from topics.catalogue import ContractError, by_name
from topics.contracts import Fill, OrderEvent, OrderReleased

__all__ = ["book_order_events", "booking_outputs"]

log = structlog.get_logger(__name__)

EVENTS = by_name("orders.events")
ACTIVITY = by_name("accounts.activity")
LEDGER = by_name("ledger")
BATCH_SIZE = 2000
BATCH_WITHIN_S = 0.02
#: order events after which the order holds nothing any more
FINAL_KINDS = frozenset({"filled", "cancelled", "expired", "rejected"})

events_topic = app.topic(EVENTS.name, key_serializer="raw", value_serializer="raw")
output = BatchOutput()
FEES = FeeSchedule()


def booking_outputs(event: OrderEvent, fees: FeeSchedule = FEES
                    ) -> list[tuple[str, bytes, Any]]:
    """``(topic, key, record)`` for one order event: the fill as activity and postings, the
    release of a finished order. Pure, so replays and tests get exactly the same records."""
    out: list[tuple[str, bytes, Any]] = []
    if event.account is None:
        return out
    account_key = event.account.encode()
    if event.trade_id is not None and event.qty and event.price is not None:
        inst = venue_catalogue().get(event.symbol)
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
        out.append((ACTIVITY.name, account_key, fill))
        posting = fill_posting(trade_id=event.trade_id, liquidity=liquidity,
                               account=event.account, symbol=event.symbol, cash=cash, fee=fee,
                               option=option)
        out += [(LEDGER.name, e.account.encode(), e)
                for e in ledger_entries(posting, event.ts_event, event.event_id)]
    if event.kind in FINAL_KINDS and event.client_order_id is not None:
        out.append((ACTIVITY.name, account_key, OrderReleased(
            event_id=f"release:{event.account}:{event.client_order_id}:{event.event_id}",
            ts_event=event.ts_event, causation_id=event.event_id, account=event.account,
            symbol=event.symbol, order_id=event.order_id or "",
            client_order_id=event.client_order_id, reason=event.kind)))
    return out


@app.agent(events_topic, supervisor_strategy=mode.CrashingSupervisor)
async def book_order_events(stream: Any) -> None:
    async for batch in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_S):
        for event in batch:
            try:
                order_event = EVENTS.decode(event.message.value)
            except ContractError as exc:  # orders.events has no dead-letter topic: log it
                log.error("undecodable order event", error=str(exc)[:300],
                          offset=event.message.offset, partition=event.message.partition)
                continue
            for topic, key, record in booking_outputs(order_event):
                output.send(topic, key, by_name(topic).encode(record))
        await output.flush()

