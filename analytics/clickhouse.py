"""The one way to open ClickHouse: embedded chDB (``chdb:///path``) or a server over HTTP.

Analytics owns the store (its migrations, queries and quality checks); the sink writes into it
through the same client.
"""

from __future__ import annotations

from typing import Any

from infra.settings import Settings

__all__ = ["open_client"]


def open_client(settings: Settings) -> Any:
    import clickhouse_connect

    return clickhouse_connect.get_client(dsn=settings.clickhouse_dsn)
