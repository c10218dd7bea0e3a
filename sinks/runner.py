"""The ClickHouse sink as a process: migrate, answer queries, consume until told to stop."""

from __future__ import annotations

import signal
import threading
from typing import Any

import structlog

from analytics.migrate import migrate
from analytics.quality.screen import warm_up
from infra.settings import Settings
from sinks.clickhouse import ClickHouseSink
from sinks.query_server import QueryServer, front_users

__all__ = ["run_clickhouse_sink", "serve_store"]

log = structlog.get_logger(__name__)


def run_clickhouse_sink(settings: Settings, max_seconds: float | None = None,
                        idle_stop_s: float | None = None, group_id: str | None = None,
                        stop: threading.Event | None = None,
                        ready: threading.Event | None = None) -> dict[str, int]:
    """Run until SIGTERM (main thread), ``stop`` is set, ``max_seconds`` or ``idle_stop_s``.

    ``ready`` is set once migrations are applied and the query endpoint answers.
    """
    sink = (ClickHouseSink(settings) if group_id is None
            else ClickHouseSink(settings, group_id=group_id))
    if stop is not None:
        sink.stop_event = stop
    applied = migrate(sink.client, settings.clickhouse.database)
    if applied:
        log.info("clickhouse migrations applied", migrations=applied)
    server = None
    if settings.clickhouse_dsn.startswith("chdb://"):
        ch = settings.clickhouse
        server = QueryServer(sink.client, sink.lock, ch.query_host, ch.query_port,
                             front_users(ch))
        server.start()
        log.info("answering SQL", url=f"http://{ch.query_host}:{ch.query_port}/query")

    def _stop(*_: Any) -> None:
        sink.stop_event.set()

    warm_up()  # load great-expectations now, not inside the first batch
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop) if main else None
    log.info("sink running", topics=sorted(sink.mappings), database=settings.clickhouse.database)
    if ready is not None:
        ready.set()
    try:
        sink.run(max_seconds=max_seconds, idle_stop_s=idle_stop_s)
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        if server is not None:
            server.stop()
        sink.client.close()
    log.info("sink stopped", **sink.counts)
    return sink.counts


def serve_store(settings: Settings, stop: threading.Event | None = None,
                ready: threading.Event | None = None) -> None:
    """Serve the embedded store over ClickHouse's HTTP interface, writes included, until
    SIGTERM (main thread) or ``stop``: a ClickHouse "server" for a store no sink owns, e.g.
    for a sink configured with ``STRIKEFLOW_CLICKHOUSE__DSN=http://127.0.0.1:18123``."""
    from analytics.clickhouse import open_client

    if not settings.clickhouse_dsn.startswith("chdb://"):
        raise ValueError("serve_store serves the embedded store (a chdb:// DSN)")
    stop = stop or threading.Event()
    client = open_client(settings)
    applied = migrate(client, settings.clickhouse.database)
    if applied:
        log.info("clickhouse migrations applied", migrations=applied)
    ch = settings.clickhouse
    server = QueryServer(client, threading.Lock(), ch.query_host, ch.query_port,
                         front_users(ch), read_only=False)
    server.start()
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if main else None
    log.info("serving the store", url=f"http://{ch.query_host}:{ch.query_port}",
             store=settings.clickhouse_dsn)
    if ready is not None:
        ready.set()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        server.stop()
        client.close()
