"""md.candles → ClickHouse (embedded chDB), through the real Kafka."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import OperationalError

from analytics.clickhouse import open_client
from analytics.migrate import migrate, rollback
from infra.settings import Settings
from sinks.clickhouse import ClickHouseSink
from streams.kafka import make_producer
from topics.catalogue import by_name
from topics.contracts import Candle

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

CANDLES = by_name("md.candles")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _candle(symbol: str, minute: int, version: int, close: str, final: bool) -> Candle:
    start = T0 + timedelta(minutes=minute)
    return Candle(event_id=f"{symbol}:1m:{start.isoformat()}", ts_event=start, symbol=symbol,
                  interval="1m", window_start=start, window_end=start + timedelta(minutes=1),
                  open=Decimal("100"), high=Decimal("110"), low=Decimal("90"),
                  close=Decimal(close), volume=Decimal("2.5"), notional=Decimal("250.123456789"),
                  vwap=Decimal("100.04938272"), trades=3 + version, version=version, final=final)


@pytest.fixture
def ch_settings(stack: Settings, tmp_path: Path) -> Settings:
    """The real stack, with a ClickHouse store of this test's own."""
    return stack.model_copy(update={"clickhouse": stack.clickhouse.model_copy(
        update={"dsn": f"chdb://{tmp_path / 'clickhouse'}", "flush_interval_s": 0.2})})


def _run(settings: Settings, client: Any) -> ClickHouseSink:
    sink = ClickHouseSink(settings, group_id=f"test-sink-{uuid.uuid4().hex[:8]}", client=client)
    sink.run(idle_stop_s=4, max_seconds=120)
    return sink


def test_versions_collapse_and_a_replay_adds_nothing(ch_settings: Settings) -> None:
    symbol = f"S{uuid.uuid4().hex[:6].upper()}-USDT"
    producer = make_producer(ch_settings)
    for minute in range(3):
        for version, close in ((1, "101"), (2, "102.5"), (3, "103.123456789012345678")):
            candle = _candle(symbol, minute, version, close, final=version == 3)
            producer.produce(CANDLES.name, key=symbol.encode(), value=CANDLES.encode(candle))
    producer.produce(CANDLES.name, key=symbol.encode(), value=b'{"symbol": "' +
                     symbol.encode() + b'", "open": "not a price"}')
    producer.flush(10)

    client = open_client(ch_settings)
    db = ch_settings.clickhouse.database
    migrate(client, db)
    _run(ch_settings, client)
    _run(ch_settings, client)  # a second group replays the whole topic: nothing may change

    rows = client.query(f"SELECT window_start, close, version, final, trades FROM {db}.candles "
                        f"FINAL WHERE symbol = %(s)s ORDER BY window_start",
                        parameters={"s": symbol}).result_rows
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == \
        [(Decimal("103.123456789012345678"), 3, True, 6)] * 3
    assert rows[0][0].replace(tzinfo=UTC) == T0
    dead = client.query(f"SELECT reason, error FROM {db}.sink_dead_letters FINAL "
                        f"WHERE key = %(s)s", parameters={"s": symbol}).result_rows
    assert len(dead) == 1 and dead[0][0] == "invalid" and "open" in dead[0][1]
    undone = rollback(client, db, 0)  # every migration, newest first
    assert undone[-1] == "0001_candles" and undone == sorted(undone, reverse=True)
    for table in ("candles", "trades", "ledger", "settlement_reconciliation", "ohlc_1m"):
        assert client.query(f"EXISTS TABLE {db}.{table}").result_rows == [(0,)], table
    assert migrate(client, db) == sorted(undone)  # and forward again
    client.close()


class _Outage:
    """The real embedded client behind a switch that makes ClickHouse unreachable for a while."""

    def __init__(self, client: Any, failures: int) -> None:
        self.client = client
        self.failures = failures
        self.attempts = 0

    def insert(self, *args: Any, **kwargs: Any) -> Any:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("Connection refused (simulated outage)")
        return self.client.insert(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_an_outage_delays_rows_but_loses_none(ch_settings: Settings) -> None:
    symbol = f"O{uuid.uuid4().hex[:6].upper()}-USDT"
    producer = make_producer(ch_settings)
    for minute in range(5):
        candle = _candle(symbol, minute, 1, "100", final=True)
        producer.produce(CANDLES.name, key=symbol.encode(), value=CANDLES.encode(candle))
    producer.flush(10)
    real = open_client(ch_settings)
    db = ch_settings.clickhouse.database
    migrate(real, db)
    flaky = _Outage(real, failures=4)
    sink = ClickHouseSink(ch_settings, group_id=f"test-sink-{uuid.uuid4().hex[:8]}",
                          client=flaky)
    runner = threading.Thread(target=sink.run, kwargs={"idle_stop_s": 4, "max_seconds": 120})
    runner.start()
    runner.join(150)
    assert sink.counts["retries"] >= 4
    count = real.query(f"SELECT count() FROM {db}.candles FINAL WHERE symbol = %(s)s",
                       parameters={"s": symbol}).result_rows[0][0]
    assert count == 5
    real.close()
