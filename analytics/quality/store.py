"""Where ``analytics check`` reads and writes: through the running sink, or the store itself.

While the sink runs it owns the embedded store (one process per chDB directory) and its query
endpoint is read-only, so results then go to JSON only; otherwise they also go to
``quality_results``. Every run leaves ``<data dir>/quality/check-<time>.json``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from analytics.quality.check import Report
from analytics.quality.screen import RESULT_COLUMNS
from infra.settings import Settings

__all__ = ["Store", "open_store", "save_json", "save_results"]


class Store:
    """``read(sql) -> DataFrame``; ``client`` is set when this process owns the store."""

    def __init__(self, read: Callable[[str], pd.DataFrame], client: Any | None) -> None:
        self.read = read
        self.client = client


def _sink_running(settings: Settings) -> bool:
    if not settings.clickhouse_dsn.startswith("chdb://"):
        return False
    ch = settings.clickhouse
    try:
        return httpx.get(f"http://{ch.query_host}:{ch.query_port}/", timeout=2).status_code \
            == 200
    except httpx.HTTPError:
        return False


def parquet_reader(raw: Callable[[str], bytes]) -> Callable[[str], pd.DataFrame]:
    return lambda sql: pd.read_parquet(io.BytesIO(raw(sql)))


@contextmanager
def open_store(settings: Settings) -> Iterator[Store]:
    if _sink_running(settings):
        from analytics.query import query

        yield Store(parquet_reader(lambda sql: query(settings, sql, "Parquet")), None)
        return
    from analytics.clickhouse import open_client

    client = open_client(settings)
    try:
        yield Store(parquet_reader(lambda sql: bytes(client.raw_query(sql, fmt="Parquet"))),
                    client)
    finally:
        client.close()


def save_results(client: Any, db: str, report: Report) -> int:
    rows = report.rows()
    if rows:
        client.insert(f"{db}.quality_results", rows, column_names=list(RESULT_COLUMNS))
    return len(rows)


def save_json(data_dir: Path, report: Report) -> Path:
    out = data_dir / "quality" / f"check-{report.ts.strftime('%Y%m%dT%H%M%S%fZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.as_dict(), indent=2))
    return out
