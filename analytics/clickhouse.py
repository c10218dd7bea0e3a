"""The one way to open ClickHouse: embedded chDB (``chdb:///path``) or a server over HTTP.

Analytics owns the store (its migrations, queries and quality checks); the sink writes into it
through the same client.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from infra.settings import Settings

__all__ = ["open_client"]


def open_client(settings: Settings, role: Literal["writer", "analyst"] = "writer") -> Any:
    """A client of the store; over HTTP as ``role`` unless the DSN names its own user."""
    import clickhouse_connect

    dsn = settings.clickhouse_dsn
    if dsn.startswith("chdb://") or urlsplit(dsn).username:
        return clickhouse_connect.get_client(dsn=dsn)
    user = settings.clickhouse.analyst if role == "analyst" else settings.clickhouse.writer
    return clickhouse_connect.get_client(dsn=dsn, username=user.name,
                                         password=user.password.get_secret_value())
