"""The sink and the query path take any clickhouse-connect DSN; an http:// ClickHouse that is
down is *unavailable* (retry with backoff), never a reason to dead-letter rows."""

from __future__ import annotations

import socket

import pytest

from analytics.clickhouse import open_client
from analytics.query import QueryError, query
from infra.settings import ClickHouseSettings, Settings
from sinks.clickhouse import _is_unavailable


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens here once the socket is closed


def _http_settings() -> Settings:
    return Settings(clickhouse=ClickHouseSettings(
        dsn=f"http://127.0.0.1:{_closed_port()}/?connect_timeout=2"))


def test_an_unreachable_http_clickhouse_is_unavailable_not_bad_data() -> None:
    settings = _http_settings()
    assert settings.clickhouse_dsn.startswith("http://")
    with pytest.raises(Exception) as caught:
        open_client(settings)
    assert _is_unavailable(caught.value)


def test_queries_against_an_http_dsn_go_to_that_server() -> None:
    # no sink endpoint is consulted for a server DSN: the clear error names the server
    settings = _http_settings()
    with pytest.raises(QueryError, match="cannot open ClickHouse") as caught:
        query(settings, "SELECT 1")
    assert settings.clickhouse_dsn in str(caught.value)
