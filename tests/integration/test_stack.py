"""Each real service answers as the platform needs it to."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from elasticsearch import Elasticsearch

from infra import stack as infra_stack
from infra.settings import Settings
from tests.conftest import wait_for


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.connect
@pytest.mark.elasticsearch
def test_status_reports_every_service_healthy(stack: Settings) -> None:
    rows = {row.name: row for row in infra_stack.status(stack)}
    assert set(rows) == {"postgres", "kafka", "elasticsearch", "connect", "clickhouse",
                         "prometheus", "alertmanager", "redis"}
    for row in rows.values():
        assert row.health.ok, f"{row.name}: {row.health.detail}"
    for name in ("postgres", "kafka", "elasticsearch", "connect", "prometheus", "alertmanager",
                 "redis"):
        assert rows[name].state == "RUNNING" and rows[name].pid
        assert rows[name].address.replace("http://", "").startswith("127.0.0.1:")


@pytest.mark.postgres
def test_postgres_accepts_a_logical_replication_slot(stack: Settings) -> None:
    pg = stack.postgres
    slot = f"test_slot_{uuid.uuid4().hex[:8]}"
    dsn = f"host={pg.host} port={pg.port} dbname={pg.database} user={pg.superuser}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SHOW wal_level").fetchone() == ("logical",)
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
        try:
            row = conn.execute("SELECT plugin, slot_type FROM pg_replication_slots "
                               "WHERE slot_name = %s", (slot,)).fetchone()
            assert row == ("pgoutput", "logical")
        finally:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))


@pytest.mark.connect
def test_kafka_connect_lists_the_debezium_postgres_plugin(stack: Settings) -> None:
    plugins = httpx.get(f"{stack.connect.url}/connector-plugins", timeout=10).json()
    wanted = "io.debezium.connector.postgresql.PostgresConnector"
    debezium = [p for p in plugins if p["class"] == wanted]
    assert debezium and debezium[0]["type"] == "source"
    assert debezium[0]["version"].startswith("3.")


@pytest.mark.elasticsearch
def test_elasticsearch_indexes_and_finds_a_document(stack: Settings) -> None:
    es = Elasticsearch(stack.elasticsearch.url)
    assert es.info()["version"]["number"] == "7.10.2"
    index = f"test-{uuid.uuid4().hex[:8]}"
    try:
        es.index(index=index, id="order-1", refresh=True,
                 document={"account": "acc-7", "status": "filled", "note": "BTC call bought"})
        hits = es.search(index=index, query={"match": {"note": "call"}})["hits"]["hits"]
        assert [h["_id"] for h in hits] == ["order-1"]
        assert hits[0]["_source"]["account"] == "acc-7"
    finally:
        es.indices.delete(index=index)


@pytest.mark.clickhouse
def test_chdb_through_clickhouse_connect_runs_a_merge_tree(tmp_path: Path) -> None:
    from decimal import Decimal

    import clickhouse_connect

    client = clickhouse_connect.get_client(dsn=f"chdb://{tmp_path / 'ch'}")
    try:
        client.command("CREATE DATABASE IF NOT EXISTS t")
        client.command("""CREATE TABLE t.trades (trade_id String, price Decimal(38, 18),
                          ts DateTime64(6, 'UTC')) ENGINE = MergeTree ORDER BY trade_id""")
        from datetime import UTC, datetime
        ts = datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)
        client.insert("t.trades", [["a", Decimal("91000.123456789012345678"), ts],
                                   ["b", Decimal("1.5"), ts]],
                      column_names=["trade_id", "price", "ts"])
        rows = client.query("SELECT trade_id, price, ts FROM t.trades ORDER BY trade_id")
        assert rows.result_rows[0][1] == Decimal("91000.123456789012345678")
        assert rows.result_rows[0][2].microsecond == 123456
        engine = client.query("SELECT engine FROM system.tables WHERE database = 't' "
                              "AND name = 'trades'").result_rows
        assert engine == [("MergeTree",)]
    finally:
        client.close()


def test_shutdown_kills_what_a_stopped_program_left_in_its_group(tmp_path: Path) -> None:
    """supervisord calls a program stopped once its main process exits; a child that ignored
    the stop signal would live on. ``infra down`` must not leave it. Needs no service."""
    import psutil

    from infra.services import Health, Service
    from infra.supervisor import Supervisor

    straggler = Service(
        "straggler", lambda _s: "-",
        lambda _s: ["sh", "-c", "(trap '' TERM; exec sleep 301) & exec sleep 300"],
        lambda _s: Health(True, "-"), stop_timeout_s=2)
    sup = Supervisor(Settings(data_dir=tmp_path))
    sup.ensure_running((straggler,))
    try:
        sup.rpc().startProcess("straggler", True)
        leader = sup.info("straggler")["pid"]
        child = wait_for(lambda: [p for p in psutil.Process(leader).children()], 5,
                         "the child started")[0]
        sup.stop_together(["straggler"], 10)
        assert child.is_running() and child.status() != psutil.STATUS_ZOMBIE
    finally:
        sup.shutdown()
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
