"""orders.events, trades, settlement.results, risk.alerts → Elasticsearch, through the real
Kafka and the real Elasticsearch (each test with its own topics and indices)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from infra.settings import Settings
from sinks.search_index.indices import KINDS, IndexNames, open_client
from tests.integration.sinks.es_support import (
    EsTestEnv,
    es_env,
    fill,
    order_event,
    risk_alert,
    settlement,
    trade,
)

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch]


@pytest.fixture
def env(stack: Settings) -> Iterator[EsTestEnv]:
    with es_env(stack) as e:
        yield e


def test_every_index_gets_its_documents_and_a_replay_adds_nothing(env: EsTestEnv) -> None:
    # Out of order on purpose: the fill (seq 4) arrives before the partial fill (seq 3).
    env.send("orders.events", [order_event("accepted", 1), fill(4, "1.5", "0"),
                               fill(3, "0.5", "1.5")], key="BTC-USDT")
    env.send("trades", [trade(2), trade(5)], key="BTC-USDT")
    env.send("settlement.results", [
        settlement("opt-1", "hedging"),
        settlement("opt-1", "booked", seconds=1, premium=Decimal("125.000000000000000001"))])
    env.send("risk.alerts", [risk_alert(1)])
    first = env.run()
    assert first.counts["dead_letters"] == 0

    order = env.docs("orders")["BTC-USDT#1"]
    assert (order["status"], order["leaves_qty"], order["qty"], order["price"]) == \
        ("filled", "0", "2", "43250.5")
    assert (order["last_fill_qty"], order["seq"], order["created_at"]) == \
        ("1.5", 4, "2026-11-23T09:00:01.000000Z")
    assert set(env.docs("trades")) == {"BTC-USDT:2", "BTC-USDT:5"}
    audit = env.docs("audit")
    assert set(audit) == {"BTC-USDT:1", "BTC-USDT:3", "BTC-USDT:4", "settlement:opt-1:hedging",
                          "settlement:opt-1:booked", "risk:acc-2:margin_call:1"}
    assert audit["settlement:opt-1:booked"]["payload"]["premium"] == "125.000000000000000001"
    notes = env.docs("notifications")
    assert {i: n["category"] for i, n in notes.items()} == {
        "BTC-USDT:3": "fill", "BTC-USDT:4": "fill", "settlement:opt-1:booked": "settlement",
        "risk:acc-2:margin_call:1": "risk"}
    version = env.client.get(index=env.names["orders"], id="BTC-USDT#1")["_version"]

    replay = env.run()  # a new group reads every topic again
    assert replay.counts["messages"] == first.counts["messages"] == 8
    assert replay.counts["written"] == 0
    assert replay.counts["unchanged"] == first.counts["written"] + first.counts["unchanged"]
    assert env.client.get(index=env.names["orders"], id="BTC-USDT#1")["_version"] == version
    for kind, n in (("orders", 1), ("trades", 2), ("audit", 6), ("notifications", 4)):
        assert env.client.count(index=env.names[kind])["count"] == n, kind


def test_an_older_order_event_never_overwrites_a_newer_one(env: EsTestEnv) -> None:
    group = "test-es-older-" + env.names.prefix
    env.send("orders.events", [order_event("accepted", 10, order="ETH-USDT#9",
                                           symbol="ETH-USDT"),
                               order_event("cancelled", 20, order="ETH-USDT#9",
                                           symbol="ETH-USDT", leaves_qty=Decimal("2"))],
             key="ETH-USDT")
    env.run(group)
    # Late and replayed: an amend and a partial fill from before the cancel.
    env.send("orders.events", [
        order_event("amended", 15, order="ETH-USDT#9", symbol="ETH-USDT",
                    price=Decimal("3000"), qty=Decimal("3"), leaves_qty=Decimal("3")),
        fill(12, "0.25", "1.75", order="ETH-USDT#9", symbol="ETH-USDT", price="3100")],
        key="ETH-USDT")
    late = env.run(group)
    assert late.counts["messages"] == 2

    order = env.docs("orders")["ETH-USDT#9"]
    assert order["status"] == "cancelled" and order["leaves_qty"] == "2"  # seq 20 stands
    assert order["price"] == "3000" and order["qty"] == "3"  # the amend (15) beat the accept
    assert order["last_fill_price"] == "3100"  # a field no newer event set
    assert order["updated_at"] == "2026-11-23T09:00:20.000000Z" and order["seq"] == 20
    assert set(env.docs("audit")) == {"ETH-USDT:10", "ETH-USDT:12", "ETH-USDT:15",
                                      "ETH-USDT:20"}


def test_bad_payloads_are_dead_lettered_and_the_rest_written(env: EsTestEnv) -> None:
    env.send("orders.events", [
        order_event("accepted", 1, order="BTC-USDT#5"),
        b"not json at all",
        b'{"event_id": "x", "kind": "exploded"}',
        # Valid by contract, refused by the mapping (reason_code is an integer field):
        order_event("rejected", 2, order=None, reason_code=10**12, reason="ODD: huge code"),
        fill(3, "2", "0", order="BTC-USDT#5"),
    ], key="BTC-USDT")
    sink = env.run()
    assert sink.counts["dead_letters"] == 4

    assert env.docs("orders")["BTC-USDT#5"]["status"] == "filled"
    assert set(env.docs("audit")) == {"BTC-USDT:1", "BTC-USDT:3"}
    dead = env.docs("dead-letters")
    by_reason = sorted((d["reason"], d.get("target", "")) for d in dead.values())
    assert by_reason == [("invalid", ""), ("invalid", ""),
                         ("refused", env.names["audit"]), ("refused", env.names["orders"])]
    topic = env.topics["orders.events"]
    assert {d["source_topic"] for d in dead.values()} == {topic}
    invalid = [d for d in dead.values() if d["payload"] == "not json at all"]
    assert len(invalid) == 1 and "Invalid JSON" in invalid[0]["error"]
    refused = [d for d in dead.values() if d["reason"] == "refused"]
    assert all("reason_code" in d["error"] for d in refused)
    # The rejection's notification has no integer field: it was written.
    assert env.docs("notifications")["BTC-USDT:2"]["category"] == "rejection"

    again = env.run()  # a replay dead-letters the same messages under the same ids
    assert again.counts["written"] == 0
    assert env.client.count(index=env.names["dead-letters"])["count"] == 4


def test_the_sink_process_sets_up_its_indices_and_stops_on_sigterm(stack: Settings) -> None:
    """`strikeflow sink elasticsearch` as the demo runs it (reading the real topics into
    indices of this test's own)."""
    from streams.worker_process import ElasticsearchSinkProcess

    prefix = f"test-es-proc-{uuid.uuid4().hex[:6]}-"
    env = {"STRIKEFLOW_ELASTICSEARCH__INDEX_PREFIX": prefix,
           "STRIKEFLOW_ELASTICSEARCH__GROUP_ID": f"test-es-{uuid.uuid4().hex[:8]}"}
    proc = ElasticsearchSinkProcess(stack, env=env)
    client = open_client(stack)
    try:
        proc.start(timeout_s=120)
        names = IndexNames(prefix)
        assert all(client.indices.exists(index=names[k]) for k in KINDS)
        assert client.indices.get_index_template(name=names["orders"])
        proc.stop()
        assert proc.proc is not None and proc.proc.returncode == 0
        assert b"elasticsearch sink stopped" in proc.log.read_bytes()
    finally:
        proc.kill()
        client.indices.delete(index=f"{prefix}*", ignore=[404])
        for kind in KINDS:
            client.indices.delete_index_template(name=f"{prefix}{kind}", ignore=[404])
        client.delete_script(id=f"{prefix}order-upsert", ignore=[404])
        client.close()
