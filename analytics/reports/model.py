"""A report: titled sections of rows, values kept as exact Python types until rendered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from analytics.query import Table

__all__ = ["Fetch", "Report", "Section", "fmt", "quote"]

Fetch = Callable[[str], Table]


@dataclass(frozen=True)
class Section:
    title: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    note: str = ""

    @classmethod
    def of(cls, title: str, table: Table, note: str = "") -> Section:
        return cls(title, list(table.columns), list(table.rows), note)


@dataclass(frozen=True)
class Report:
    name: str  # file stem: daily-2026-11-23
    title: str
    subtitle: str
    summary: list[tuple[str, Any]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)


def fmt(value: Any) -> str:
    """Text of a value: decimals exact without trailing zeros, timestamps to the microsecond."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "") else text
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def quote(text: str) -> str:
    """A ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
