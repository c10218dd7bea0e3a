"""AML screening agents: transfers (``accounts.activity``) and trades (``trades``) in, cases
out on ``compliance.cases``.

Partitioning — state follows the key (ARCHITECTURE invariant 7). Every rule of the
:class:`~streams.compliance.aml.Screener` looks at the events of one key only:

* transfer rules (velocity, outflow, structuring, sanctioned address) at one **account**'s
  transfers: ``accounts.activity`` is keyed by account, so one screener per account lives in
  the table ``compliance-transfers`` under the partition that owns the account;
* trade rules (wash trade, round trip) at trades between related accounts in one
  **symbol** (a round trip is a buy and a sell of the same symbol): ``trades`` is keyed by
  symbol, so one screener per symbol lives in ``compliance-trades`` under the partition that
  owns the symbol. No re-keying topic is needed, and a trade between unrelated accounts
  cannot open a case, so it never touches the state (the state stays small).

A message on a partition that does not own its key is re-routed by the inbox (trades) or by
the risk agent that reads ``accounts.activity`` in the same worker (this agent skips it and
screens the copy on the owning partition); a malformed trade becomes a dead letter on
``trades.dlq``. Malformed activity is dead-lettered once, by risk.

Exactly once in effect: case ids are deterministic (``<rule>:<account>:<first evidence
id>``, the case's ``event_id``) and the screener remembers the event ids it saw, so a
replayed event raises nothing. Outputs are acknowledged by Kafka **before** the state that
remembers them is written: a crash in between replays the batch against the old state and
raises the same cases with the same ids (sinks upsert by id) — never loses one.

Venue time: an event's time is its broker log-append time (:func:`venue_time_ns`).
"""

from __future__ import annotations

from collections import defaultdict
from types import MappingProxyType
from typing import Any

import mode
import structlog

from infra.settings import get_settings
from streams.app import app, state_table
from streams.batching import as_current
from streams.compliance.aml import AmlRules, Case, Screener
from streams.compliance.wire import case_event, relations_for, trade_of, transfer_of
from streams.inbox import Inbox, venue_time_ns
from streams.output import BatchOutput
from topics.catalogue import ContractError, by_name
from topics.contracts import FundsTransferred

__all__ = ["screen_trades", "screen_transfers", "trades_table", "transfers_table"]

log = structlog.get_logger(__name__)

ACTIVITY = by_name("accounts.activity")
TRADES = by_name("trades")
CASES = by_name("compliance.cases")
BATCH_SIZE = 2000

_cfg = get_settings().compliance
RULES = AmlRules(max_seen_ids=_cfg.max_seen_ids)
SANCTIONED = frozenset(_cfg.sanctioned)

activity_topic = app.topic(ACTIVITY.name, key_serializer="raw", value_serializer="raw")
trades_topic = app.topic(TRADES.name, key_serializer="raw", value_serializer="raw")
transfers_table = state_table("compliance-transfers", ACTIVITY.partitions)
trades_table = state_table("compliance-trades", TRADES.partitions)
output = BatchOutput()
activity_inbox = Inbox([ACTIVITY.name], name="compliance-transfers", reroute=False)
activity_inbox.connect(app)
trades_inbox = Inbox([TRADES.name], name="compliance-trades")
trades_inbox.connect(app)


def _load(table: Any, key: bytes, event: Any) -> Screener:
    with as_current(event):
        record = table.get(key)
    if record is None:
        return Screener(RULES, {}, SANCTIONED)
    return Screener.from_record(record, RULES, {}, SANCTIONED)


def _save(table: Any, key: bytes, screener: Screener, event: Any) -> None:
    """Under the partition of the key's last event (the one that owns the key)."""
    with as_current(event):
        table[key] = screener.to_record()


def _emit(cases: list[Case], source: str, causation: str) -> None:
    for case in cases:
        event = case_event(case, source, causation)  # type: ignore[arg-type]
        output.send(CASES.name, event.account.encode(), CASES.encode(event))
        log.warning("aml case", case_id=case.case_id, rule=case.rule, severity=case.severity,
                    accounts=list(case.accounts))


def _grouped(events: list[Any]) -> dict[bytes, list[Any]]:
    out: dict[bytes, list[Any]] = defaultdict(list)
    for event in events:
        out[bytes(event.message.key)].append(event)
    return out


@app.agent(activity_topic, supervisor_strategy=mode.CrashingSupervisor)
async def screen_transfers(stream: Any) -> None:
    """Each account's transfers through its screener."""
    async for batch in activity_inbox.batches(stream, BATCH_SIZE):
        touched: dict[bytes, tuple[Screener, Any]] = {}
        for key, events in _grouped(batch).items():
            screener: Screener | None = None
            for event in events:
                msg = event.message
                try:
                    record = ACTIVITY.decode(msg.value)
                except ContractError:
                    continue  # risk, reading the same topic, dead-letters it
                if not isinstance(record, FundsTransferred) or record.account.encode() != key:
                    continue  # fills come from `trades`; a wrong key is risk's dead letter
                async with activity_inbox.guard(event):
                    if screener is None:
                        screener = _load(transfers_table, key, event)
                    cases = screener.on_transfer(transfer_of(record, venue_time_ns(msg)))
                    _emit(cases, "transfers", record.event_id)
                    touched[key] = (screener, event)
        await output.flush()  # the cases in Kafka before the state that remembers them
        for key, (screener, event) in touched.items():
            _save(transfers_table, key, screener, event)


@app.agent(trades_topic, supervisor_strategy=mode.CrashingSupervisor)
async def screen_trades(stream: Any) -> None:
    """Each symbol's trades between related accounts through its screener."""
    async for batch in trades_inbox.batches(stream, BATCH_SIZE):
        touched: dict[bytes, tuple[Screener, Any]] = {}
        for key, events in _grouped(batch).items():
            for event in events:
                async with trades_inbox.guard(event):
                    record = await trades_inbox.decode(event, key_of=lambda t: t.symbol)
                    if record is None:
                        continue
                    trade = trade_of(record, venue_time_ns(event.message))
                    related = relations_for((trade.buyer, trade.seller), _cfg.related)
                    if trade.buyer != trade.seller and (
                            trade.buyer not in related
                            or related[trade.buyer] != related.get(trade.seller)):
                        continue  # unrelated accounts: no rule can fire, no state to keep
                    screener = (touched[key][0] if key in touched
                                else _load(trades_table, key, event))
                    screener.related = MappingProxyType(related)
                    _emit(screener.on_trade(trade), "trades", record.event_id)
                    touched[key] = (screener, event)
        await output.flush()
        for key, (screener, event) in touched.items():
            _save(trades_table, key, screener, event)
