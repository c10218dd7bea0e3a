"""Reconciliation: every order committed in PostgreSQL reaches ``settlement.orders``.

Debezium's replication slot already keeps every change until Debezium confirms it, so Connect,
Debezium or Kafka being down only delays orders. Reconciliation closes the gaps that a slot
cannot: a slot dropped or recreated, a connector reset to ``snapshot.mode=never``, an order
dead-lettered by a bug since fixed, or a bridge that lost state.

**How it compares.** The order database is not written back to: acknowledgements are what the
stream itself holds. One run takes the window ``[now - lookback, now - grace)`` and

1. reads from PostgreSQL (as the service role) each order *updated* in the window with its
   current status — an order is due once per status it reaches;
2. reads ``settlement.orders`` from the offset of ``window start - slack`` (Kafka's time index)
   to its current end, collecting the ``(order id, status)`` pairs published;
3. calls every pair in (1) but not in (2) *missing*, and reports the drift (how many, the
   oldest).

**How it repairs, idempotently.** For each missing order it re-reads the row and writes a
snapshot-style envelope (``op=r``, ``source.connector=strikeflow-reconcile``, no LSN) to the
bridge's own input ``cdc.public.orders``, under Debezium's key ``{"id": …}`` — so it lands on
the partition that holds the order's bridge state. The bridge de-duplicates it like any
re-read: if Debezium's copy arrives too (before or after), ``settlement.orders`` still gets the
event once, with its deterministic id ``option-order:<id>:<status>``. Running reconciliation
twice, or while the bridge catches up, is harmless.

``grace`` bounds how late the stream may be before an order counts as missing (commit →
``settlement.orders`` is ~100 ms when healthy); ``lookback`` bounds how far back each run looks.
Stateless by design: the worker runs it on a timer, ops run ``strikeflow cdc reconcile``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from confluent_kafka import OFFSET_END, TopicPartition
from psycopg.rows import dict_row

from cdc import CdcError
from cdc.bridge.envelope import RECONCILE_CONNECTOR
from cdc.config import CdcConfig
from infra.settings import Settings
from streams.kafka import make_consumer, make_producer

__all__ = [
    "RECONCILE_CONNECTOR",
    "MissingOrder",
    "ReconcileError",
    "ReconcileReport",
    "debezium_key",
    "reconcile",
    "reread_envelope",
]

ORDERS_TOPIC = "cdc.public.orders"
SETTLEMENT_TOPIC = "settlement.orders"
_SLACK = timedelta(minutes=5)  # producer clocks and commit delays around the window start
_ORDER_COLUMNS = ("id, account_id, client_order_id, product_id, underlying, strike, expiry, "
                  "option_type, contract_size, side, contracts, underlying_price, iv, price, "
                  "premium, fee, total, status, created_at, updated_at")


class ReconcileError(CdcError):
    """Reconciliation could not read one side, so it cannot say what is missing."""


@dataclass(frozen=True, slots=True)
class MissingOrder:
    order_id: uuid.UUID
    status: str
    updated_at: datetime
    age_s: float


@dataclass(frozen=True)
class ReconcileReport:
    window_start: datetime
    window_end: datetime
    committed: int
    acknowledged: int
    missing: tuple[MissingOrder, ...]
    reemitted: int
    stream_messages_read: int
    elapsed_s: float
    notes: tuple[str, ...] = field(default=())

    @property
    def drift(self) -> int:
        """Orders (per status) committed but not on ``settlement.orders`` within the grace."""
        return len(self.missing)

    @property
    def oldest_missing_s(self) -> float | None:
        return max((m.age_s for m in self.missing), default=None)


def debezium_key(order_id: uuid.UUID | str) -> bytes:
    """The key bytes Debezium's JSON converter writes for an order (same bytes → partition)."""
    return json.dumps({"id": str(order_id)}, separators=(",", ":")).encode()


