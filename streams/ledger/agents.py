"""Booking: fills and what orders hold (``orders.events``, keyed by instrument) become account
activity (``accounts.activity``, keyed by account, for the risk agent) and balanced ledger
postings (``ledger``). Thin glue over the pure :mod:`streams.ledger.booking`: stateless, every
output id a function of its input event, so a replayed batch re-emits the same ids and every
consumer upserts or skips them.
"""

from __future__ import annotations

from typing import Any

import mode
import structlog

from streams.app import app
from streams.deadletters import send_dead_letter
from streams.inbox import Inbox
from streams.ledger.booking import FEES, booking_outputs
from streams.output import BatchOutput
from topics.catalogue import ContractError, by_name

__all__ = ["FEES", "book_order_events", "booking_outputs"]

log = structlog.get_logger(__name__)

EVENTS = by_name("orders.events")
BATCH_SIZE = 2000

events_topic = app.topic(EVENTS.name, key_serializer="raw", value_serializer="raw")
output = BatchOutput()
inbox = Inbox([EVENTS.name], name="booking", keyed=False)  # stateless: any partition will do
inbox.connect(app)


async def _book_one(event: Any) -> None:
    try:
        order_event = EVENTS.decode(event.message.value)
    except ContractError as exc:
        await send_dead_letter(event, "invalid", str(exc))
        return
    for topic, key, record in booking_outputs(order_event):
        output.send(topic, key, by_name(topic).encode(record))


@app.agent(events_topic, supervisor_strategy=mode.CrashingSupervisor)
async def book_order_events(stream: Any) -> None:
    # the inbox flushes the output before Faust acknowledges (and later commits) each batch
    async for batch in inbox.batches(stream, BATCH_SIZE):
        for event in batch:
            async with inbox.guard(event):
                await _book_one(event)
