"""A dashboard as data: panels, each with its query written once.

ClickHouse panels (:class:`Panel`) use the Grafana ClickHouse plugin's macros
(``$__timeFilter(col)``, ``$__timeInterval(col)``, ``$__interval_s``) and ``{db}`` for the
database. Grafana gets it with ``{db}`` as the dashboard's ``${database}`` variable
(:mod:`dashboards.grafana`); the renderer and the tests expand the macros themselves
(:func:`dashboards.sql.expand`) and run the very same text against ClickHouse.

A panel whose series differ by orders of magnitude (BTC at 90 000, ETH at 3 000) is not drawn on
one axis: it ``repeat``s, one copy per value of a dashboard variable, as Grafana repeats panels.
Prometheus panels (:class:`PromPanel`) hold PromQL; a dashboard holds one kind or the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Dashboard", "Panel", "PromPanel", "PromQuery", "Repeat"]

Kind = Literal["timeseries", "bar", "table", "stat"]
# how a time series is drawn: a line (broken where points are further apart than ``gap_s``),
# stacked bars (one per ``$__timeInterval`` bucket: nothing drawn across an empty bucket), points
Style = Literal["line", "bars", "points"]


@dataclass(frozen=True)
class Repeat:
    """One copy of the panel per value of a dashboard variable (Grafana's panel repeat).

    ``values_sql`` returns the values (one text column); the panel's SQL selects one with
    ``'${<variable>}'``.
    """

    variable: str
    values_sql: str


@dataclass(frozen=True)
class Panel:
    title: str
    sql: str
    kind: Kind
    columns: tuple[str, ...]  # what the SQL returns, in order (a test holds it to that)
    unit: str = ""
    description: str = ""
    width: int = 12  # of Grafana's 24 columns; a repeated panel's copies are each this wide
    labels: tuple[str, ...] = ()  # a bar chart's category columns (default: the text ones)
    style: Style = "line"
    gap_s: int = 0  # a line is broken where two points are further apart (0: never)
    stacked: bool = False  # a bar chart's values stacked (e.g. bids and asks at one price)
    repeat: Repeat | None = None

    def __post_init__(self) -> None:
        if self.kind == "timeseries" and self.columns[0] != "time":
            raise ValueError(f"{self.title}: a time series starts with a 'time' column")
        if self.style == "bars" and "$__timeInterval" not in self.sql:
            raise ValueError(f"{self.title}: bars are one per $__timeInterval bucket")
        if self.repeat and f"${{{self.repeat.variable}}}" not in self.sql:
            raise ValueError(f"{self.title}: a repeated panel selects ${{"
                             f"{self.repeat.variable}}}")


@dataclass(frozen=True)
class PromQuery:
    expr: str  # PromQL
    legend: str  # Grafana's legendFormat: ``{{label}}`` replaced by the series' label


@dataclass(frozen=True)
class PromPanel:
    title: str
    queries: tuple[PromQuery, ...]
    unit: str = ""
    description: str = ""
    width: int = 12
    kind: Literal["timeseries"] = "timeseries"
    style: Style = "line"

    def __post_init__(self) -> None:
        if not self.queries or not all(q.expr.strip() for q in self.queries):
            raise ValueError(f"{self.title}: a panel needs a query")


AnyPanel = Panel | PromPanel


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[AnyPanel, ...]

    @property
    def source(self) -> Literal["clickhouse", "prometheus"]:
        """Which datasource every panel queries (one per dashboard)."""
        kinds = {type(p) for p in self.panels}
        if len(kinds) != 1:
            raise ValueError(f"{self.uid}: ClickHouse and Prometheus panels mixed")
        return "prometheus" if kinds == {PromPanel} else "clickhouse"
