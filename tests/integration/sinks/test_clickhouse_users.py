"""The ClickHouse HTTP front's users: nobody in without a password; the analyst only reads;
the writer writes where the front takes writes (``analytics serve``), never through the sink's."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import httpx
import pytest

from analytics.clickhouse import open_client
from infra.settings import Settings
from sinks.query_server import QueryServer, front_users
from sinks.runner import serve_store

pytestmark = pytest.mark.clickhouse

ANALYST = ("analyst", "analyst-dev")
WRITER = ("writer", "writer-dev")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """``analytics serve`` over a store of this module's own (writes allowed)."""
    tmp: Path = tmp_path_factory.mktemp("users")
    settings = Settings(data_dir=tmp)
    settings = settings.model_copy(update={"clickhouse": settings.clickhouse.model_copy(
        update={"dsn": f"chdb://{tmp / 'clickhouse'}", "query_port": _free_port()})})
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=serve_store, args=(settings,),
                              kwargs={"stop": stop, "ready": ready}, daemon=True)
    thread.start()
    assert ready.wait(120), "the store was not served"
    yield settings
    stop.set()
    thread.join(30)


def _url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.clickhouse.query_port}"


def _sql(settings: Settings, sql: str, **kw: object) -> httpx.Response:
    return httpx.post(f"{_url(settings)}/", content=sql.encode(), timeout=30, **kw)  # type: ignore[arg-type]


def test_no_user_or_a_wrong_password_is_refused_as_clickhouse_does(served: Settings) -> None:
    assert httpx.get(f"{_url(served)}/ping", timeout=5).status_code == 200  # health: open
    for kw in ({}, {"auth": ("analyst", "wrong")}, {"auth": ("nobody", "analyst-dev")},
               {"headers": {"X-ClickHouse-User": "writer", "X-ClickHouse-Key": "x"}}):
        resp = _sql(served, "SELECT 1", **kw)
        assert resp.status_code == 401, kw
        assert resp.headers["X-ClickHouse-Exception-Code"] == "516"
        assert "AUTHENTICATION_FAILED" in resp.text
    short = httpx.post(f"{_url(served)}/query", content=b"SELECT 1", timeout=10)
    assert short.status_code == 401


def test_the_analyst_reads_and_the_writer_writes(served: Settings) -> None:
    assert _sql(served, "CREATE TABLE IF NOT EXISTS default.t (x UInt8) ENGINE = Memory",
                auth=WRITER).status_code == 200
    assert _sql(served, "INSERT INTO default.t SELECT 7", auth=WRITER).status_code == 200
    for kw in ({"auth": ANALYST}, {"params": {"user": "analyst", "password": "analyst-dev"}},
               {"headers": {"X-ClickHouse-User": "analyst", "X-ClickHouse-Key": "analyst-dev"}}):
        resp = _sql(served, "SELECT sum(x) FROM default.t", **kw)
        assert resp.status_code == 200 and resp.text.strip() == "7", kw
    refused = _sql(served, "INSERT INTO default.t SELECT 8", auth=ANALYST)
    assert refused.status_code == 403
    assert _sql(served, "DROP TABLE default.t", auth=ANALYST).status_code == 403
    assert _sql(served, "SELECT sum(x) FROM default.t", auth=ANALYST).text.strip() == "7"


def test_clickhouse_connect_logs_in_per_role(served: Settings) -> None:
    http = served.model_copy(update={"clickhouse": served.clickhouse.model_copy(
        update={"dsn": _url(served)})})
    writer = open_client(http)
    try:
        writer.command("CREATE TABLE IF NOT EXISTS default.u (x UInt8) ENGINE = Memory")
        writer.insert("default.u", [[1], [2]], column_names=["x"])
    finally:
        writer.close()
    analyst = open_client(http, "analyst")
    try:
        assert analyst.query("SELECT sum(x) FROM default.u").result_rows == [(3,)]
        with pytest.raises(Exception, match="read-only"):
            analyst.insert("default.u", [[3]], column_names=["x"])
    finally:
        analyst.close()
    with pytest.raises(Exception, match=r"516|Authentication"):
        clickhouse_connect.get_client(dsn=_url(served))  # no user: refused at connect


def test_the_sink_front_is_read_only_for_the_writer_too(served: Settings) -> None:
    port = _free_port()
    client = open_client(served.model_copy(update={"clickhouse": served.clickhouse.model_copy(
        update={"dsn": f"http://127.0.0.1:{served.clickhouse.query_port}"})}))
    server = QueryServer(client, threading.Lock(), "127.0.0.1", port,
                         front_users(served.clickhouse))  # read_only, as the sink runs it
    server.start()
    try:
        url = f"http://127.0.0.1:{port}/"
        assert httpx.post(url, content=b"SELECT 1", auth=WRITER, timeout=10).status_code == 200
        assert httpx.post(url, content=b"CREATE TABLE default.v (x UInt8) ENGINE = Memory",
                          auth=WRITER, timeout=10).status_code == 403
    finally:
        server.stop()
        client.close()
