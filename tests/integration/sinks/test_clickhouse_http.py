"""The sink, migrations and analyst queries through an ``http://`` DSN: ClickHouse's HTTP
interface served in front of a real (embedded) ClickHouse engine, through the real Kafka."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from analytics.clickhouse import open_client
from analytics.query import query_rows
from infra.settings import Settings
from sinks.clickhouse import MAPPINGS, ClickHouseSink
from sinks.runner import serve_store
from streams.kafka import make_producer
from topics.catalogue import by_name
from topics.contracts import Candle

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

CANDLES = by_name("md.candles")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_settings(stack: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A store of this test's own, served over HTTP; settings whose DSN is that server."""
    port = _free_port()
    served = stack.model_copy(update={"clickhouse": stack.clickhouse.model_copy(
        update={"dsn": f"chdb://{tmp_path / 'clickhouse'}", "query_port": port})})
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=serve_store, args=(served,),
                              kwargs={"stop": stop, "ready": ready}, daemon=True)
    thread.start()
    assert ready.wait(120), "the store was not served"
    try:
        yield stack.model_copy(update={"clickhouse": stack.clickhouse.model_copy(
            update={"dsn": f"http://127.0.0.1:{port}", "flush_interval_s": 0.2})})
    finally:
        stop.set()
        thread.join(30)


def _candle(symbol: str, minute: int, version: int, close: str) -> Candle:
    start = T0 + timedelta(minutes=minute)
    return Candle(event_id=f"{symbol}:1m:{start.isoformat()}", ts_event=start, symbol=symbol,
                  interval="1m", window_start=start, window_end=start + timedelta(minutes=1),
                  open=Decimal("100"), high=Decimal("110"), low=Decimal("90"),
                  close=Decimal(close), volume=Decimal("2.5"), notional=Decimal("250.5"),
                  vwap=Decimal("100.2"), trades=3, version=version, final=version == 2)


def _sink(settings: Settings) -> ClickHouseSink:
    mappings = tuple(m for m in MAPPINGS if m.topic == CANDLES.name)
    sink = ClickHouseSink(settings, mappings=mappings,
                          group_id=f"test-sink-http-{uuid.uuid4().hex[:8]}")
    sink.run(idle_stop_s=4, max_seconds=180)
    return sink


def test_the_sink_writes_through_an_http_dsn_and_a_replay_adds_nothing(
        http_settings: Settings) -> None:
    symbol = f"H{uuid.uuid4().hex[:6].upper()}-USDT"
    producer = make_producer(http_settings)
    for minute in range(3):
        for version, close in ((1, "101.5"), (2, "102.123456789012345678")):
            candle = _candle(symbol, minute, version, close)
            producer.produce(CANDLES.name, key=symbol.encode(), value=CANDLES.encode(candle))
    producer.flush(10)
    first = _sink(http_settings)
    assert first.counts["rows"] >= 6
    sql = (f"SELECT count() AS n, sum(close) AS closes FROM strikeflow.candles FINAL "
           f"WHERE symbol = '{symbol}'")
    assert query_rows(http_settings, sql) == [
        {"n": 3, "closes": Decimal("306.370370367037037034")}]
    _sink(http_settings)  # another group reads the same candles again: a replay
    assert query_rows(http_settings, sql)[0]["n"] == 3
    client = open_client(http_settings)  # as the writer: the DSN names no user
    try:  # the versions really were written twice; FINAL keeps the newest once
        raw = client.query(f"SELECT count() FROM strikeflow.candles WHERE symbol = '{symbol}'")
        assert raw.result_rows[0][0] >= 6
    finally:
        client.close()
