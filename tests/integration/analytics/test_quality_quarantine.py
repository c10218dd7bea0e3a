"""Sink batches screened by their suites, into a real embedded ClickHouse (chDB in tmp_path):
bad rows land in ``quarantine`` with the expectations they broke, an alert in
``quality_results``, good rows in their table; through Kafka the offsets are committed after."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Message, TopicPartition

from analytics.clickhouse import open_client
from analytics.migrate import migrate
from infra.settings import Settings, get_settings
from sinks.clickhouse import ClickHouseSink
from streams.kafka import make_consumer, make_producer
from topics.catalogue import by_name
from topics.contracts import Candle, Trade

from .seed import T0

pytestmark = pytest.mark.clickhouse

VWAP_RULE = "expect_column_pair_values_a_to_be_greater_than_b(high,vwap)"


def _settings(base: Settings, tmp_path: Path) -> Settings:
    return base.model_copy(update={"clickhouse": base.clickhouse.model_copy(
        update={"dsn": f"chdb://{tmp_path / 'clickhouse'}", "flush_interval_s": 0.2})})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Settings, Any]]:
    settings = _settings(get_settings(), tmp_path)
    client = open_client(settings)
    migrate(client, settings.clickhouse.database)
    yield settings, client
    client.close()


def _candle(symbol: str, minute: int, vwap: str = "100") -> Candle:
    start = T0 + timedelta(minutes=minute)
    return Candle(event_id=f"{symbol}:1m:{start.isoformat()}", ts_event=start, symbol=symbol,
                  interval="1m", window_start=start, window_end=start + timedelta(minutes=1),
                  open=Decimal("100"), high=Decimal("110"), low=Decimal("90"),
                  close=Decimal("105"), volume=Decimal("2"), notional=Decimal("200"),
                  vwap=Decimal(vwap), trades=3, version=1, final=True)


def _msg(topic: str, model: Any, offset: int) -> Message:
    return Message(topic=topic, partition=0, offset=offset, key=b"k",
                   value=by_name(topic).encode(model))


def test_write_quarantines_bad_rows_and_inserts_the_rest(store: tuple[Settings, Any]) -> None:
    settings, client = store
    db = settings.clickhouse.database
    # A candle whose VWAP lies above its high passes its contract but not its suite.
    candles = [_candle("BTC-USDT", m, vwap="120" if m == 2 else "100") for m in range(5)]
    trade = Trade(event_id="BTC-USDT:9", ts_event=T0, symbol="BTC-USDT", trade_id="BTC-USDT:9",
                  price=Decimal("90000"), qty=Decimal("0.01"), aggressor_side="buy",
                  maker_order_id="BTC-USDT#1", taker_order_id="BTC-USDT#1",  # a self-cross
                  maker_account="a", taker_account="b", seq=9)
    msgs = [_msg("md.candles", c, i) for i, c in enumerate(candles)]
    msgs.append(_msg("trades", trade, 0))
    sink = ClickHouseSink(settings, client=client)
    sink.write(msgs)
    sink.write(msgs)  # a replayed batch: nothing doubles

    assert sink.counts["quarantined"] == 4
    stored = client.query(f"SELECT toMinute(window_start) FROM {db}.candles FINAL "
                          f"ORDER BY window_start").result_rows
    assert [r[0] for r in stored] == [0, 1, 3, 4]
    assert client.query(f"SELECT count() FROM {db}.trades").result_rows == [(0,)]
    held = client.query(f"SELECT table, source_topic, source_offset, failed, row, payload "
                        f"FROM {db}.quarantine FINAL ORDER BY table").result_rows
    assert [(r[0], r[1], r[2]) for r in held] == [("candles", "md.candles", 2),
                                                  ("trades", "trades", 0)]
    assert held[0][3] == [VWAP_RULE]
    assert json.loads(held[0][4])["vwap"] == "120"  # the row, every digit kept
    assert json.loads(held[0][5])["event_id"] == candles[2].event_id  # the original message
    assert held[1][3] == ["expect_select_column_values_to_be_unique_within_record("
                          "maker_order_id,taker_order_id)"]
    alerts = client.query(f"SELECT kind, suite, expectation, success, unexpected, rows_checked "
                          f"FROM {db}.quality_results FINAL ORDER BY suite").result_rows
    assert alerts == [("batch", "candles", VWAP_RULE, False, 1, 5),
                      ("batch", "trades", held[1][3][0], False, 1, 1)]


@pytest.mark.kafka
def test_through_kafka_offsets_pass_the_quarantined_rows(stack: Settings,
                                                         tmp_path: Path) -> None:
    settings = _settings(stack, tmp_path)
    db = settings.clickhouse.database
    symbol = f"Q{uuid.uuid4().hex[:6].upper()}-USDT"
    producer = make_producer(settings)
    topic = by_name("md.candles")
    for m in range(4):
        candle = _candle(symbol, m, vwap="80" if m == 1 else "100")  # VWAP below the low
        producer.produce(topic.name, key=symbol.encode(), value=topic.encode(candle))
    producer.flush(10)
    client = open_client(settings)
    migrate(client, db)
    group = f"test-quality-{uuid.uuid4().hex[:8]}"
    sink = ClickHouseSink(settings, group_id=group, client=client)
    sink.run(idle_stop_s=4, max_seconds=120)

    stored = client.query(f"SELECT count() FROM {db}.candles FINAL WHERE symbol = %(s)s",
                          parameters={"s": symbol}).result_rows[0][0]
    held = client.query(f"SELECT source_partition, source_offset, failed FROM {db}.quarantine "
                        f"FINAL WHERE key = %(s)s", parameters={"s": symbol}).result_rows
    assert stored == 3
    assert len(held) == 1
    assert held[0][2] == ["expect_column_pair_values_a_to_be_greater_than_b(vwap,low)"]
    consumer: Consumer = make_consumer(settings, group)
    try:
        committed = consumer.committed([TopicPartition(topic.name, held[0][0])], timeout=10)
    finally:
        consumer.close()
    assert committed[0].offset > held[0][1]  # committed past the quarantined message
    client.close()
