"""PNG previews of the dashboards: every panel's SQL run against ClickHouse, drawn with
matplotlib in the dashboard's grid (Grafana is not installable on our machines)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from dashboards.boards import DASHBOARDS
from dashboards.model import Dashboard, Panel
from dashboards.sql import EPOCH, FOREVER, expand

__all__ = ["PanelData", "query_panels", "render", "render_all"]

Read = Callable[[str], pd.DataFrame]
PanelData = tuple[Panel, pd.DataFrame | None, str]  # the frame, or None and the error


def query_panels(dashboard: Dashboard, read: Read, db: str, start: datetime = EPOCH,
                 end: datetime = FOREVER, interval_s: int = 60) -> list[PanelData]:
    """Every panel's rows (a failing query is kept with its error, not raised)."""
    out: list[PanelData] = []
    for panel in dashboard.panels:
        try:
            out.append((panel, read(expand(panel.sql, db, start, end, interval_s)), ""))
        except Exception as exc:
            out.append((panel, None, f"{type(exc).__name__}: {exc}"[:300]))
    return out


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """Decimal and integer columns as floats, for drawing only."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object and values.map(lambda v: isinstance(v, Decimal)).any():
            out[column] = values.map(lambda v: float(v) if v is not None else math.nan)
        elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            out[column] = values.astype(float)
    return out


def _labels(frame: pd.DataFrame, skip: set[str]) -> list[str]:
    return [c for c in frame.columns if c not in skip
            and (frame[c].dtype == object or isinstance(frame[c].dtype, pd.StringDtype))
            and not frame[c].map(lambda v: isinstance(v, Decimal)).any()]


def _timeseries(ax: Any, frame: pd.DataFrame) -> None:
    numbers = _numeric(frame.drop(columns=["time"]))
    labels = _labels(frame, {"time"})
    for value in numbers.columns:
        if labels:
            key = frame[labels].astype(str).agg(" ".join, axis=1)
            for name, rows in frame.assign(_v=numbers[value], _k=key).groupby("_k"):
                ax.plot(rows["time"], rows["_v"], marker=".", label=f"{name} {value}")
        else:
            ax.plot(frame["time"], numbers[value], marker=".", label=value)
    ax.legend(fontsize=6, loc="best")
    ax.tick_params(axis="x", labelsize=6, rotation=20)


def _bar(ax: Any, frame: pd.DataFrame, labels: list[str]) -> None:
    numbers = _numeric(frame).drop(columns=labels, errors="ignore")
    names = frame[labels].map(_cell).agg(" ".join, axis=1)
    width = 0.8 / max(1, len(numbers.columns))
    for i, column in enumerate(numbers.columns):
        ax.bar([x + i * width for x in range(len(frame))], numbers[column], width=width,
               label=column)
    ax.set_xticks([x + width * (len(numbers.columns) - 1) / 2 for x in range(len(frame))])
    ax.set_xticklabels(names, fontsize=6, rotation=20)
    ax.legend(fontsize=6)


def _cell(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"[:16]
    if isinstance(value, (datetime, pd.Timestamp)):
        return f"{value:%m-%d %H:%M:%S}"
    return str(value)[:24]


def _table(ax: Any, frame: pd.DataFrame) -> None:
    ax.axis("off")
    shown = frame.head(12)
    cells = [[_cell(v) for v in row] for row in shown.itertuples(index=False)]
    table = ax.table(cellText=cells or [["—"] * len(frame.columns)],
                     colLabels=list(frame.columns), loc="upper center", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(6)
    if len(frame) > len(shown):
        ax.set_xlabel(f"{len(shown)} of {len(frame)} rows", fontsize=6)


def _draw(ax: Any, panel: Panel, frame: pd.DataFrame | None, error: str) -> None:
    ax.set_title(panel.title, fontsize=9, loc="left")
    if frame is None or frame.empty:
        ax.axis("off")
        ax.text(0.5, 0.5, error or "no data", ha="center", va="center", fontsize=8,
                color="firebrick" if error else "grey", wrap=True)
        return
    if panel.kind == "timeseries":
        _timeseries(ax, frame)
    elif panel.kind == "bar":
        numbers = _numeric(frame)
        _bar(ax, frame, list(panel.labels) or [c for c in frame.columns if c not in numbers]
             or [frame.columns[0]])
    else:
        _table(ax, frame)


def render(dashboard: Dashboard, data: list[PanelData], out: Path) -> Path:
    """One PNG: the panels in Grafana's 24-column grid (a 24-wide panel takes a whole row)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows: list[list[PanelData]] = [[]]
    used = 0
    for item in data:
        if used + item[0].width > 24:
            rows.append([])
            used = 0
        rows[-1].append(item)
        used += item[0].width
    fig = plt.figure(figsize=(16, 4.2 * len(rows)), layout="constrained")
    fig.suptitle(dashboard.title, fontsize=13, x=0.01, ha="left")
    grid = fig.add_gridspec(len(rows), 24)
    for r, row in enumerate(rows):
        start = 0
        for panel, frame, error in row:
            ax = fig.add_subplot(grid[r, start:start + panel.width])
            _draw(ax, panel, frame, error)
            start += panel.width
    out.parent.mkdir(parents=True, exist_ok=True)
    path = out / f"{dashboard.uid}.png" if out.suffix != ".png" else out
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def render_all(read: Read, db: str, out: Path, **window: Any) -> dict[str, tuple[Path, int]]:
    """Every dashboard to ``out/<uid>.png``; for each, the path and how many panels failed."""
    out.mkdir(parents=True, exist_ok=True)
    done = {}
    for dashboard in DASHBOARDS:
        data = query_panels(dashboard, read, db, **window)
        done[dashboard.uid] = (render(dashboard, data, out), sum(1 for d in data if d[2]))
    return done
