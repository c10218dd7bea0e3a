"""A dashboard as data: panels, each with its SQL written once.

The SQL uses the Grafana ClickHouse plugin's macros (``$__timeFilter(col)``,
``$__timeInterval(col)``, ``$__interval_s``) and ``{db}`` for the database. Grafana gets it with
``{db}`` as the dashboard's ``${database}`` variable (:mod:`dashboards.grafana`); the renderer
and the tests expand the macros themselves (:func:`dashboards.sql.expand`) and run the very same
text against ClickHouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Dashboard", "Panel"]

Kind = Literal["timeseries", "bar", "table", "stat"]


@dataclass(frozen=True)
class Panel:
    title: str
    sql: str
    kind: Kind
    columns: tuple[str, ...]  # what the SQL returns, in order (a test holds it to that)
    unit: str = ""
    description: str = ""
    width: int = 12  # of Grafana's 24 columns
    labels: tuple[str, ...] = ()  # a bar chart's category columns (default: the text ones)

    def __post_init__(self) -> None:
        if self.kind == "timeseries" and self.columns[0] != "time":
            raise ValueError(f"{self.title}: a time series starts with a 'time' column")


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
