"""The ops exporter: metrics no single process knows about itself.

* ``strikeflow_consumer_lag{group,topic,partition}``: every consumer group's committed offset
  against the log end (Faust workers, sinks, Connect), like ``kafka-consumer-groups --describe``.
* ``strikeflow_ledger_imbalance{asset}``: the sum of the ledger's postings that do not balance,
  counting only postings older than a minute (legs of a posting in flight are not an
  imbalance). Double entry makes it 0; anything else is money created or lost.

It asks ClickHouse through the running sink's endpoint only: opening the embedded store itself
would take its lock from the sink.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import structlog

from analytics.query import QueryError, query, via_running_sink
from infra.metrics import CONSUMER_LAG, LEDGER_IMBALANCE
from infra.settings import Settings
from strikeflow.ops.kafka_admin import consumer_lag

__all__ = ["ledger_imbalance", "refresh", "run_exporter"]

log = structlog.get_logger(__name__)

_UNBALANCED = """
SELECT toString(sum(s)) FROM (
    SELECT posting_id, sum(amount) AS s, max(ts_init) AS t FROM {db}.ledger FINAL
    GROUP BY posting_id HAVING s != 0 AND t < now64(6) - INTERVAL 60 SECOND)
"""


def ledger_imbalance(settings: Settings) -> Decimal | None:
    """The USDT the unbalanced postings sum to, or None when ClickHouse cannot be asked."""
    sql = _UNBALANCED.format(db=settings.clickhouse.database)
    try:
        if settings.clickhouse_dsn.startswith("chdb://"):
            out = via_running_sink(settings, sql, "TSV")
            if out is None:
                return None
        else:
            out = query(settings, sql, "TSV")
    except QueryError as exc:
        log.warning("ledger imbalance not measured", error=str(exc)[:200])
        return None
    return Decimal(out.decode().strip() or "0")


_seen_lag: set[tuple[str, str, str]] = set()


def refresh(settings: Settings) -> None:
    """Measure once and set the gauges (series of groups that went away are removed)."""
    current = set()
    for row in consumer_lag(settings):
        labels = (row.group, row.topic, str(row.partition))
        CONSUMER_LAG.labels(*labels).set(row.lag)
        current.add(labels)
    for gone in _seen_lag - current:
        CONSUMER_LAG.remove(*gone)
    _seen_lag.clear()
    _seen_lag.update(current)
    imbalance = ledger_imbalance(settings)
    if imbalance is not None:
        LEDGER_IMBALANCE.labels("USDT").set(float(imbalance))


def run_exporter(settings: Settings, interval_s: float = 5.0,
                 stop: threading.Event | None = None, max_rounds: int | None = None) -> int:
    """Refresh every ``interval_s`` until ``stop`` (or ``max_rounds``); returns rounds run."""
    stop = stop or threading.Event()
    rounds = 0
    while not stop.is_set() and (max_rounds is None or rounds < max_rounds):
        try:
            refresh(settings)
        except Exception as exc:  # Kafka unavailable for a moment: keep the last values
            log.warning("exporter refresh failed", error=str(exc)[:200])
        rounds += 1
        stop.wait(interval_s)
    return rounds
