"""The ops commands against the real broker: lag, dead-letter replay (once per source offset),
guarded offset resets, the exporter's gauges and the health table."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import TopicPartition
from prometheus_client import REGISTRY

from infra.settings import Settings
from streams.kafka import end_offsets, make_consumer, make_producer, read_since
from strikeflow.ops import deadletters, exporter, health, kafka_admin
from topics.catalogue import by_name
from topics.contracts import DeadLetter

pytestmark = pytest.mark.kafka

DLQ = by_name("md.alerts.commands.dlq")


def _commit(settings: Settings, group: str, topic: str, offsets: dict[int, int]) -> None:
    consumer = make_consumer(settings, group)
    try:
        consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
                        asynchronous=False)
    finally:
        consumer.close()


def test_lag_is_the_distance_from_the_committed_offset_to_the_end(stack: Settings) -> None:
    topic, group = "md.feed.status", f"test-ops-lag-{uuid.uuid4().hex[:8]}"
    producer = make_producer(stack)
    for i in range(6):
        producer.produce(topic, key=f"OPS-{i}".encode(), value=b"{}")
    assert producer.flush(30) == 0
    assert kafka_admin.consumer_lag(stack, []) == []  # no group asked: nothing measured
    _commit(stack, group, topic, {0: 0, 1: 0, 2: 0})
    rows = kafka_admin.consumer_lag(stack, [group])
    assert {(r.topic, r.partition) for r in rows} == {(topic, 0), (topic, 1), (topic, 2)}
    assert all(r.lag == r.end - r.committed == r.end for r in rows)
    assert sum(r.lag for r in rows) >= 6

    exporter.refresh(stack)  # the gauge Prometheus scrapes
    total = sum(REGISTRY.get_sample_value(
        "strikeflow_consumer_lag", {"group": group, "topic": topic, "partition": str(p)}) or 0
        for p in range(3))
    assert total == sum(r.lag for r in rows)


def test_reset_offsets_is_refused_while_the_group_reads(stack: Settings) -> None:
    topic, group = "md.feed.status", f"test-ops-reset-{uuid.uuid4().hex[:8]}"
    _commit(stack, group, topic, {0: 0, 1: 0, 2: 0})
    moves = kafka_admin.plan_reset(stack, group, topic, "latest")
    assert [m.current for m in moves] == [0, 0, 0]
    ends = {r.partition: r.end for r in kafka_admin.consumer_lag(stack, [group])}
    assert {m.partition: m.target for m in moves} == ends

    member = make_consumer(stack, group)
    member.subscribe([topic])
    try:
        for _ in range(50):  # join the group
            member.poll(0.2)
            if kafka_admin.group_states(stack, [group])[0].members:
                break
        with pytest.raises(kafka_admin.ResetRefused):
            kafka_admin.reset_offsets(stack, group, moves)
    finally:
        member.close()
    kafka_admin.reset_offsets(stack, group, moves)
    assert all(r.lag == 0 for r in kafka_admin.consumer_lag(stack, [group]))


def test_a_dead_letter_is_replayed_once_per_source_offset(stack: Settings) -> None:
    run = uuid.uuid4().hex[:8]
    source = "md.alerts.commands"
    base = int(uuid.uuid4().int % 10**12)  # source offsets no earlier run replayed
    letters = [DeadLetter(source_topic=source, source_partition=0, source_offset=base + i,
                          key="BTC", payload=f'{{"ops-test": "{run}-{i}"}}',
                          reason="ops_test", error=f"run {run}") for i in range(2)]
    producer = make_producer(stack)
    for d in letters:
        producer.produce(DLQ.name, key=b"BTC", value=DLQ.encode(d))
    assert producer.flush(30) == 0

    listed = [x for x in deadletters.list_letters(stack, [DLQ.name], reason="ops_test")
              if x.letter.error == f"run {run}"]
    assert [x.letter.source_offset for x in listed] == [base, base + 1]
    shown = deadletters.find(stack, DLQ.name, listed[0].partition, listed[0].offset)
    assert shown is not None and shown.letter == listed[0].letter

    dry = deadletters.replay(stack, listed, dry_run=True)
    assert len(dry.replayed) == 2 and not dry.already
    before = end_offsets(stack, source)
    report = deadletters.replay(stack, listed + listed[:1])  # the same letter twice: once
    assert len(report.replayed) == 2
    again = deadletters.replay(stack, listed)
    assert not again.replayed and len(again.already) == 2

    published = [m for m in read_since(stack, source, before)
                 if dict(m.headers() or []).get(deadletters.REPLAY_HEADER)]
    ours = [m for m in published if run.encode() in m.value()]
    assert sorted(m.value() for m in ours) == sorted(d.payload.encode() for d in letters)
    assert all(m.key() == b"BTC" for m in ours)
    assert {x.source_ref for x in listed} <= deadletters.replayed_refs(stack)


def test_health_lists_services_and_groups(stack: Settings) -> None:
    group = f"test-ops-health-{uuid.uuid4().hex[:8]}"
    _commit(stack, group, "md.feed.status", {0: 0})
    rows = health.health_rows(stack)
    kafka = [r for r in rows if r.kind == "service" and r.name.startswith("kafka")]
    assert kafka and all(r.ok for r in kafka)
    mine = [r for r in rows if r.kind == "group" and r.name == group]
    assert len(mine) == 1 and mine[0].detail.startswith("EMPTY")


def test_idle_groups_of_a_finished_run_are_deleted(stack: Settings) -> None:
    prefix = f"test-ops-done-{uuid.uuid4().hex[:8]}"
    for suffix in ("", "-elasticsearch"):
        _commit(stack, prefix + suffix, "md.feed.status", {0: 0})
    member = make_consumer(stack, prefix + "-busy")
    member.subscribe(["md.feed.status"])
    try:
        for _ in range(50):
            member.poll(0.2)
            states = kafka_admin.group_states(stack, [prefix + "-busy"])
            if states and states[0].members:
                break
        assert kafka_admin.delete_groups(stack, prefix) == [prefix, prefix + "-elasticsearch"]
        left = {r.group for r in kafka_admin.consumer_lag(stack)}
        assert prefix not in left and prefix + "-elasticsearch" not in left
        assert kafka_admin.group_states(stack, [prefix + "-busy"])[0].members == 1
    finally:
        member.close()
