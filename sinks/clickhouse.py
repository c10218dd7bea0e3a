"""Kafka → ClickHouse: batched, idempotent, patient with an unavailable server.

Why it is built this way:

* **Commit after insert.** Offsets are committed only once the rows are in ClickHouse; a crash
  replays the batch, and tables are ``ReplacingMergeTree(version)`` ordered by the event's
  natural key, so a replayed row replaces itself: nothing lost, nothing doubled.
* **Backpressure, not loss.** While ClickHouse is unreachable the sink pauses its partitions,
  keeps its group membership by polling, and retries with exponential backoff.
* **Rows that can never be written** (a payload breaking its contract, a value ClickHouse
  refuses) go to ``sink_dead_letters`` with the reason and source offset; the rest of the
  batch goes on.
* **One process owns the embedded store.** chDB locks its directory, so the sink also answers
  analysts' SQL over loopback (:mod:`sinks.query_server`).
"""

from __future__ import annotations

import gc
import json
import operator
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from pydantic import BaseModel

from analytics import quality
from analytics.clickhouse import open_client
from infra.kafka_security import Role
from infra.metrics import SINK_QUARANTINED, SINK_RETRIES, SINK_ROWS
from infra.settings import Settings
from streams.kafka import make_consumer
from topics.catalogue import CATALOGUE, ContractError, by_name

