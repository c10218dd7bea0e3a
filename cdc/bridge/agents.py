"""CDC bridge agents: ``cdc.public.orders`` → ``settlement.orders``, plus reconciliation.

Thin glue around the pure :mod:`~cdc.bridge.envelope` (decoding) and
:mod:`~cdc.bridge.orders` (apply once, emit once):

* decode at the boundary; what cannot be decoded becomes a dead letter with its reason and
  source offset, and the line keeps going;
* per order id, one table record holds the applied position and published status (written
  with the order's own event current, so it lands on the changelog partition of its key);
* **outputs are acknowledged by Kafka before the state that records them is written**. A crash
  between the two re-emits the same event (same ``event_id``) on replay — never loses one.
  Writing the state first could lose an event that was still in the producer buffer.
* the batch's ``settlement.orders`` events go out through the worker's one librdkafka
  producer (:class:`~streams.output.BatchOutput`), flushed once per batch: Faust's per-message
  ``send`` cost ~0.5-1 ms of the event loop per order, which capped the bridge below 1,000
  orders/s on a loaded 2-core machine (commit → ``settlement.orders`` grew to seconds).

Routing: every row of ``public.orders`` today is a simplified option bought from the house, so
it goes to ``settlement.orders``. Exchange orders (limit/market orders for the book) would be
turned into ``SubmitOrder`` commands on ``orders.commands`` here — see :func:`_route`.

A broken invariant crashes the worker (``CrashingSupervisor``), which resumes from committed
offsets; Faust would otherwise restart the agent past the batch it dropped.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import faust
import mode
import structlog
from pydantic import ValidationError

from cdc.bridge.envelope import Change, EnvelopeError, Op, Tombstone, decode
from cdc.bridge.orders import PRODUCER_HEADER, Verdict, apply_order_change
from cdc.bridge.transfers import kyc_outputs, transfer_outputs
from cdc.config import get_cdc_config
from infra.settings import get_settings
from streams.app import app
from streams.batching import as_current
from streams.deadletters import send_dead_letter
from streams.inbox import Inbox
from streams.output import BatchOutput
from topics.catalogue import ContractError, by_name

__all__ = ["bridge_orders", "check_ledger_sources", "order_state", "reconcile_orders"]

log = structlog.get_logger(__name__)

ORDERS = by_name("cdc.public.orders")
TRANSFERS = by_name("cdc.public.transfers")
ACCOUNTS = by_name("cdc.public.accounts")
KYC = by_name("cdc.public.account_kyc")
SETTLEMENT = by_name("settlement.orders")
BATCH_SIZE = 2000

orders_topic = app.topic(ORDERS.name, key_serializer="raw", value_serializer="raw")
ledger_sources_topic = app.topic(TRANSFERS.name, ACCOUNTS.name, KYC.name,
                                 key_serializer="raw", value_serializer="raw")
settlement_topic = app.topic(SETTLEMENT.name, key_serializer="raw", value_serializer="raw")

# One record per order id: {"v", "lsn", "tx", "status"} — the de-duplication position and the
# published status together, in one changelog message.
order_state = app.Table(
    "cdc-order-state", default=None, partitions=ORDERS.partitions,
    schema=faust.Schema(key_serializer="raw", value_serializer="json"),
    key_type=bytes,  # without it the changelog is read back as JSON keys and recovery stalls
)

_cfg = get_cdc_config()
transfer_output = BatchOutput()


settlement_output = BatchOutput()  # the worker's one librdkafka producer


def _route(change: Change) -> str:
    """Which stream an order row feeds. Exchange orders would return ``orders.commands``."""
    return SETTLEMENT.name


async def _decode_or_dead_letter(event: Any, counts: Counter[str]) -> Any:
    """The decoded envelope, or None after dead-lettering an undecodable one."""
    msg = event.message
    try:
        return decode(msg.topic, msg.key, msg.value)
    except EnvelopeError as exc:
        await send_dead_letter(event, exc.reason, str(exc))
        counts[exc.reason] += 1
        return None


orders_inbox = Inbox([ORDERS.name], name="cdc-orders")
orders_inbox.connect(app)
sources_inbox = Inbox([TRANSFERS.name, ACCOUNTS.name, KYC.name], name="cdc-ledger-sources",
                      keyed=False)  # stateless: any partition will do
sources_inbox.connect(app)
_Touched = dict[str, tuple[dict[str, Any] | None, dict[str, Any], Any]]


async def _bridge_one(event: Any, touched: _Touched, outputs: list[tuple[bytes, bytes]],
                      counts: Counter[str]) -> None:
    decoded = await _decode_or_dead_letter(event, counts)
    if decoded is None:
        return
    if isinstance(decoded, Tombstone):
        counts["tombstone"] += 1
        return
    if decoded.op is Op.DELETE:
        await send_dead_letter(event, "unexpected_delete",
                               f"order {decoded.key} was deleted: orders are history "
                               "and the service role cannot delete them")
        counts["unexpected_delete"] += 1
        return
    key = decoded.key
    if key in touched:
        old, current, _ = touched[key]
    else:
        with as_current(event):
            old = order_state.get(key)
        current = old
    try:
        result = apply_order_change(current, decoded)
        payload = (SETTLEMENT.encode(result.event) if result.event is not None
                   else None)
    except (ValidationError, ContractError) as exc:  # a row the event cannot carry
        await send_dead_letter(event, "invalid", f"settlement event: {exc}")
        counts["invalid"] += 1
        return
    counts[result.verdict.value] += 1
    if result.verdict is Verdict.DUPLICATE:
        return
    touched[key] = (old, result.state, event)
    if payload is not None:
        assert _route(decoded) == SETTLEMENT.name
        outputs.append((key.encode(), payload))


@app.agent(orders_topic, supervisor_strategy=mode.CrashingSupervisor)
async def bridge_orders(stream: Any) -> None:
    headers = [(PRODUCER_HEADER, app.conf.id.encode())]
    async for events in orders_inbox.batches(stream, BATCH_SIZE):
        touched: _Touched = {}
        outputs: list[tuple[bytes, bytes]] = []
        counts: Counter[str] = Counter()
        for event in events:
            async with orders_inbox.guard(event):
                await _bridge_one(event, touched, outputs, counts)
        for k, v in outputs:
            settlement_output.send(SETTLEMENT.name, k, v, headers=headers)
        await settlement_output.flush()  # acknowledged before the state records them
        for key, (old, state, event) in touched.items():
            if state != old:
                with as_current(event):
                    order_state[key] = state
        if set(counts) - {Verdict.APPLIED.value}:
            log.info("cdc orders batch", **counts)


@app.agent(ledger_sources_topic, supervisor_strategy=mode.CrashingSupervisor)
async def check_ledger_sources(stream: Any) -> None:
    """Validate transfers, accounts and KYC rows at the boundary (bad rows become dead
    letters); post each new transfer to the ledger and to its account's activity (ids from
    the transfer id, so a re-read transfer is the same posting), and each KYC change to the
    account's activity (id from the row's version)."""
    async for events in sources_inbox.batches(stream, BATCH_SIZE):
        counts: Counter[str] = Counter()
        for event in events:
            async with sources_inbox.guard(event):
                decoded = await _decode_or_dead_letter(event, counts)
                if decoded is None:
                    continue
                counts["tombstone" if isinstance(decoded, Tombstone) else decoded.table] += 1
                if isinstance(decoded, Change) and decoded.table == "transfers" \
                        and decoded.op in (Op.CREATE, Op.READ):
                    for topic, key, record in transfer_outputs(decoded.row):
                        transfer_output.send(topic, key, by_name(topic).encode(record))
                elif isinstance(decoded, Change) and decoded.table == "account_kyc" \
                        and decoded.op in (Op.CREATE, Op.UPDATE, Op.READ):
                    for topic, key, record in kyc_outputs(decoded.row):
                        transfer_output.send(topic, key, by_name(topic).encode(record))
        if set(counts) - {"transfers", "accounts", "account_kyc"}:
            log.info("cdc ledger sources batch", **counts)


@app.timer(interval=_cfg.reconcile_interval_s, on_leader=True)
async def reconcile_orders() -> None:
    """Every interval, on the leader: re-emit committed orders the stream has not acknowledged.

    Runs in a thread (PostgreSQL and Kafka clients block). A failure is logged, never raised:
    reconciliation is a safety net and must not take the worker down with it.
    """
    from cdc.reconcile import ReconcileError, reconcile

    if not _cfg.reconcile_enabled:
        return
    try:
        report = await asyncio.to_thread(reconcile, get_settings(), _cfg)
    except ReconcileError as exc:
        log.warning("reconciliation skipped", error=str(exc))
        return
    except Exception as exc:  # the safety net must not crash the worker
        log.warning("reconciliation failed", error=f"{type(exc).__name__}: {exc}")
        return
    if report.drift:
        log.warning("reconciliation found drift", missing=report.drift,
                    reemitted=report.reemitted, oldest_missing_s=report.oldest_missing_s)
    else:
        log.info("reconciliation clean", committed=report.committed,
                 elapsed_s=round(report.elapsed_s, 2))
