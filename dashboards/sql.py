"""The Grafana ClickHouse plugin's macros, expanded the way the plugin does, for running panel
SQL outside Grafana (the renderer, the tests)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

__all__ = ["EPOCH", "FOREVER", "expand", "for_grafana", "quote"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FOREVER = datetime(2200, 1, 1, tzinfo=UTC)
_MACRO = re.compile(r"\$__(timeFilter|timeInterval)\(([^)]+)\)")
_VARIABLE = re.compile(r"\$\{(\w+)\}")


def _ts(value: datetime) -> str:
    return f"toDateTime64('{value.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}', 6, 'UTC')"


def quote(value: str) -> str:
    """A variable's value as it may stand inside ``'...'`` in ClickHouse SQL."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def expand(sql: str, db: str, start: datetime = EPOCH, end: datetime = FOREVER,
           interval_s: int = 60, variables: Mapping[str, str] | None = None) -> str:
    """Plain ClickHouse SQL: ``{db}`` named, the time range, bucket size and the dashboard
    variables (a repeated panel's ``${symbol}``) filled in."""

    def macro(m: re.Match[str]) -> str:
        column = m.group(2).strip()
        if m.group(1) == "timeFilter":
            return f"({column} >= {_ts(start)} AND {column} <= {_ts(end)})"
        return f"toStartOfInterval({column}, INTERVAL {int(interval_s)} second)"

    def variable(m: re.Match[str]) -> str:
        if variables is None or m.group(1) not in variables:
            raise ValueError(f"a dashboard variable without a value: {m.group(0)}")
        return quote(variables[m.group(1)])

    out = _MACRO.sub(macro, sql.replace("{db}", db))
    out = out.replace("$__interval_s", str(int(interval_s)))
    out = out.replace("$__fromTime", _ts(start)).replace("$__toTime", _ts(end))
    if "$__" in out:
        raise ValueError(f"a macro the renderer does not know: {out[out.index('$__'):][:40]}")
    return _VARIABLE.sub(variable, out)


def for_grafana(sql: str) -> str:
    """The panel's SQL as Grafana runs it: the database from the dashboard variable."""
    return sql.replace("{db}", "${database}").strip()
