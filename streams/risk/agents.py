"""The risk agent: in front of matching, keyed by account.

It reads two co-partitioned topics, ``orders.requests`` (what producers send) and
``accounts.activity`` (fills, released orders, transfers, expiries), in one stream, so an
account's requests and its activity are applied in one order by one worker. Accepted
requests go on to ``orders.commands`` (keyed by instrument); rejected ones become ``rejected``
order events with a 5xxx code. A block trade's :class:`BlockReservation` (from the RFQ
agent, on ``accounts.activity``) is answered on ``rfq.clearing``: held, or why not. A timer
revalues every account against fresh marks:
``positions``, ``risk.alerts`` once per crossing, and stop-loss / liquidation orders.

State: each account in small JSON parts in the RocksDB table ``risk-accounts``
(:mod:`streams.risk.records`: a batch writes only the parts it changed). They are written
before the batch's outputs are flushed, and they remember recent decisions by command id:
a batch replayed after a crash re-emits the same decisions (matching ignores a
repeated command id; rejections and positions carry deterministic ids).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import mode
import structlog

from infra.settings import get_settings
from streams.app import app, state_table
from streams.batching import as_current
from streams.changelog import flush_changelogs
from streams.deadletters import send_dead_letter
from streams.inbox import Inbox, venue_time_ns
from streams.ledger.booking import FEES
from streams.ledger.fees import to_usdt
from streams.listing import venue_catalogue
from streams.output import BatchOutput
from streams.reference import ReferencePrices
from streams.risk.account import AccountState, Alert, Decision, Revaluation
from streams.risk.codes import describe
from streams.risk.records import store_key, write_save
from topics.catalogue import ContractError, by_name
from topics.contracts import BlockReservation, Position, RiskAlert
from topics.contracts.rfq import RfqClearance

__all__ = ["accounts", "revalue_accounts", "risk_check", "risk_table"]

log = structlog.get_logger(__name__)

REQUESTS = by_name("orders.requests")
ACTIVITY = by_name("accounts.activity")
COMMANDS = by_name("orders.commands")
CLEARING = by_name("rfq.clearing")  # risk's answers to a block trade's holds
ACCOUNT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # the contracts' AccountId
BATCH_SIZE = 2000

_settings = get_settings()
LIMITS = _settings.risk
CATALOGUE = venue_catalogue()

risk_topic = app.topic(REQUESTS.name, ACTIVITY.name, key_serializer="raw",
                       value_serializer="raw")
# An account's parts change together, so the table heals through streams.risk.records (a
# restarted worker's first save of an account is all of it, in one journal message).
risk_table = state_table("risk-accounts", REQUESTS.partitions, heal=False, **{
    "max.message.bytes": str(16 * 2**20), "segment.bytes": str(32 * 2**20)})
output = BatchOutput()
inbox = Inbox([REQUESTS.name, ACTIVITY.name], name="risk")
inbox.connect(app)
prices = ReferencePrices(_settings, f"{_settings.worker.app_id}-risk")


@dataclass
class _Live:
    state: AccountState
    last_event: Any  # of this account's partition: table writes go under it
    marks: dict[str, Decimal | None]  # last mark published per symbol


accounts: dict[str, _Live] = {}


@app.on_partitions_revoked.connect
async def _forget_revoked(sender: Any, revoked: Any, **_: Any) -> None:
    gone = {tp.partition for tp in revoked if tp.topic == REQUESTS.name}
    for account in [a for a, live in accounts.items()
                    if live.last_event.message.partition in gone]:
        del accounts[account]


@app.task
async def _start_prices() -> None:
    prices.start()


def _utc(ts_s: float) -> datetime:
    return datetime.fromtimestamp(ts_s, UTC)


def _send(topic: str, key: bytes, record: Any) -> None:
    output.send(topic, key, by_name(topic).encode(record))


def _emit_decision(decision: Decision, now: datetime) -> None:
    if decision.accepted:
        for command in decision.forwarded():
            _send(COMMANDS.name, command.symbol.encode(), command)
    else:
        _send("orders.events", decision.rejection(now).symbol.encode(), decision.rejection(now))


def _emit_trips(state: AccountState, now: datetime) -> None:
    """Market-maker protection tripped: the underlying's MMP quotes cancelled in one step
    (all in this batch), and an alert."""
    for trip in state.take_trips():
        for cancel in trip.cancels:
            _send(COMMANDS.name, cancel.symbol.encode(), cancel)
        _send_alert(state.account, trip.alert, now)
        log.warning("market-maker protection tripped", account=state.account,
                    underlying=trip.breach.underlying, reason=trip.breach.reason,
                    cancelled_in=[c.symbol for c in trip.cancels])


def _send_alert(account: str, alert: Alert, now: datetime) -> None:
    _send("risk.alerts", account.encode(), RiskAlert(
        event_id=alert.alert_id, ts_event=now, account=account, kind=alert.kind,
        level=alert.level, message=alert.message, margin_ratio=alert.margin_ratio,
        symbol=alert.symbol))


def _position_id(account: str, symbol: str, seq: int, values: tuple[Any, ...]) -> str:
    """The id of one valuation of a position. The account's ``seq`` does not move with the
    mark, so the id also carries a digest of what is valued: a revaluation at another mark
    is another event, and re-emitting the same valuation (a replay) is the same event."""
    digest = hashlib.blake2b(repr(values).encode(), digest_size=6).hexdigest()
    return f"position:{account}:{symbol}:{seq}:{digest}"


def _emit_positions(live: _Live, symbols: set[str], revaluation: Revaluation,
                    now: datetime) -> None:
    state = live.state
    for symbol in symbols:
        pos, mark, unrealized, maintenance = revaluation.positions[symbol]
        live.marks[symbol] = mark
        values = (pos.qty, pos.avg_price, to_usdt(pos.realized), to_usdt(unrealized), mark,
                  to_usdt(maintenance))
        _send("positions", f"{state.account}|{symbol}".encode(), Position(
            event_id=_position_id(state.account, symbol, state.seq, values), ts_event=now,
            account=state.account, symbol=symbol, qty=values[0], avg_price=values[1],
            realized_pnl=values[2], unrealized_pnl=values[3], mark_price=values[4],
            maintenance_margin=values[5], seq=state.seq))


def _emit_revaluation(live: _Live, revaluation: Revaluation, now: datetime,
                      changed: set[str]) -> None:
    state = live.state
    moved = {s for s, (_, mark, _, _) in revaluation.positions.items()
             if live.marks.get(s, "unset") != mark}
    _emit_positions(live, (changed | moved) & set(revaluation.positions), revaluation, now)
    for alert in revaluation.alerts:
        _send_alert(state.account, alert, now)
    for order in revaluation.orders:
        _send(COMMANDS.name, order.symbol.encode(),
              order.model_copy(update={"reduce_only": False}))
    if revaluation.alerts:
        log.warning("risk alerts", account=state.account,
                    alerts=[a.kind for a in revaluation.alerts], orders=len(revaluation.orders))


def _load(account: str, event: Any) -> _Live:
    live = accounts.get(account)
    if live is None:
        with as_current(event):
            state = AccountState.load(
                account, lambda part: risk_table.get(store_key(account, part)))
        if state is not None:
            state.rewrite_all = True  # bring the changelog up to this store (records module)
        live = accounts[account] = _Live(state or AccountState(account), event, {})
        live.state.require_kyc = _settings.compliance.require_kyc  # no KYC row: unverified?
    return live


def _save(live: _Live) -> None:
    """Write what changed in the account (:mod:`streams.risk.records`), under the partition
    of its last event."""
    account = live.state.account
    with as_current(live.last_event):
        write_save(risk_table, account, live.state.store_writes())  # atomic: records module


async def _process(account: str, events: list[Any]) -> None:
    live = _load(account, events[0])
    live.last_event = events[-1]
    state = live.state
    touched: set[str] = set()
    for event in events:
        async with inbox.guard(event):
            await _process_one(account, state, event, touched)
    if touched:
        now = _utc(time.time())
        _emit_revaluation(live, state.revalue(CATALOGUE.current(), prices, LIMITS, now), now,
                          touched)
    _save(live)


async def _process_one(account: str, state: AccountState, event: Any,
                       touched: set[str]) -> None:
    msg = event.message
    now_ns = venue_time_ns(msg)
    try:
        record = (REQUESTS if msg.topic == REQUESTS.name else ACTIVITY).decode(msg.value)
    except ContractError as exc:
        await send_dead_letter(event, "invalid", str(exc))
        return
    if record.account != account:
        await send_dead_letter(event, "wrong_key",
                               f"key {account!r} but record for {record.account!r}")
        return
    now = _utc(now_ns / 1e9)
    listed = CATALOGUE.at(now)  # what was listed when the venue logged the message
    if msg.topic == REQUESTS.name:
        decision = state.decide(record, now_ms=now_ns // 1_000_000, now=now,
                                catalogue=listed, prices=prices, limits=LIMITS, fees=FEES)
        _emit_decision(decision, now)
    elif isinstance(record, BlockReservation):
        code = state.reserve_block(record, now_ms=now_ns // 1_000_000, now=now,
                                   catalogue=listed, prices=prices, limits=LIMITS, fees=FEES)
        _send(CLEARING.name, record.rfq_id.encode(), RfqClearance(
            event_id=f"clearance:{record.attempt}:{account}", ts_event=now,
            causation_id=record.event_id, rfq_id=record.rfq_id, attempt=record.attempt,
            account=account, code=int(code) if code else None,
            reason=describe(code) if code else None))
    elif state.apply(record, listed, prices, now_ns // 1_000_000) \
            and hasattr(record, "symbol"):
        touched.add(record.symbol)
    if state.trips:
        _emit_trips(state, now)


@app.agent(risk_topic, supervisor_strategy=mode.CrashingSupervisor)
async def risk_check(stream: Any) -> None:
    # the inbox flushes the output before Faust acknowledges (and later commits) each batch
    async for batch in inbox.batches(stream, BATCH_SIZE):
        by_account: dict[str, list[Any]] = defaultdict(list)
        for event in batch:
            account = event.message.key.decode("utf-8", "replace")
            if ACCOUNT_ID.fullmatch(account):
                by_account[account].append(event)
            else:  # not an account: it must not reach the store (parts are account/...)
                await send_dead_letter(event, "wrong_key", f"key {account[:80]!r} is not an "
                                       "account id")
        for account, events in by_account.items():
            await _process(account, events)


@app.timer(interval=LIMITS.revalue_every_s)
async def revalue_accounts() -> None:
    """Mark every account held here; publish what moved and act on crossed thresholds."""
    now = _utc(time.time())
    listed = CATALOGUE.current()
    for live in list(accounts.values()):
        if not live.state.positions:
            continue
        before = (live.state.margin_level, live.state.crossings)
        revaluation = live.state.revalue(listed, prices, LIMITS, now)
        _emit_revaluation(live, revaluation, now, set())
        if (live.state.margin_level, live.state.crossings) != before:
            _save(live)
    await asyncio.gather(flush_changelogs(), output.flush())  # as a batch does