__all__ = ["MAPPINGS", "ClickHouseSink", "TableMapping"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TableMapping:
    """Which topic feeds which table, and how a validated message becomes a row."""

    topic: str
    table: str
    columns: tuple[str, ...]
    row: Callable[[BaseModel], list[Any]] | None = None

    def __post_init__(self) -> None:
        # one C-level call per message instead of a getattr per column
        object.__setattr__(self, "_fields", operator.attrgetter(*self.columns))

    def to_row(self, message: BaseModel) -> list[Any]:
        if self.row is not None:
            return self.row(message)
        return list(self._fields(message))  # type: ignore[attr-defined]


_META = ("ts_event", "ts_init", "causation_id")


def _as_text(columns: tuple[str, ...], *fields: str) -> Callable[[BaseModel], list[Any]]:
    """A row where some fields (UUIDs) are written as their text."""

    def to_row(message: BaseModel) -> list[Any]:
        return [str(getattr(message, c)) if c in fields else getattr(message, c)
                for c in columns]

    return to_row


_RFQ_COLUMNS = (
    "event_id", "rfq_id", "seq", "kind", "account", "maker", "quote_id", "side", "price",
    "amount", "legs", "trade_id", "expires_at", "code", "reason", *_META)


def _rfq_row(message: BaseModel) -> list[Any]:
    """An RFQ step; its legs as one readable line (``buy 1 BTC-… + sell 1 BTC-…``)."""
    row = [getattr(message, c) for c in _RFQ_COLUMNS]
    legs = getattr(message, "legs", None)
    row[_RFQ_COLUMNS.index("legs")] = None if legs is None else " + ".join(
        f"{leg.side} {leg.ratio} {leg.symbol}" for leg in legs)
    return row


_CASE_COLUMNS = (
    "event_id", "case_id", "rule", "code", "account", "accounts", "severity", "summary",
    "source", "evidence", *_META)


def _case_row(message: BaseModel) -> list[Any]:
    """An AML case: its accounts as one comma-separated line, its evidence as JSON (what
    the officer reads; ``JSONLength(evidence)`` counts it)."""
    evidence = message.evidence  # type: ignore[attr-defined]
    return [message.event_id, message.case_id, message.rule, message.code,  # type: ignore[attr-defined]
            message.account, ",".join(message.accounts), message.severity,  # type: ignore[attr-defined]
            message.summary, message.source,  # type: ignore[attr-defined]
            json.dumps([e.model_dump(mode="json", exclude_none=True) for e in evidence]),
            message.ts_event, message.ts_init, message.causation_id]  # type: ignore[attr-defined]


_SETTLEMENT_ORDER_COLUMNS = (
    "event_id", "order_id", "account", "client_order_id", "product", "underlying", "strike",
    "expiry", "option_type", "contract_size", "side", "contracts", "underlying_price", "iv",
    "price", "premium", "fee", "total", "status", "ordered_at", "source", "source_lsn",
    "source_tx_id", *_META)

# Decimal columns are Decimal(38, 18): contracts bound money to 18 decimals, so it is written
# exactly; an unbounded non-money decimal (a Greek, an implied vol) is cut at 18 decimals by the
# client. A value ClickHouse refuses (a number too large) becomes a dead letter.
MAPPINGS: tuple[TableMapping, ...] = (
    TableMapping("md.candles", "candles", (
        "event_id", "symbol", "interval", "window_start", "window_end", "open", "high", "low",
        "close", "volume", "notional", "vwap", "trades", "version", "final", *_META)),
    TableMapping("trades", "trades", (
        "event_id", "symbol", "trade_id", "price", "qty", "aggressor_side", "maker_order_id",
        "taker_order_id", "maker_account", "taker_account", "seq", *_META)),
    TableMapping("orders.events", "order_events", (
        "event_id", "symbol", "seq", "kind", "account", "client_order_id", "order_id", "side",
        "order_type", "time_in_force", "price", "stop_price", "trigger_price", "qty",
        "leaves_qty", "trade_id", "is_maker", "reason_code", "reason", *_META)),
    TableMapping("ledger", "ledger", (
        "event_id", "posting_id", "account", "amount", "kind", "reference", "symbol", *_META)),
    TableMapping("positions", "positions", (
        "account", "symbol", "qty", "avg_price", "realized_pnl", "unrealized_pnl", "mark_price",
        "maintenance_margin", "seq", "event_id", *_META)),
    TableMapping("risk.alerts", "risk_alerts", (
        "event_id", "account", "kind", "level", "message", "margin_ratio", "symbol", *_META)),
    TableMapping("rfq.events", "rfq_events", _RFQ_COLUMNS, _rfq_row),
    TableMapping("compliance.cases", "compliance_cases", _CASE_COLUMNS, _case_row),
    TableMapping("routing.reports", "routing_reports", (
        "event_id", "parent_id", "version", "account", "symbol", "side", "status", "final",
        "qty", "filled_qty", "remainder", "vwap", "arrival_price", "slippage_bps",
        "all_in_slippage_bps", "fees", "venue_shares", "rounds", "reason", *_META)),
    TableMapping("md.index", "index_prices", (
        "event_id", "underlying", "price", "venues_used", "venues_excluded", "exclusions",
        *_META)),
    TableMapping("md.marks", "option_marks", (
        "event_id", "symbol", "underlying_price", "mark_price", "iv", "delta", "gamma", "vega",
        "theta", "expiry", "forward", *_META)),
    TableMapping("settlement.orders", "settlement_orders", _SETTLEMENT_ORDER_COLUMNS,
                 _as_text(_SETTLEMENT_ORDER_COLUMNS, "order_id")),
    TableMapping("settlement.results", "settlement_results", (
        "event_id", "order_id", "account", "state", "product", "underlying", "premium", "fee",
        "hedge_id", "hedge_symbol", "hedge_side", "hedge_qty", "hedge_price", "attempts",
        "reason", *_META)),
    TableMapping("settlement.hedges", "hedges", (
        "event_id", "hedge_id", "order_id", "venue", "symbol", "underlying", "side", "qty",
        "avg_price", "reference_price", "slippage_bps", "fee", *_META)),
    TableMapping("settlement.expiries", "expiries", (
        "event_id", "underlying", "expiry", "settlement_price", "twap_window_start", "samples",
        "positions", "total_payout", "payout_to_accounts", *_META)),
)

_DEAD_LETTER_COLUMNS = ("source_topic", "source_partition", "source_offset", "key", "payload",
                        "reason", "error", "ts_failed")


def _stream_dead_letters(dlq_topic: str) -> TableMapping:
    """The agents' dead letters of one ``<input>.dlq`` topic into ``stream_dead_letters``."""
    return TableMapping(dlq_topic, "stream_dead_letters",
                        ("dead_letter_topic", *_DEAD_LETTER_COLUMNS),
                        lambda m: [dlq_topic, *(getattr(m, c) for c in _DEAD_LETTER_COLUMNS)])


MAPPINGS = MAPPINGS + tuple(_stream_dead_letters(spec.dead_letter)
                            for spec in CATALOGUE if spec.dead_letter)


def _is_unavailable(exc: Exception) -> bool:
    """Connection trouble (retry) as opposed to a row ClickHouse refuses (dead letter)."""
    from clickhouse_connect.driver.exceptions import OperationalError

    return isinstance(exc, (OperationalError, ConnectionError, TimeoutError, OSError))


class ClickHouseSink:
    def __init__(self, settings: Settings, mappings: tuple[TableMapping, ...] = MAPPINGS,
                 group_id: str = "strikeflow-sink-clickhouse", client: Any = None) -> None:
        self.settings = settings
        self.db = settings.clickhouse.database
        self.mappings = {m.topic: m for m in mappings}
        self.group_id = group_id
        self.client = client if client is not None else open_client(settings)
        self.lock = threading.Lock()  # the query server shares the embedded client
        self.stop_event = threading.Event()
        self.counts = {"rows": 0, "dead_letters": 0, "batches": 0, "retries": 0}

    # -- one batch ------------------------------------------------------------------------
    def _decode_all(self, msgs: list[Message]
                    ) -> tuple[dict[str, list[tuple[list[Any], Message]]], list[list[Any]]]:
        """Every message through its topic's contract (the full validation: it is the
        boundary), and into its table's row; what breaks the contract is a dead letter.

        The per-message work is the contract's own validation (~10 us a trade, most of it the
        contract's exact-decimal and UTC validators); around it only lookups done once per
        topic of the batch, not once per message."""
        rows: dict[str, list[tuple[list[Any], Message]]] = {}
        dead: list[list[Any]] = []
        by_topic: dict[str, tuple[Callable[[Any], Any], Callable[[Any], list[Any]],
                                  list[tuple[list[Any], Message]]]] = {}
        for msg in msgs:
            topic = msg.topic()
            hit = by_topic.get(topic)
            if hit is None:
                mapping = self.mappings[topic]
                hit = by_topic[topic] = (by_name(mapping.topic).decode, mapping.to_row,
                                         rows.setdefault(mapping.table, []))
            decode, to_row, out = hit
            try:
                out.append((to_row(decode(msg.value() or b"")), msg))
            except ContractError as exc:
                dead.append(self._dead_row(msg, "invalid", str(exc)))
        return {table: data for table, data in rows.items() if data}, dead

    @staticmethod
    def _dead_row(msg: Message, reason: str, error: str) -> list[Any]:
        key = msg.key()
        return [msg.topic(), msg.partition(), msg.offset(),
                key.decode("utf-8", "replace") if key else None,
                (msg.value() or b"").decode("utf-8", "replace"), reason, error[:2000],
                datetime.now(UTC)]

    def _insert(self, table: str, columns: tuple[str, ...], data: list[list[Any]]) -> None:
        with self.lock:
            self.client.insert(f"{self.db}.{table}", data, column_names=list(columns))

    def _insert_rows(self, table: str, data: list[tuple[list[Any], Message]],
                     dead: list[list[Any]]) -> int:
        """Insert a table's rows; if ClickHouse refuses the batch, find the refused rows."""
        columns = next(m.columns for m in self.mappings.values() if m.table == table)
        try:
            self._insert(table, columns, [row for row, _ in data])
            return len(data)
        except Exception as exc:
            if _is_unavailable(exc):
                raise
        written = 0
        for row, msg in data:
            try:
                self._insert(table, columns, [row])
                written += 1
            except Exception as exc:
                if _is_unavailable(exc):
                    raise
                dead.append(self._dead_row(msg, "refused", f"{type(exc).__name__}: {exc}"))
        return written

    def write(self, msgs: list[Message], consumer: Consumer | None = None) -> None:
        """Write one batch, retrying while ClickHouse is unavailable; then it may be committed."""
        # No cyclic collection while the batch is decoded and screened: it allocates tens of
        # thousands of objects (models, rows) that would start several collections for
        # nothing (reference counting frees them once the batch is written).
        collecting = gc.isenabled()
        gc.disable()
        try:
            rows, invalid = self._decode_all(msgs)
            rows, held = quality.screen(rows, self.mappings.values())  # bad rows → quarantine
        finally:
            if collecting:
                gc.enable()
        delay = 0.2
        while True:
            try:
                per_table: dict[str, int] = {}
                dead = list(invalid)  # a retried attempt starts again from the decoded rows
                for table, data in rows.items():
                    per_table[table] = self._insert_rows(table, data, dead)
                written = sum(per_table.values())
                if dead:
                    self._insert("sink_dead_letters", _DEAD_LETTER_COLUMNS, dead)
                held.insert(self._insert)  # before the offsets are committed
                break
            except Exception as exc:
                if not _is_unavailable(exc) or self.stop_event.is_set():
                    raise
                self.counts["retries"] += 1
                SINK_RETRIES.labels("clickhouse").inc()
                log.warning("clickhouse unavailable, retrying", error=str(exc)[:200],
                            delay_s=delay)
                self._wait(consumer, delay)
                delay = min(delay * 2, 30.0)
        self.counts["rows"] += written
        for table, n in per_table.items():
            SINK_ROWS.labels("clickhouse", table).inc(n)
        SINK_ROWS.labels("clickhouse", "sink_dead_letters").inc(len(dead))
        SINK_QUARANTINED.labels("clickhouse", "quarantine").inc(len(held))
        self.counts["dead_letters"] += len(dead)
        self.counts["quarantined"] = self.counts.get("quarantined", 0) + len(held)
        self.counts["gx_tables"] = self.counts.get("gx_tables", 0) + held.gx_tables
        self.counts["batches"] += 1

    def _wait(self, consumer: Consumer | None, seconds: float) -> None:
        """Back off while staying in the consumer group (paused partitions, polls)."""
        if consumer is None:
            time.sleep(seconds)
            return
        assigned = consumer.assignment()
        consumer.pause(assigned)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            consumer.poll(0.1)
        consumer.resume(assigned)

    # -- the loop -------------------------------------------------------------------------
    def run(self, max_seconds: float | None = None, idle_stop_s: float | None = None) -> None:
        """Consume until stopped (or for ``max_seconds``, or after ``idle_stop_s`` idle)."""
        consumer = make_consumer(self.settings, self.group_id, Role.CLICKHOUSE_SINK)
        consumer.subscribe(list(self.mappings))
        # What is alive now (GX, pandas, the suites: millions of objects) lives as long as
        # the process; keep it out of every full collection the batches would trigger.
        gc.freeze()
        batch_rows = self.settings.clickhouse.batch_rows
        interval = self.settings.clickhouse.flush_interval_s
        started = last_data = time.monotonic()
        pending: list[Message] = []
        first_at = 0.0
        try:
            while not self.stop_event.is_set():
                now = time.monotonic()
                if max_seconds is not None and now - started > max_seconds:
                    break
                if idle_stop_s is not None and not pending and now - last_data > idle_stop_s:
                    break
                polled = consumer.consume(min(batch_rows, 1000), 0.2)
                fresh = [msg for msg in polled if msg.error() is None]
                if len(fresh) < len(polled):
                    for msg in polled:
                        if msg.error() and msg.error().code() != KafkaError._PARTITION_EOF:
                            log.warning("consume error", error=str(msg.error()))
                if fresh:
                    if not pending:
                        first_at = time.monotonic()
                    pending += fresh
                    last_data = time.monotonic()
                if pending and (len(pending) >= batch_rows
                                or time.monotonic() - first_at >= interval):
                    self.write(pending, consumer)
                    consumer.commit(offsets=_next_offsets(pending), asynchronous=False)
                    pending = []
                    last_data = time.monotonic()  # a slow write is not idleness
            if pending:
                self.write(pending, consumer)
                consumer.commit(offsets=_next_offsets(pending), asynchronous=False)
        finally:
            consumer.close()


def _next_offsets(msgs: list[Message]) -> list[TopicPartition]:
    top: dict[tuple[str, int], int] = {}
    for m in msgs:
        key = (m.topic(), m.partition())
        top[key] = max(top.get(key, -1), m.offset())
    return [TopicPartition(t, p, o + 1) for (t, p), o in top.items()]
