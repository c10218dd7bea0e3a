"""The ClickHouse sink as a process: migrate, answer queries, consume until told to stop."""

from __future__ import annotations

import signal
from typing import Any

import structlog

from analytics.migrate import migrate
from infra.settings import Settings
from sinks.clickhouse import ClickHouseSink
from sinks.query_server import QueryServer

__all__ = ["run_clickhouse_sink"]

log = structlog.get_logger(__name__)


def run_clickhouse_sink(settings: Settings, max_seconds: float | None = None,
                        idle_stop_s: float | None = None) -> dict[str, int]:
    sink = ClickHouseSink(settings)
    applied = migrate(sink.client, settings.clickhouse.database)
    if applied:
        log.info("clickhouse migrations applied", migrations=applied)
    server = None
    if settings.clickhouse_dsn.startswith("chdb://"):
        ch = settings.clickhouse
        server = QueryServer(sink.client, sink.lock, ch.query_host, ch.query_port)
        server.start()
        log.info("answering SQL", url=f"http://{ch.query_host}:{ch.query_port}/query")

    def _stop(*_: Any) -> None:
        sink.stop_event.set()

    previous = signal.signal(signal.SIGTERM, _stop)
    log.info("sink running", topics=sorted(sink.mappings), database=settings.clickhouse.database)
    try:
        sink.run(max_seconds=max_seconds, idle_stop_s=idle_stop_s)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if server is not None:
            server.stop()
        sink.client.close()
    log.info("sink stopped", **sink.counts)
    return sink.counts
