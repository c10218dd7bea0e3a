"""PNG previews of the dashboards: every panel's query run (SQL against ClickHouse, PromQL
against a Prometheus when one is given), drawn with matplotlib in the dashboard's grid (Grafana
is not installable on our machines).

A repeated panel becomes one copy per value of its variable, laid out as Grafana lays out a
horizontal repeat: copies on rows of their own, ``max(24 / copies, width)`` wide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from dashboards import prometheus
from dashboards.boards import DASHBOARDS
from dashboards.draw import Window, draw_panel
from dashboards.model import Dashboard, Panel, PromPanel
from dashboards.sql import EPOCH, FOREVER, expand

__all__ = ["PanelData", "Window", "layout", "query_panels", "render", "render_all",
           "repeat_width"]

Read = Callable[[str], pd.DataFrame]
GRID = 24


@dataclass(frozen=True)
class PanelData:
    """One drawn panel (a repeated panel's copy each): its rows, or None and the error."""

    panel: Panel | PromPanel
    title: str
    frame: pd.DataFrame | None
    error: str = ""
    width: int = 12
    group: int | None = None  # which repeated panel this is a copy of


def repeat_width(copies: int, width: int) -> int:
    """A repeated panel's copy width, as Grafana computes it (``maxPerRow`` = 24 // width)."""
    return max(GRID // max(1, copies), GRID // max(1, GRID // width))


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _sql_panel(index: int, panel: Panel, read: Read, db: str,
               window: Window) -> list[PanelData]:
    def run(sql: str, variables: dict[str, str] | None = None) -> pd.DataFrame:
        return read(expand(sql, db, window.start, window.end, window.interval_s, variables))

    if panel.repeat is None:
        try:
            return [PanelData(panel, panel.title, run(panel.sql), width=panel.width)]
        except Exception as exc:
            return [PanelData(panel, panel.title, None, _error(exc), panel.width)]
    name = panel.repeat.variable
    try:
        values = [str(v) for v in run(panel.repeat.values_sql).iloc[:, 0]]
    except Exception as exc:
        return [PanelData(panel, panel.title, None, _error(exc), panel.width, index)]
    if not values:
        return [PanelData(panel, panel.title.replace(f"${{{name}}}", "—"), None,
                          width=GRID, group=index)]
    out = []
    width = repeat_width(len(values), panel.width)
    for value in values:
        title = panel.title.replace(f"${{{name}}}", value)
        try:
            out.append(PanelData(panel, title, run(panel.sql, {name: value}), "", width, index))
        except Exception as exc:
            out.append(PanelData(panel, title, None, _error(exc), width, index))
    return out


def _prom_window(window: Window) -> tuple[datetime, datetime]:
    """An open range is the last hour (Prometheus keeps days, not everything)."""
    end = window.end if window.end < FOREVER else window.now or datetime.now(UTC)
    start = window.start if window.start > EPOCH else end - timedelta(hours=1)
    return start, end


def query_panels(dashboard: Dashboard, read: Read | None, db: str,
                 window: Window | None = None,
                 prometheus_url: str | None = None) -> list[PanelData]:
    """Every panel's rows (a failing query is kept with its error, not raised)."""
    window = window or Window()
    out: list[PanelData] = []
    for index, panel in enumerate(dashboard.panels):
        if isinstance(panel, Panel):
            if read is None:
                raise ValueError(f"{dashboard.uid}: ClickHouse panels need a reader")
            out.extend(_sql_panel(index, panel, read, db, window))
            continue
        if prometheus_url is None:
            raise ValueError(f"{dashboard.uid}: Prometheus panels need a Prometheus URL")
        start, end = _prom_window(window)
        try:
            rows = prometheus.query_panel(prometheus_url, panel, start, end, window.interval_s)
            out.append(PanelData(panel, panel.title, rows, width=panel.width))
        except Exception as exc:
            out.append(PanelData(panel, panel.title, None, _error(exc), panel.width))
    return out


def layout(data: list[PanelData]) -> list[list[PanelData]]:
    """Grafana's grid: panels left to right in rows of 24 columns; a repeated panel's copies
    start a row and the panel after them starts another."""
    rows: list[list[PanelData]] = [[]]
    used, previous = 0, None
    for item in data:
        leaving_or_entering = item.group != previous and (item.group, previous) != (None, None)
        if used and (used + item.width > GRID or leaving_or_entering):
            rows.append([])
            used = 0
        rows[-1].append(item)
        used += item.width
        previous = item.group
    return rows


def render(dashboard: Dashboard, data: list[PanelData], out: Path,
           window: Window | None = None) -> Path:
    """One PNG of the panels in Grafana's grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    window = window or Window()
    rows = layout(data)
    height = 0.5 + 4.2 * len(rows)
    fig = plt.figure(figsize=(16, height))
    fig.suptitle(dashboard.title, fontsize=13, x=0.01, y=1 - 0.15 / height, ha="left")
    # fixed margins (matplotlib's constrained layout gives up on 24 columns of mixed spans):
    # a column gap wide enough for a panel's y tick labels, a row gap for title and time axis
    grid = fig.add_gridspec(len(rows), GRID, left=0.045, right=0.99, bottom=0.7 / height,
                            top=1 - 0.65 / height, wspace=2.0, hspace=0.22)
    for r, row in enumerate(rows):
        start = 0
        for item in row:
            ax = fig.add_subplot(grid[r, start:start + item.width])
            draw_panel(ax, item.panel, item.title, item.frame, item.error, window)
            start += item.width
    path = out / f"{dashboard.uid}.png" if out.suffix != ".png" else out
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def render_all(read: Read, db: str, out: Path, start: datetime = EPOCH,
               end: datetime = FOREVER, interval_s: int = 60,
               prometheus_url: str | None = None) -> dict[str, tuple[Path | None, int]]:
    """Every dashboard to ``out/<uid>.png``; for each, the path and how many panels failed.

    A Prometheus dashboard is skipped (path None) without ``prometheus_url``.
    """
    out.mkdir(parents=True, exist_ok=True)
    window = Window(start, end, interval_s)
    done: dict[str, tuple[Path | None, int]] = {}
    for dashboard in DASHBOARDS:
        if dashboard.source == "prometheus" and prometheus_url is None:
            done[dashboard.uid] = (None, 0)
            continue
        data = query_panels(dashboard, read, db, window, prometheus_url)
        done[dashboard.uid] = (render(dashboard, data, out, window),
                               sum(1 for d in data if d.error))
    return done
