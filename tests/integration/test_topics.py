"""The catalogue on the real broker: apply is idempotent and reports drift; messages round-trip."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from infra.kafka_security import Role
from infra.settings import Settings
from streams.kafka import make_producer
from topics.admin import apply_topics
from topics.catalogue import CATALOGUE, by_name
from topics.contracts import Tick

from .streams_support import collect

pytestmark = pytest.mark.kafka


def test_apply_twice_changes_nothing_the_second_time(stack: Settings) -> None:
    first = apply_topics(stack.kafka.bootstrap_servers)
    assert {c.topic for c in first} == {s.name for s in CATALOGUE}
    assert all(c.action in ("created", "unchanged") for c in first)
    second = apply_topics(stack.kafka.bootstrap_servers)
    assert {c.action for c in second} == {"unchanged"}


def test_apply_repairs_config_and_reports_partition_drift(stack: Settings) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    spec = replace(by_name("md.book"), name=f"test.drift.{uuid.uuid4().hex[:8]}", partitions=2)
    assert [c.action for c in apply_topics(bootstrap, (spec,))] == ["created"]

    longer = replace(spec, retention_ms=spec.retention_ms * 2, partitions=4)
    changes = apply_topics(bootstrap, (longer,))
    assert changes[0].action == "updated"
    assert "partitions 2->4" in changes[0].detail and "retention.ms" in changes[0].detail
    admin = AdminClient(stack.kafka.client_config(Role.ADMIN) | {"bootstrap.servers": bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, spec.name)
    live = admin.describe_configs([res])[res].result(timeout=10)
    assert live["retention.ms"].value == str(longer.retention_ms)
    assert len(admin.list_topics(spec.name, timeout=10).topics[spec.name].partitions) == 4

    fewer = replace(longer, partitions=1)  # Kafka cannot shrink a topic: report, do not touch
    drift = apply_topics(bootstrap, (fewer,))[0]
    assert drift.action == "drift" and "has 4 partitions" in drift.detail
    admin.delete_topics([spec.name])[spec.name].result(timeout=30)


def test_a_tick_round_trips_through_kafka_exactly(stack: Settings) -> None:
    spec = by_name("md.ticks")
    symbol = f"R{uuid.uuid4().hex[:6].upper()}-USDT"
    ts = datetime(2026, 11, 23, 12, 0, 0, 1, tzinfo=UTC)
    tick = Tick(event_id=f"okx:{symbol}:1", ts_event=ts,
                venue="okx", symbol=symbol, trade_id=1,
                price=Decimal("91234.123456789"), qty=Decimal("0.000000001"), side="sell")
    producer = make_producer(stack)
    producer.produce(spec.name, key=symbol.encode(), value=spec.encode(tick))
    producer.flush(10)
    got = collect(stack, spec.name, keep=lambda m: m.key() == symbol.encode(),
                  until=lambda g: len(g) >= 1)
    assert spec.decode(got[0].value()) == tick
