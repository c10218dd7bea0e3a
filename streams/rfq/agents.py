"""The RFQ agent: ``rfq.commands`` (keyed by RFQ id) → ``rfq.events``, and an accepted quote
→ one block-trade command per leg on ``orders.commands``, which matching executes and
booking books like any trade (ledger, positions, the account's risk).

An accepted quote is *cleared* first, as an order is before it reaches the book: the agent
asks risk to hold each side's needs of the whole structure (a
:class:`~topics.contracts.accounts.BlockReservation` per account on ``accounts.activity``,
which only the worker writes) and waits for both answers on ``rfq.clearing`` (co-partitioned
with ``rfq.commands``, read in the same stream). Both held: the legs go to matching, and
their fills release the holds as they release an order's. A side refused (funds, margin,
exposure, KYC): nothing trades, both holds are released, the RFQ is open again.

Thin glue over :class:`streams.rfq.state.RfqState` (one record per RFQ in the RocksDB table
``rfq-state``). The venue's clock decides: a command's time is its broker log-append time,
and a timer closes RFQs past their expiry with the worker's own clock. The record is written
before the batch's outputs are flushed; a replayed command gets the same outcome back (the
state remembers it), whose events and block-trade legs carry the same ids, so a crash
anywhere publishes them at least once and every consumer takes them once.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import mode
import structlog

from infra.settings import get_settings
from streams.app import app, state_table
from streams.batching import as_current, as_partition
from streams.changelog import flush_changelogs
from streams.inbox import Inbox, owner_partition, venue_time_ns
from streams.instruments import InstrumentError, TradingStatus
from streams.listing import venue_catalogue
from streams.output import BatchOutput
from streams.reference import ReferencePrices
from streams.rfq.codes import RfqCode
from streams.rfq.state import Outcome, RfqConfig, RfqState, RfqStatus
from streams.rfq.values import BlockTrade, Leg
from streams.rfq.wire import block_trade_commands, releases, reservations, to_update
from topics.catalogue import by_name
from topics.contracts.rfq import (
    AcceptRfq,
    CancelRfq,
    CancelRfqQuote,
    OpenRfq,
    QuoteRfq,
    RfqClearance,
)

__all__ = ["close_expired_rfqs", "rfq_table", "run_rfqs"]

log = structlog.get_logger(__name__)

COMMANDS = by_name("rfq.commands")
CLEARING = by_name("rfq.clearing")
EVENTS = by_name("rfq.events")
ACTIVITY = by_name("accounts.activity")
ORDER_COMMANDS = by_name("orders.commands")
BATCH_SIZE = 500

_settings = get_settings()
CONFIG = RfqConfig(ttl_ms=_settings.rfq.ttl_ms, quote_ttl_ms=_settings.rfq.quote_ttl_ms)
rfq_topic = app.topic(COMMANDS.name, CLEARING.name, key_serializer="raw",
                      value_serializer="raw")
rfq_table = state_table("rfq-state", COMMANDS.partitions)
output = BatchOutput()
inbox = Inbox([COMMANDS.name, CLEARING.name], name="rfq")
inbox.connect(app)
prices = ReferencePrices(_settings, f"{_settings.worker.app_id}-rfq")
#: open RFQs held here (partition, state) between timer runs; rebuilt from the table
open_rfqs: dict[str, tuple[int, RfqState]] = {}
RESCAN_EVERY_S = 60.0  # the table is read again now and then: it may have been recovering
_scanned_at = 0.0


@app.task
async def _start_prices() -> None:
    prices.start()


def _marks(legs: tuple[Leg, ...]) -> dict[str, Decimal]:
    """Reference prices of the legs, on their instrument's tick: an option's mark, a spot
    pair's index (the residual of the net price goes to one leg, so the others must be
    executable as they are)."""
    listed = venue_catalogue().current()
    out: dict[str, Decimal] = {}
    for leg in legs:
        inst = listed.get(leg.symbol)
        if inst is None:
            continue
        price = prices.mark(leg.symbol) if inst.strike is not None else prices.index(inst.base)
        if price is not None and price >= inst.tick_size:
            out[leg.symbol] = (price // inst.tick_size) * inst.tick_size
    return out


def tradable(trade: BlockTrade) -> RfqCode | None:
    """Every leg listed, trading, on its price and quantity grid — or the accept is refused
    before anything trades (matching would refuse an off-grid leg after the others traded)."""
    listed = venue_catalogue().current()
    for leg in trade.legs:
        inst = listed.get(leg.symbol)
        if inst is None or inst.status is not TradingStatus.TRADING:
            return RfqCode.LEG_NOT_TRADABLE
        try:
            inst.price_to_ticks(leg.price)
            inst.qty_to_lots(leg.qty)
        except InstrumentError:
            return RfqCode.LEG_NOT_TRADABLE
    return None


def _apply(state: RfqState, cmd: Any, now_ms: int) -> Outcome:
    if isinstance(cmd, RfqClearance):
        return state.clear(cmd.event_id, attempt=cmd.attempt, account=cmd.account,
                           risk_code=cmd.code, risk_reason=cmd.reason or "", now_ms=now_ms)
    if isinstance(cmd, OpenRfq):
        return state.open(cmd.command_id, taker=cmd.account, amount=cmd.amount, now_ms=now_ms,
                          legs=[Leg(leg.symbol, leg.side, leg.ratio) for leg in cmd.legs],
                          config=CONFIG, one_sided=cmd.side)
    if isinstance(cmd, QuoteRfq):
        return state.quote(cmd.command_id, quote_id=cmd.quote_id, maker=cmd.account,
                           side=cmd.side, price=cmd.price, amount=cmd.amount, now_ms=now_ms)
    if isinstance(cmd, CancelRfqQuote):
        return state.cancel_quote(cmd.command_id, maker=cmd.account, quote_id=cmd.quote_id,
                                  now_ms=now_ms)
    if isinstance(cmd, AcceptRfq):
        legs = state.spec.legs if state.spec is not None else ()
        return state.accept(cmd.command_id, account=cmd.account, side=cmd.side, now_ms=now_ms,
                            marks=_marks(legs), quote_id=cmd.quote_id,
                            limit_price=cmd.limit_price, tradable=tradable)
    assert isinstance(cmd, CancelRfq)
    return state.cancel(cmd.command_id, account=cmd.account, now_ms=now_ms)


def _publish(outcome: Outcome) -> None:
    for event in outcome.events:
        output.send(EVENTS.name, event.rfq_id.encode(), EVENTS.encode(to_update(event)))
    if (clearing := outcome.to_clear) is not None:
        for hold in reservations(clearing):
            output.send(ACTIVITY.name, hold.account.encode(), ACTIVITY.encode(hold))
    if (failed := outcome.to_release) is not None:
        for release in releases(failed):
            output.send(ACTIVITY.name, release.account.encode(), ACTIVITY.encode(release))
    if outcome.trade is not None:
        for cmd in block_trade_commands(outcome.trade):
            output.send(ORDER_COMMANDS.name, cmd.symbol.encode(), ORDER_COMMANDS.encode(cmd))


def _track(state: RfqState, partition: int) -> None:
    if state.status is RfqStatus.OPEN:
        open_rfqs[state.rfq_id] = (partition, state)
    else:
        open_rfqs.pop(state.rfq_id, None)


async def _one(event: Any, touched: dict[str, tuple[RfqState, Any]]) -> None:
    cmd = await inbox.decode(event, key_of=lambda c: c.rfq_id)
    if cmd is None:
        return
    if cmd.rfq_id in touched:
        state = touched[cmd.rfq_id][0]
    else:
        with as_current(event):
            known = rfq_table.get(cmd.rfq_id.encode())
        state = RfqState.from_record(known) if known is not None else RfqState(cmd.rfq_id)
    outcome = _apply(state, cmd, venue_time_ns(event.message) // 1_000_000)
    if outcome.code is not None and not outcome.replayed:
        log.info("rfq command refused", rfq=cmd.rfq_id, command=type(cmd).__name__,
                 code=int(outcome.code))
    _publish(outcome)
    touched[cmd.rfq_id] = (state, event)


@app.agent(rfq_topic, supervisor_strategy=mode.CrashingSupervisor)
async def run_rfqs(stream: Any) -> None:
    # the inbox flushes the output before Faust acknowledges (and later commits) each batch
    async for batch in inbox.batches(stream, BATCH_SIZE):
        touched: dict[str, tuple[RfqState, Any]] = {}
        for event in batch:
            async with inbox.guard(event):
                await _one(event, touched)
        for rfq_id, (state, event) in touched.items():
            with as_current(event):
                rfq_table[rfq_id.encode()] = state.to_record()
            _track(state, event.message.partition)


@app.timer(interval=_settings.rfq.expire_every_s)
async def close_expired_rfqs() -> None:
    """Publish the expiry of open RFQs past their time (the worker's clock: the venue's).
    Commands arriving later would expire them anyway; this makes it visible on time."""
    global _scanned_at
    if time.monotonic() - _scanned_at > RESCAN_EVERY_S:  # RFQs open before a restart
        _scanned_at = time.monotonic()
        for key, value in rfq_table.items():
            state = RfqState.from_record(value)
            if state.status is RfqStatus.OPEN and state.rfq_id not in open_rfqs:
                open_rfqs[state.rfq_id] = (owner_partition(key, COMMANDS.partitions), state)
    now_ms = int(time.time() * 1000)
    due = [(p, s) for p, s in list(open_rfqs.values())
           if s.spec is not None and s.spec.expires_ms <= now_ms]
    for _, state in due:
        _publish(state.expire(now_ms))
    await output.flush()  # outputs, then the state that records them (as in the agent)
    for partition, state in due:
        with as_partition(COMMANDS.name, partition):
            rfq_table[state.rfq_id.encode()] = state.to_record()
        _track(state, partition)
    await flush_changelogs()  # a timer waits for what it wrote, as a batch does