def _debezium_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def reread_envelope(row: dict[str, Any], database: str, now: datetime) -> bytes:
    """An ``op=r`` envelope of ``row`` shaped exactly as Debezium's, marked as reconciliation's."""
    ts_us = int(now.timestamp() * 1_000_000)
    envelope = {
        "before": None,
        "after": {k: _debezium_value(v) for k, v in row.items()},
        "source": {"version": "strikeflow", "connector": RECONCILE_CONNECTOR, "name": "cdc",
                   "ts_ms": ts_us // 1000, "ts_us": ts_us, "snapshot": "reconcile",
                   "db": database, "schema": "public", "table": "orders", "txId": None,
                   "lsn": None, "xmin": None},
        "transaction": None,
        "op": "r",
        "ts_ms": ts_us // 1000,
        "ts_us": ts_us,
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def _committed(settings: Settings, start: datetime, end: datetime) -> dict[tuple[str, str],
                                                                          datetime]:
    pg = settings.postgres
    try:
        with psycopg.connect(pg.dsn(pg.service_user, pg.service_password) + " connect_timeout=5",
                             row_factory=dict_row) as conn:
            rows = conn.execute("SELECT id, status, updated_at FROM orders "
                                "WHERE updated_at >= %s AND updated_at < %s",
                                (start, end)).fetchall()
    except psycopg.Error as exc:
        raise ReconcileError(f"cannot read orders from PostgreSQL: {exc}") from exc
    return {(str(r["id"]), r["status"]): r["updated_at"] for r in rows}


def _acknowledged(settings: Settings, since: datetime,
                  timeout_s: float) -> tuple[set[tuple[str, str]], int]:
    """``(order id, status)`` pairs on ``settlement.orders`` from ``since`` to the end now."""
    consumer = make_consumer(settings, f"strikeflow-reconcile-{uuid.uuid4().hex[:8]}")
    seen: set[tuple[str, str]] = set()
    read = 0
    try:
        meta = consumer.list_topics(SETTLEMENT_TOPIC, timeout=10).topics.get(SETTLEMENT_TOPIC)
        if meta is None or meta.error is not None:
            raise ReconcileError(f"{SETTLEMENT_TOPIC} is not on the cluster")
        since_ms = int(since.timestamp() * 1000)
        wanted = [TopicPartition(SETTLEMENT_TOPIC, p, since_ms) for p in meta.partitions]
        starts = consumer.offsets_for_times(wanted, timeout=10)
        ends: dict[int, int] = {}
        assign = []
        for tp in starts:
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(SETTLEMENT_TOPIC, tp.partition), timeout=10)
            start = tp.offset if tp.offset >= 0 else OFFSET_END
            if start != OFFSET_END and start < high:
                ends[tp.partition] = high
                assign.append(TopicPartition(SETTLEMENT_TOPIC, tp.partition, start))
        if not assign:
            return seen, read
        consumer.assign(assign)
        deadline = time.monotonic() + timeout_s
        while ends:
            if time.monotonic() > deadline:
                raise ReconcileError(f"reading {SETTLEMENT_TOPIC} took over {timeout_s:.0f}s")
            msg = consumer.poll(0.5)
            if msg is None:  # the end may be a marker no poll returns: ask for the position
                for tp in consumer.position([TopicPartition(SETTLEMENT_TOPIC, p)
                                             for p in list(ends)]):
                    if tp.offset >= ends[tp.partition]:
                        ends.pop(tp.partition, None)
                continue
            if msg.error():
                continue
            read += 1
            if msg.offset() >= ends.get(msg.partition(), -1) - 1:
                ends.pop(msg.partition(), None)
            try:
                value = json.loads(msg.value())
                seen.add((str(value["order_id"]), str(value["status"])))
            except (ValueError, KeyError, TypeError):
                continue  # not ours to judge: the topic's contract is enforced on write
    except ReconcileError:
        raise
    except Exception as exc:
        raise ReconcileError(f"cannot read {SETTLEMENT_TOPIC}: {type(exc).__name__}: {exc}") \
            from exc
    finally:
        consumer.close()
    return seen, read


def _rows(settings: Settings, ids: Iterable[str]) -> list[dict[str, Any]]:
    pg = settings.postgres
    with psycopg.connect(pg.dsn(pg.service_user, pg.service_password) + " connect_timeout=5",
                         row_factory=dict_row) as conn:
        return conn.execute(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE id = ANY(%s)",
                            ([uuid.UUID(i) for i in ids],)).fetchall()


def reconcile(settings: Settings, cfg: CdcConfig, *, grace_s: float | None = None,
              lookback_s: float | None = None, repair: bool = True,
              now: datetime | None = None, read_timeout_s: float = 120.0) -> ReconcileReport:
    """Compare the window's committed orders with ``settlement.orders``; re-emit the missing."""
    t0 = time.monotonic()
    now = now or datetime.now(UTC)
    grace = timedelta(seconds=cfg.reconcile_grace_s if grace_s is None else grace_s)
    lookback = timedelta(seconds=cfg.reconcile_lookback_s if lookback_s is None else lookback_s)
    start, end = now - lookback, now - grace
    committed = _committed(settings, start, end) if end > start else {}
    acked, read = _acknowledged(settings, start - _SLACK, read_timeout_s) if committed else (
        set(), 0)
    missing_keys = sorted(set(committed) - acked, key=lambda k: committed[k])
    missing = tuple(MissingOrder(uuid.UUID(oid), status, committed[(oid, status)],
                                 (now - committed[(oid, status)]).total_seconds())
                    for oid, status in missing_keys)
    notes: list[str] = []
    reemitted = 0
    if missing and repair:
        rows = _rows(settings, {str(m.order_id) for m in missing})
        producer = make_producer(settings)
        failures: list[str] = []

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                failures.append(str(err))

        for row in rows:
            producer.produce(ORDERS_TOPIC, key=debezium_key(row["id"]),
                             value=reread_envelope(row, settings.postgres.database, now),
                             on_delivery=delivered)
        left = producer.flush(30)
        if left or failures:
            raise ReconcileError(f"re-emitting failed: {left} undelivered, {failures[:3]}")
        reemitted = len(rows)
        if len(rows) < len({m.order_id for m in missing}):
            notes.append("some missing orders vanished from the database while reconciling")
    return ReconcileReport(start, end, len(committed), len(set(committed) & acked), missing,
                           reemitted, read, time.monotonic() - t0, tuple(notes))
