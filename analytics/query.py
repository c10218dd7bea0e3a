"""Run analysts' SQL: through the sink's loopback endpoint while it runs, else directly."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx

from infra.settings import Settings

__all__ = ["QueryError", "Table", "parse_typed", "query", "query_rows", "query_table", "session",
           "via_running_sink"]


class QueryError(RuntimeError):
    """ClickHouse refused the query; the message is ClickHouse's."""


def _endpoint(settings: Settings) -> str:
    ch = settings.clickhouse
    return f"http://{ch.query_host}:{ch.query_port}"


def via_running_sink(settings: Settings, sql: str, fmt: str) -> bytes | None:
    """The answer from the running sink's endpoint, or None when no sink is running."""
    if not settings.clickhouse_dsn.startswith("chdb://"):
        return None  # a ClickHouse server answers anyone: no need for the sink
    try:
        analyst = settings.clickhouse.analyst
        resp = httpx.post(f"{_endpoint(settings)}/query", params={"format": fmt},
                          content=sql.encode(), timeout=120,
                          auth=(analyst.name, analyst.password.get_secret_value()))
    except httpx.ConnectError:
        return None  # no sink running: this process may open the store itself
    if resp.status_code != 200:
        raise QueryError(resp.text.strip())
    return resp.content


def _open(settings: Settings) -> Any:
    from analytics.clickhouse import open_client

    try:
        return open_client(settings, "analyst")
    except Exception as exc:  # a server that is down, a store locked by another process
        raise QueryError(f"cannot open ClickHouse ({settings.clickhouse_dsn}): {exc}") from None


def _direct(client: Any, sql: str, fmt: str) -> bytes:
    try:
        return bytes(client.raw_query(sql, fmt=fmt))
    except Exception as exc:
        raise QueryError(str(exc).strip()) from None


def query(settings: Settings, sql: str, fmt: str = "CSVWithNames") -> bytes:
    """The raw output of ``sql`` in a ClickHouse format (CSVWithNames, JSONEachRow, Parquet…)."""
    out = via_running_sink(settings, sql, fmt)
    if out is not None:
        return out
    client = _open(settings)
    try:
        return _direct(client, sql, fmt)
    finally:
        client.close()


@contextmanager
def session(settings: Settings) -> Iterator[Callable[[str], Table]]:
    """A typed query function for several queries in a row (a report): through the running
    sink if there is one, else through one client opened for the whole session."""
    if via_running_sink(settings, "SELECT 1", "TSV") is not None:
        yield lambda sql: query_table(settings, sql)
        return
    client = _open(settings)
    try:
        yield lambda sql: parse_typed(_direct(client, sql, _TYPED))
    finally:
        client.close()


def query_rows(settings: Settings, sql: str) -> list[dict[str, Any]]:
    """Rows as dicts, values typed as in :func:`query_table` (Decimal, datetime, int)."""
    table = query_table(settings, sql)
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


@dataclass(frozen=True)
class Table:
    """A query result with ClickHouse's column types, values converted to exact Python types."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]


_TYPED = "JSONCompactEachRowWithNamesAndTypes"


def query_table(settings: Settings, sql: str) -> Table:
    return parse_typed(query(settings, sql, _TYPED))


def parse_typed(raw: bytes) -> Table:
    """Parse ``JSONCompactEachRowWithNamesAndTypes``: decimals become :class:`Decimal` (JSON
    numbers are read as Decimal, never float), DateTime64 a UTC datetime, Date a date."""
    lines = [line for line in raw.decode().splitlines() if line]
    if not lines:
        return Table([], [], [])
    columns, types = json.loads(lines[0]), json.loads(lines[1])
    convert = [_converter(t) for t in types]
    rows = []
    for line in lines[2:]:
        values = json.loads(line, parse_float=Decimal)
        rows.append(tuple(None if v is None else f(v)
                          for f, v in zip(convert, values, strict=True)))
    return Table(columns, types, rows)


def _converter(ch_type: str) -> Any:
    inner = ch_type
    for wrapper in ("Nullable(", "LowCardinality("):
        while inner.startswith(wrapper):
            inner = inner[len(wrapper):-1]
    if inner.startswith("Decimal"):
        return lambda v: Decimal(str(v))
    if inner.startswith("DateTime"):
        return _datetime
    if inner.startswith("Date"):
        return date.fromisoformat
    if inner.startswith(("UInt", "Int")):
        return int
    if inner.startswith("Float"):
        return float  # only where ClickHouse itself computed a float (never money)
    return lambda v: v


def _datetime(v: str) -> datetime:
    return datetime.fromisoformat(v).replace(tzinfo=UTC)
