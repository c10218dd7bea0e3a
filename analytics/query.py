"""Run analysts' SQL: through the sink's loopback endpoint while it runs, else directly."""

from __future__ import annotations

from typing import Any

import httpx

from infra.settings import Settings

__all__ = ["QueryError", "query", "query_rows"]


class QueryError(RuntimeError):
    """ClickHouse refused the query; the message is ClickHouse's."""


def _endpoint(settings: Settings) -> str:
    ch = settings.clickhouse
    return f"http://{ch.query_host}:{ch.query_port}"


def query(settings: Settings, sql: str, fmt: str = "CSVWithNames") -> bytes:
    """The raw output of ``sql`` in a ClickHouse format (CSVWithNames, JSONEachRow, Parquet…)."""
    if settings.clickhouse_dsn.startswith("chdb://"):
        try:
            resp = httpx.post(f"{_endpoint(settings)}/query", params={"format": fmt},
                              content=sql.encode(), timeout=120)
        except httpx.ConnectError:
            pass  # no sink running: this process may open the store itself
        else:
            if resp.status_code != 200:
                raise QueryError(resp.text.strip())
            return resp.content
    from sinks.clickhouse import open_client

    client = open_client(settings)
    try:
        return bytes(client.raw_query(sql, fmt=fmt))
    except Exception as exc:
        raise QueryError(str(exc).strip()) from None
    finally:
        client.close()


def query_rows(settings: Settings, sql: str) -> list[dict[str, Any]]:
    import json

    out = query(settings, sql, "JSONEachRow").decode()
    return [json.loads(line) for line in out.splitlines() if line]
