"""The acceptance service as a Faust agent: ``settlement.orders`` (keyed by order id) →
hedge through the venue adapter → ``settlement.results``, ``settlement.hedges``, ``ledger``.

One record per order in the RocksDB table ``settlement-orders`` (the state machine of
:mod:`streams.settlement.machine`). A timer resumes orders that are not booked — after a
restart, or while the venue keeps refusing — with exponential backoff. The record is stored
after the batch's outputs are flushed; outputs have deterministic ids and the venue
de-duplicates by the hedge's client order id, so a crash anywhere hedges once and books once.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import mode
import structlog

from infra.settings import get_settings
from streams.app import app, state_table
from streams.batching import as_current, as_partition
from streams.changelog import flush_changelogs
from streams.deadletters import send_dead_letter
from streams.inbox import Inbox
from streams.listing import venue_catalogue
from streams.output import BatchOutput
from streams.reference import ReferencePrices
from streams.settlement.expiry import ExpiryError, due_expiries
from streams.settlement.expiry_job import run_expiry
from streams.settlement.machine import DONE, Settlement, advance, start
from streams.settlement.venue import SimulatedVenue, VenueAdapter
from topics.catalogue import ContractError, by_name

__all__ = ["resume_settlements", "settle_due_expiries", "settle_orders", "settlement_table"]

log = structlog.get_logger(__name__)

ORDERS = by_name("settlement.orders")
BATCH_SIZE = 500

_settings = get_settings()
_conf = _settings.settlement
orders_topic = app.topic(ORDERS.name, key_serializer="raw", value_serializer="raw")
settlement_table = state_table("settlement-orders", ORDERS.partitions)
output = BatchOutput()
prices = ReferencePrices(_settings, f"{_settings.worker.app_id}-settlement")
#: orders not booked yet, held here between timer runs (rebuilt from the table at start)
incomplete: dict[str, Settlement] = {}
_scanned = False
#: expiries of what this worker settled, (underlying, ISO expiry); due ones get settled
expiries_seen: set[tuple[str, str]] = set()
expiries_done: set[tuple[str, datetime]] = set()


def make_venue() -> VenueAdapter:
    if _conf.venue != "simulated":
        raise ValueError(f"unknown venue adapter {_conf.venue!r}")
    return SimulatedVenue(_settings.data_dir / "venue" / "simulated.sqlite", prices.book,
                          fee_rate=_conf.venue_fee_rate, slippage_bps=_conf.venue_slippage_bps,
                          failure_rate=_conf.venue_failure_rate)


_venue: VenueAdapter | None = None


def venue() -> VenueAdapter:
    global _venue
    if _venue is None:
        _venue = make_venue()
    return _venue


@app.task
async def _start_prices() -> None:
    prices.start()


def _advance(record: Settlement) -> None:
    for topic, key, message in advance(record, venue(), time.time(),
                                       retry_initial_s=_conf.retry_initial_s,
                                       retry_max_s=_conf.retry_max_s):
        output.send(topic, key, by_name(topic).encode(message))
    if record.expiry:
        expiries_seen.add((record.underlying, record.expiry))
    if record.state in DONE:
        incomplete.pop(record.order_id, None)
    else:
        incomplete[record.order_id] = record


inbox = Inbox([ORDERS.name], name="settlement")
inbox.connect(app)


async def _settle_one(event: Any, touched: dict[bytes, tuple[Settlement, Any]]) -> None:
    try:
        order = ORDERS.decode(event.message.value)
    except ContractError as exc:
        await send_dead_letter(event, "invalid", str(exc))
        return
    key = str(order.order_id).encode()
    if key != bytes(event.message.key):
        await send_dead_letter(event, "wrong_key", f"key {event.message.key!r} but order "
                               f"{order.order_id}")
        return
    if order.status != "open":
        return  # later statuses are the order database's; settlement began at open
    if key in touched:
        record = touched[key][0]
    else:
        with as_current(event):
            known = settlement_table.get(key)
        record = (Settlement.from_json(known) if known is not None
                  else start(order, event.message.partition))
    if record.state in DONE and key not in touched:
        return  # settled already: a duplicate or re-emitted event
    _advance(record)
    touched[key] = (record, event)


@app.agent(orders_topic, supervisor_strategy=mode.CrashingSupervisor)
async def settle_orders(stream: Any) -> None:
    async for batch in inbox.batches(stream, BATCH_SIZE):
        touched: dict[bytes, tuple[Settlement, Any]] = {}
        for event in batch:
            async with inbox.guard(event):
                await _settle_one(event, touched)
        # Outputs first, then the state that records them: a crash in between re-advances
        # the order (the venue answers the same hedge; outputs have the same ids), where the
        # other order could lose an output for good.
        await output.flush()
        for key, (record, event) in touched.items():
            with as_current(event):
                settlement_table[key] = record.to_json()


@app.timer(interval=_conf.resume_every_s)
async def resume_settlements() -> None:
    """Resume what is not booked: after a restart (found by one table scan) or a refusal."""
    global _scanned
    if not _scanned:
        _scanned = True
        for value in settlement_table.values():
            record = Settlement.from_json(value)
            if record.expiry:
                expiries_seen.add((record.underlying, record.expiry))
            if record.state not in DONE:
                incomplete[record.order_id] = record
        if incomplete:
            log.info("resuming settlements", orders=len(incomplete))
    now = time.time()
    advanced = [r for r in incomplete.values() if r.next_at <= now]
    for record in advanced:
        _advance(record)
    await output.flush()  # as in the agent: outputs before the state that records them
    for record in advanced:
        with as_partition(ORDERS.name, record.partition):
            settlement_table[record.order_id.encode()] = record.to_json()
    await flush_changelogs()  # a timer waits for what it wrote, as a batch does


def _candidates() -> set[tuple[str, datetime]]:
    """Expiries of the listed options and of the simplified options sold here."""
    found = {(ul, datetime.fromisoformat(e)) for ul, e in expiries_seen}
    return found | {(inst.base, inst.expiry) for inst in venue_catalogue().values()
                    if inst.expiry is not None}


@app.timer(interval=_conf.expiry_check_every_s, on_leader=True)
async def settle_due_expiries() -> None:
    """On the leader: cash-settle each expiry once it has passed (re-running is harmless:
    the same ids are re-emitted, so a second leader or a restart changes nothing)."""
    for underlying, expiry in due_expiries(_candidates(), expiries_done, datetime.now(UTC)):
        try:
            report = await asyncio.to_thread(run_expiry, _settings, underlying, expiry)
        except ExpiryError as exc:
            log.warning("expiry not settled", underlying=underlying,
                        expiry=expiry.isoformat(), error=str(exc))
            continue
        expiries_done.add((underlying, expiry))
        log.info("expiry settled", underlying=underlying, expiry=expiry.isoformat(),
                 price=str(report.price), positions=len(report.payouts),
                 total=str(report.total))
