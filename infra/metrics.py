"""The platform's Prometheus metrics: one definition of each series, and how a process serves them.

Every StrikeFlow process (worker, sinks, counter service, the ops exporter) calls :func:`serve`
once: it starts prometheus-client's HTTP server on a free loopback port and writes a file-based
service-discovery target under ``<data_dir>/prometheus/targets/`` that Prometheus (started by
``infra up``) watches. A process that exits cleanly removes its target; one that dies leaves it
behind and Prometheus reports ``up == 0`` for it, which is what the "process down" alert watches.

Names follow Prometheus conventions (``_total`` counters, ``_seconds`` units); the alert rules in
``infra/templates/prometheus-rules.yml`` and the platform-health dashboard use these names.
"""

from __future__ import annotations

import atexit
import json
import os
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram, start_http_server

__all__ = [
    "AGENT_BATCH_SECONDS", "AGENT_BATCH_SIZE", "AGENT_EVENTS", "CONSUMER_LAG", "COUNTER_PLACEMENTS",
    "DEAD_LETTERS", "FLUSH_SECONDS", "GATEWAY_ORDERS", "GATEWAY_REQUESTS", "GATEWAY_SECONDS",
    "GATEWAY_WS_CLIENTS", "GATEWAY_WS_RESYNCS", "INDEX_PRICE_TIME", "LEDGER_IMBALANCE",
    "REBALANCES", "SINK_QUARANTINED", "SINK_RETRIES", "SINK_ROWS", "serve", "targets_dir",
]

# -- stream agents (streams.inbox: one skeleton, so every agent reports the same series) --------
AGENT_EVENTS = Counter("strikeflow_agent_events", "Messages an agent processed", ["agent"])
AGENT_BATCH_SIZE = Histogram("strikeflow_agent_batch_size", "Messages per batch", ["agent"],
                             buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000))
AGENT_BATCH_SECONDS = Histogram(
    "strikeflow_agent_batch_seconds", "Time to process one batch, outputs flushed", ["agent"],
    buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
FLUSH_SECONDS = Histogram(
    "strikeflow_flush_seconds", "Time a batch waited for Kafka to acknowledge what it sent "
    "(changelog: table writes; output: results and dead letters)", ["what"],
    buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
DEAD_LETTERS = Counter("strikeflow_dead_letters",
                       "Messages dead-lettered, by the topic they came from and the reason",
                       ["topic", "reason"])
REBALANCES = Counter("strikeflow_rebalances", "Partition assignments a worker received", ["agent"])
INDEX_PRICE_TIME = Gauge("strikeflow_index_price_timestamp_seconds",
                         "When the last index price per underlying was published (wall clock)",
                         ["underlying"])

# -- sinks -------------------------------------------------------------------------------------
SINK_ROWS = Counter("strikeflow_sink_rows", "Rows or documents written", ["sink", "table"])
SINK_QUARANTINED = Counter("strikeflow_sink_quarantined",
                           "Rows refused by the screen and kept aside", ["sink", "table"])
SINK_RETRIES = Counter("strikeflow_sink_retries", "Writes retried after the store refused them",
                       ["sink"])

# -- counter service ---------------------------------------------------------------------------
COUNTER_PLACEMENTS = Counter("strikeflow_counter_placements",
                             "Counter-service placements by outcome", ["outcome"])

# -- ops exporter (computed from Kafka and ClickHouse, not by one process about itself) --------
CONSUMER_LAG = Gauge("strikeflow_consumer_lag", "Messages a consumer group has yet to read",
                     ["group", "topic", "partition"])
# -- the trading gateway -------------------------------------------------------------------------
GATEWAY_REQUESTS = Counter("strikeflow_gateway_requests", "HTTP requests answered",
                           ["route", "status"])
GATEWAY_SECONDS = Histogram(
    "strikeflow_gateway_request_seconds", "Time to answer an HTTP request (orders: until risk "
    "answered)", ["route"], buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
GATEWAY_ORDERS = Counter("strikeflow_gateway_orders", "Order commands by their answer",
                         ["via", "status"])
GATEWAY_WS_CLIENTS = Gauge("strikeflow_gateway_ws_clients", "Open WebSocket connections")
GATEWAY_WS_RESYNCS = Counter("strikeflow_gateway_ws_resyncs",
                             "Slow WebSocket clients resynchronised from snapshots")
LEDGER_IMBALANCE = Gauge("strikeflow_ledger_imbalance",
                         "Sum of all ledger legs per asset (double entry: must be 0)", ["asset"])


def targets_dir(data_dir: Path) -> Path:
    """Where Prometheus' file-based discovery looks for ``*.json`` targets."""
    return data_dir / "prometheus" / "targets"


def serve(data_dir: Path, process: str, host: str = "127.0.0.1", port: int = 0) -> int:
    """Expose this process' metrics and register it with Prometheus; returns the port.

    ``process`` names the target (``worker-1``, ``sink-clickhouse``, ...); it becomes the
    ``process`` label of every series scraped from here.
    """
    server, _thread = start_http_server(port, addr=host)
    bound = server.server_address[1]
    directory = targets_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{process}.json"
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps([{"targets": [f"{host}:{bound}"],
                                "labels": {"process": process, "pid": str(os.getpid())}}]))
    tmp.replace(target)  # atomic: Prometheus never reads half a file
    pid = os.getpid()

    def _unregister() -> None:
        # only the process that wrote it (a forked child inherits atexit handlers)
        if os.getpid() == pid:
            target.unlink(missing_ok=True)

    atexit.register(_unregister)
    return bound
