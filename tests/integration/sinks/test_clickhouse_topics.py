"""Every analytic topic → ClickHouse through the real Kafka and chDB; replays add nothing;
the views (OHLCV, VWAP, venues, fees, PnL, reconciliation) and the materialized OHLC agree
with figures worked out by hand (tests/unit/analytics/samples.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from analytics.clickhouse import open_client
from analytics.migrate import migrate
from infra.settings import Settings
from sinks.clickhouse import MAPPINGS, ClickHouseSink
from streams.kafka import make_consumer, make_producer
from tests.unit.analytics.samples import Sample, sample
from topics.catalogue import by_name

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

D = Decimal
TOPICS = [m.topic for m in MAPPINGS]


@pytest.fixture
def ch_settings(stack: Settings, tmp_path: Path) -> Settings:
    """The real stack, with a ClickHouse store of this test's own."""
    return stack.model_copy(update={"clickhouse": stack.clickhouse.model_copy(
        update={"dsn": f"chdb://{tmp_path / 'clickhouse'}", "flush_interval_s": 0.2})})


def end_offsets(settings: Settings) -> list[TopicPartition]:
    """Where every sunk topic ends now: a test's sink starts here, not at the topic's start."""
    consumer = make_consumer(settings, f"probe-{uuid.uuid4().hex[:8]}")
    try:
        out = []
        for topic in TOPICS:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            for p in meta.partitions:
                _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                out.append(TopicPartition(topic, p, high))
        return out
    finally:
        consumer.close()


def group_at(settings: Settings, offsets: list[TopicPartition]) -> str:
    """A new consumer group whose committed offsets are ``offsets``."""
    group = f"test-sink-{uuid.uuid4().hex[:8]}"
    consumer = make_consumer(settings, group)
    try:
        consumer.commit(offsets=offsets, asynchronous=False)
    finally:
        consumer.close()
    return group


def produce(settings: Settings, s: Sample,
            extra: Sequence[tuple[str, bytes, bytes]] = ()) -> None:
    producer = make_producer(settings)
    for topic, key, message in s.messages:
        producer.produce(topic, key=key.encode(), value=by_name(topic).encode(message))
    for topic, key_bytes, value in extra:
        producer.produce(topic, key=key_bytes, value=value)
    assert producer.flush(15) == 0


def run_sink(settings: Settings, client: Any, offsets: list[TopicPartition]) -> ClickHouseSink:
    sink = ClickHouseSink(settings, group_id=group_at(settings, offsets), client=client)
    sink.run(idle_stop_s=4, max_seconds=120)
    return sink


def one(client: Any, sql: str, **params: Any) -> Any:
    return client.query(sql, parameters=params).result_rows


