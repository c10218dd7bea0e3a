"""Apply or roll back the numbered ClickHouse migrations in ``analytics/migrations``."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any

from analytics import migrations

__all__ = ["Migration", "applied", "discover", "migrate", "rollback"]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: list[str]
    down: list[str]


def discover() -> list[Migration]:
    found = []
    for info in pkgutil.iter_modules(migrations.__path__):
        if not info.name.startswith("m") or not info.name[1:5].isdigit():
            continue
        module = importlib.import_module(f"{migrations.__name__}.{info.name}")
        found.append(Migration(int(info.name[1:5]), info.name[6:], module.UP, module.DOWN))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number: {versions}")
    return found


def _ensure_ledger(client: Any, db: str) -> None:
    client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    client.command(f"""CREATE TABLE IF NOT EXISTS {db}.schema_migrations
        (version UInt32, name String, applied_at DateTime64(6, 'UTC') DEFAULT now64(6))
        ENGINE = ReplacingMergeTree ORDER BY version""")


def applied(client: Any, db: str) -> set[int]:
    _ensure_ledger(client, db)
    rows = client.query(f"SELECT version FROM {db}.schema_migrations FINAL").result_rows
    return {int(r[0]) for r in rows}


def migrate(client: Any, db: str) -> list[str]:
    """Apply every migration not yet applied, in order; return their names."""
    done = applied(client, db)
    ran = []
    for m in discover():
        if m.version in done:
            continue
        for statement in m.up:
            client.command(statement.format(db=db))
        client.insert(f"{db}.schema_migrations", [[m.version, m.name]],
                      column_names=["version", "name"])
        ran.append(f"{m.version:04d}_{m.name}")
    return ran


def rollback(client: Any, db: str, to_version: int) -> list[str]:
    """Undo migrations above ``to_version``, newest first."""
    done = applied(client, db)
    undone = []
    for m in reversed(discover()):
        if m.version <= to_version or m.version not in done:
            continue
        for statement in m.down:
            client.command(statement.format(db=db))
        client.command(f"DELETE FROM {db}.schema_migrations WHERE version = {m.version}")
        undone.append(f"{m.version:04d}_{m.name}")
    return undone
