"""Elasticsearch stopped under a running sink: it pauses, stays in its group, commits
nothing, and writes everything exactly once when the cluster is back.

Stops and restarts ONLY Elasticsearch (through the stack's supervisor), always restarting it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from confluent_kafka import ConsumerGroupState, TopicPartition
from confluent_kafka.admin import AdminClient

from infra import stack as infra_stack
from infra.settings import Settings
from infra.supervisor import Supervisor
from streams.kafka import make_consumer
from tests.conftest import wait_for
from tests.integration.sinks.es_support import (
    EsTestEnv,
    es_env,
    fill,
    order_event,
    risk_alert,
    trade,
    wait_healthy_es,
)

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch]


@pytest.fixture
def env(stack: Settings) -> Iterator[EsTestEnv]:
    with es_env(stack) as e:
        yield e


def _committed(env: EsTestEnv, group: str) -> int:
    consumer = make_consumer(env.settings, group)
    try:
        parts = [TopicPartition(t, p) for t in env.topics.values() for p in range(3)]
        return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))
    finally:
        consumer.close()


def _member(admin: AdminClient, group: str) -> str | None:
    desc = admin.describe_consumer_groups([group])[group].result(10)
    if desc.state != ConsumerGroupState.STABLE or len(desc.members) != 1:
        return None
    return desc.members[0].member_id


def _audit_ids(env: EsTestEnv) -> list[str]:
    try:
        env.refresh()
        resp = env.client.search(index=env.names["audit"], size=1000, _source=False)
    except Exception:  # still recovering
        return []
    return [h["_id"] for h in resp["hits"]["hits"]]


def test_elasticsearch_down_delays_documents_but_loses_and_doubles_none(env: EsTestEnv) -> None:
    group = f"test-es-outage-{uuid.uuid4().hex[:8]}"
    before = [order_event("accepted", 1, order="BTC-USDT#1")]
    during = ([fill(seq, "0.1", str(Decimal("2") - Decimal("0.1") * (seq - 1)))
               for seq in range(2, 12)])
    env.send("orders.events", before, key="BTC-USDT")
    sink = env.sink(group)
    sink.prepare()
    runner = threading.Thread(target=sink.run, kwargs={"max_seconds": 500})
    runner.start()
    try:
        wait_for(lambda: _audit_ids(env) == ["BTC-USDT:1"], 60, "the first event written")
        wait_for(lambda: _committed(env, group) == 1, 30, "the first batch committed")
        member = wait_for(lambda: _member(env.admin, group), 30, "the sink in its group")

        infra_stack.stop(env.settings, ("elasticsearch",))
        try:
            env.send("orders.events", during, key="BTC-USDT")
            env.send("trades", [trade(100)], key="BTC-USDT")
            env.send("risk.alerts", [risk_alert(7)])
            wait_for(lambda: sink.counts["retries"] >= 4, 120, "the sink backing off")
            assert _committed(env, group) == 1  # nothing committed while down
            assert _member(env.admin, group) == member  # still in the group, same member
            assert runner.is_alive()
        finally:
            Supervisor(env.settings).rpc().startProcess("elasticsearch", False)
            wait_healthy_es(env.settings)

        expected = {"BTC-USDT:1", "risk:acc-2:margin_call:7",
                    *(f"BTC-USDT:{seq}" for seq in range(2, 12))}
        wait_for(lambda: set(_audit_ids(env)) == expected, 180, "every event written")
        wait_for(lambda: _committed(env, group) == 1 + len(during) + 2, 60, "all committed")
        assert _member(env.admin, group) == member  # it never left the group
    finally:
        sink.stop_event.set()
        runner.join(60)
    assert not runner.is_alive()
    assert sorted(_audit_ids(env)) == sorted(expected)  # once each
    order = env.docs("orders")["BTC-USDT#1"]
    assert (order["status"], order["leaves_qty"], order["seq"]) == ("partially_filled", "1.0", 11)
    assert set(env.docs("trades")) == {"BTC-USDT:100"}
    assert sink.counts["dead_letters"] == 0