def test_every_topic_lands_once_and_the_views_add_up(ch_settings: Settings) -> None:
    s = sample(uuid.uuid4().hex[:6])
    db = ch_settings.clickhouse.database
    start = end_offsets(ch_settings)
    bad = b'{"event_id": "x", "symbol": "' + s.symbol.encode() + b'", "price": "not money"}'
    produce(ch_settings, s, [("trades", s.symbol.encode(), bad)])
    client = open_client(ch_settings)
    migrate(client, db)
    first = run_sink(ch_settings, client, start)
    assert first.counts["rows"] == len(s.messages)
    assert first.counts["dead_letters"] == 1

    # rows per table, as produced (positions: two versions of one key collapse to one)
    expected = {"trades": 3, "order_events": 2, "ledger": 8, "positions": 1, "risk_alerts": 1,
                "index_prices": 2, "option_marks": 1, "candles": 1, "settlement_orders": 3,
                "settlement_results": 6, "hedges": 1, "expiries": 1}
    tag_filters = {
        "trades": "symbol = {sym:String}", "order_events": "symbol = {sym:String}",
        "candles": "symbol = {sym:String}", "ledger": "reference LIKE {tag:String}",
        "positions": "account = {alice:String}", "risk_alerts": "account = {alice:String}",
        "index_prices": "event_id LIKE {tag:String}", "option_marks": "event_id LIKE {tag:String}",
        "settlement_orders": "account = {alice:String}",
        "settlement_results": "account = {alice:String}",
        "hedges": "order_id = {o0:String}", "expiries": "event_id LIKE {tag:String}"}
    params = {"sym": s.symbol, "tag": f"%{s.tag}%", "alice": s.alice, "o0": str(s.orders[0])}

    def counts(final: bool) -> dict[str, int]:
        return {t: one(client, f"SELECT count() FROM {db}.{t} {'FINAL' if final else ''} "
                               f"WHERE {w}", **params)[0][0] for t, w in tag_filters.items()}

    assert counts(final=True) == expected
    # a second group replays the same messages: every row is written again, none is added
    second = run_sink(ch_settings, client, start)
    assert second.counts["rows"] == len(s.messages)
    assert counts(final=True) == expected
    raw = counts(final=False)
    assert raw["trades"] >= 6  # the replay really wrote (until a merge collapses it)

    # exact types survive the trip
    trade = one(client, f"SELECT price, qty, toTypeName(price), toTypeName(symbol), "
                        f"toTypeName(ts_event) FROM {db}.trades FINAL WHERE symbol = %(s)s "
                        f"ORDER BY seq LIMIT 1", s=s.symbol)[0]
    assert trade == (D("100"), D("1.5"), "Decimal(38, 18)", "LowCardinality(String)",
                     "DateTime64(6, 'UTC')")
    mark = one(client, f"SELECT delta FROM {db}.option_marks FINAL WHERE event_id LIKE %(t)s",
               t=f"%{s.tag}%")[0][0]
    assert mark == D("0.351234567890123456")  # a Greek beyond 18 decimals is cut, not refused
    index = one(client, f"SELECT venues_used, exclusions FROM {db}.index_prices FINAL "
                        f"WHERE event_id LIKE %(t)s ORDER BY event_id LIMIT 1",
                t=f"%{s.tag}%")[0]
    assert index == (["binance", "okx"], {"kraken": "stale"})
    position = one(client, f"SELECT seq, realized_pnl FROM {db}.positions FINAL "
                           f"WHERE account = %(a)s", a=s.alice)
    assert position == [(2, D("7"))]
    dead = one(client, f"SELECT reason, source_topic FROM {db}.sink_dead_letters FINAL "
                       f"WHERE key = %(k)s", k=s.symbol)
    assert dead == [("invalid", "trades")]

    # the views
    ohlcv = one(client, f"SELECT open, high, low, close, volume, notional, vwap, trades "
                        f"FROM {db}.ohlcv_1m WHERE symbol = %(s)s", s=s.symbol)
    assert ohlcv == [(D(100), D(102), D(100), D(101), D(4), D("404.5"), D("101.125"), 3)]
    mv = one(client, f"SELECT open, high, low, close, trades FROM {db}.ohlc_1m "
                     f"WHERE symbol = %(s)s", s=s.symbol)
    assert mv == [(D(100), D(102), D(100), D(101), 3)]  # the MV did not count the replay
    venues = one(client, f"SELECT venue, symbol, trades, volume, notional FROM "
                         f"{db}.volume_by_venue WHERE symbol IN (%(s)s) OR venue = 'binance' "
                         f"ORDER BY venue", s=s.symbol)
    assert (("strikeflow", s.symbol, 3, D(4), D("404.5")) in venues)
    assert any(v[0] == "binance" and v[4] >= D("630.0875") for v in venues)
    fees = one(client, f"SELECT sum(fees) FROM {db}.fees_daily WHERE account = %(a)s",
               a=s.alice)[0][0]
    assert fees == D("1.904")
    pnl = one(client, f"SELECT realized_pnl, unrealized_pnl, pnl, balance, fees "
                      f"FROM {db}.account_pnl WHERE account = %(a)s", a=s.alice)
    assert pnl == [(D(7), D("-2.5"), D("4.5"), D("593.596"), D("1.904"))]
    recon = dict(one(client, f"SELECT order_id, status FROM {db}.settlement_reconciliation "
                             f"WHERE account = %(a)s", a=s.alice))
    assert recon == {str(s.orders[0]): "ok", str(s.orders[1]): "premium_mismatch",
                     str(s.orders[2]): "not_booked"}
    client.close()
