"""One panel drawn with matplotlib the way Grafana draws it, so the preview reads the same.

What Grafana does and matplotlib does not by default, done here:

* the time axis spans the dashboard's time range, or the data; never matplotlib's ±2 years
  around a single point, never out to a bad timestamp (epoch 0, the far future);
* a line is broken where points are further apart than the panel's ``gap_s`` (Grafana's
  ``insertNulls``); per-bucket counts are stacked bars, so nothing is drawn across an empty
  bucket;
* a bar chart with many categories shows a readable subset of its labels;
* a table's NULL cell reads "no data" (the panel's ``noValue``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from dashboards.model import Panel, PromPanel, Style
from dashboards.sql import EPOCH, FOREVER

__all__ = ["MAX_TICK_LABELS", "NO_DATA", "Window", "cell", "draw_panel", "series",
           "thin_labels", "time_limits", "with_gaps"]

NO_DATA = "no data"
MAX_TICK_LABELS = 16  # a bar chart's category labels shown at most (every k-th beyond)
_MIN_SPAN_BUCKETS = 10  # a time axis is at least this many buckets wide
_BAD_BEFORE = EPOCH + timedelta(days=1)  # a timestamp at 0 (a missing value) is not a time


@dataclass(frozen=True)
class Window:
    """The dashboard's time range and bucket (Grafana's ``$__from``, ``$__to``, interval);
    ``EPOCH`` / ``FOREVER`` when a side is open (the preview then follows the data)."""

    start: datetime = EPOCH
    end: datetime = FOREVER
    interval_s: int = 60
    now: datetime | None = None  # for tests; the wall clock otherwise

    def plausible(self, times: pd.Series) -> pd.Series:
        """Which timestamps may be drawn: inside the range, not 0, not after tomorrow."""
        now = self.now or datetime.now(UTC)
        upper = self.end if self.end < FOREVER else now + timedelta(days=1)
        t = _utc(times)
        return (t > pd.Timestamp(max(self.start, _BAD_BEFORE))) & (t <= pd.Timestamp(upper))


def _utc(times: pd.Series) -> pd.Series:
    t = pd.to_datetime(times)
    return t.dt.tz_localize("UTC") if t.dt.tz is None else t.dt.tz_convert("UTC")


def time_limits(times: pd.Series, window: Window,
                extra_s: int = 0) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The x range of a time-series panel: each side from the dashboard's range when given,
    else from the (plausible) data, at least ``_MIN_SPAN_BUCKETS`` buckets wide and centred
    on the data; ``extra_s`` past the last point (a bar's width)."""
    t = _utc(times)
    valid = t[window.plausible(t)]
    if valid.empty:
        return None
    lo = pd.Timestamp(window.start) if window.start > EPOCH else valid.min()
    hi = (pd.Timestamp(window.end) if window.end < FOREVER
          else valid.max() + pd.Timedelta(seconds=extra_s))
    least = pd.Timedelta(seconds=_MIN_SPAN_BUCKETS * window.interval_s)
    if hi - lo < least:
        middle = lo + (hi - lo) / 2
        lo = lo if window.start > EPOCH else middle - least / 2
        hi = hi if window.end < FOREVER else middle + least / 2
    pad = (hi - lo) * 0.02
    return (lo if window.start > EPOCH else lo - pad), (hi if window.end < FOREVER else hi + pad)


def with_gaps(frame: pd.DataFrame, gap_s: int) -> pd.DataFrame:
    """``frame`` (``time`` then values, sorted) with a NaN row wherever two points are more
    than ``gap_s`` apart, so a line is not drawn across missing data."""
    if gap_s <= 0 or len(frame) < 2:
        return frame
    times = _utc(frame["time"])
    gaps = times.diff() > pd.Timedelta(seconds=gap_s)
    if not gaps.any():
        return frame
    holes = frame[gaps.to_numpy()].copy()
    holes["time"] = times[gaps] - pd.Timedelta(seconds=gap_s / 2)
    for column in holes.columns.drop("time"):
        holes[column] = math.nan
    out = pd.concat([frame.assign(time=times), holes]).sort_values("time", kind="stable")
    return out.reset_index(drop=True)


def _number_or_null(value: Any) -> bool:
    return value is None or isinstance(value, Decimal)


def numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """Decimal and integer columns as floats, for drawing only (a Decimal column that is all
    NULL, a ``sumIf`` of nothing, too: it is still a series)."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object and values.map(_number_or_null).all() \
                and values.map(lambda v: isinstance(v, Decimal) or v is None).any():
            out[column] = values.map(lambda v: float(v) if v is not None else math.nan)
        elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            out[column] = values.astype(float)
    return out


def _text_columns(frame: pd.DataFrame, skip: set[str]) -> list[str]:
    return [c for c in frame.columns if c not in skip
            and (frame[c].dtype == object or isinstance(frame[c].dtype, pd.StringDtype))
            and not frame[c].map(lambda v: isinstance(v, Decimal)).any()]


def series(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """A long frame (``time``, text labels, values) as named series of ``time``, ``value``:
    one per label combination and value column, as Grafana's long-to-wide does."""
    numbers = numeric(frame.drop(columns=["time"]))
    labels = [c for c in _text_columns(frame, {"time"}) if c not in numbers.columns]
    out: dict[str, pd.DataFrame] = {}
    for value in numbers.columns:
        suffix = f" {value}" if len(numbers.columns) > 1 or not labels else ""
        if not labels:
            out[value] = pd.DataFrame({"time": frame["time"], "value": numbers[value]})
            continue
        key = frame[labels].astype(str).agg(" ".join, axis=1)
        for name, rows in frame.assign(_v=numbers[value], _k=key).groupby("_k", sort=True):
            out[f"{name}{suffix}"] = pd.DataFrame({"time": rows["time"], "value": rows["_v"]})
    return out


def _timeseries(ax: Any, frame: pd.DataFrame, style: Style, gap_s: int,
                window: Window) -> None:
    ok = window.plausible(frame["time"])
    dropped = int((~ok).sum())
    frame = frame[ok.to_numpy()].assign(time=_utc(frame["time"][ok]))
    named = series(frame)
    if style == "bars":  # stacked, one bar per bucket, starting at the bucket
        table = pd.concat({n: s.set_index("time")["value"] for n, s in named.items()},
                          axis=1).fillna(0.0).sort_index()
        width = timedelta(seconds=window.interval_s * 0.9)
        bottom = pd.Series(0.0, index=table.index)
        for name in table.columns:
            ax.bar(table.index, table[name], width=width, bottom=bottom, align="edge",
                   label=name)
            bottom = bottom + table[name]
    else:
        for name, s in named.items():
            s = s.sort_values("time")
            if style == "points":
                ax.plot(s["time"], s["value"], linestyle="none", marker="o", markersize=3,
                        label=name)
            else:
                s = with_gaps(s, gap_s)
                ax.plot(s["time"], s["value"], marker="." if len(s) < 60 else None,
                        label=name)
    limits = time_limits(frame["time"], window,
                         extra_s=window.interval_s if style == "bars" else 0)
    if limits:
        ax.set_xlim(*limits)
    if dropped:
        ax.text(0.01, 0.98, f"{dropped} point(s) with a bad timestamp not drawn",
                transform=ax.transAxes, fontsize=6, color="firebrick", va="top")
    if len(named) > 1:  # one series is named by the panel's title
        ax.legend(fontsize=6, loc="upper left")
    # Grafana's time axis: short horizontal labels (HH:MM, the date once), none past the edge
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=UTC))
    ax.tick_params(axis="x", labelsize=6)
    ax.xaxis.get_offset_text().set_fontsize(6)


def thin_labels(names: list[str], most: int = MAX_TICK_LABELS) -> list[str]:
    """Every k-th label kept (the others blank) so that at most ``most`` are shown."""
    step = max(1, math.ceil(len(names) / most))
    return [n if i % step == 0 else "" for i, n in enumerate(names)]


def _bar(ax: Any, frame: pd.DataFrame, labels: list[str], stacked: bool) -> None:
    numbers = numeric(frame).drop(columns=labels, errors="ignore")
    names = frame[labels].map(cell).agg(" ".join, axis=1).tolist()
    xs = list(range(len(frame)))
    if stacked:
        bottom = [0.0] * len(frame)
        for column in numbers.columns:
            values = numbers[column].fillna(0.0).tolist()
            ax.bar(xs, values, width=0.8, bottom=bottom, label=column)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ticks = [float(x) for x in xs]
    else:
        width = 0.8 / max(1, len(numbers.columns))
        for i, column in enumerate(numbers.columns):
            ax.bar([x + i * width for x in xs], numbers[column], width=width, label=column)
        ticks = [x + width * (len(numbers.columns) - 1) / 2 for x in xs]
    ax.set_xticks(ticks)
    many = len(names) > 8
    ax.set_xticklabels(thin_labels(names), fontsize=6, rotation=45 if many else 20,
                       ha="right" if many else "center")
    ax.legend(fontsize=6)


def cell(value: Any) -> str:
    """A table cell as text; NULL (None, NaN, NaT) is "no data", as Grafana's ``noValue``."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return NO_DATA
    if isinstance(value, Decimal):
        return NO_DATA if value.is_nan() else f"{value.normalize():f}"[:16]
    if isinstance(value, (datetime, pd.Timestamp)):
        return f"{value:%m-%d %H:%M:%S}"
    return str(value)[:24]


def _table(ax: Any, frame: pd.DataFrame) -> None:
    ax.axis("off")
    shown = frame.head(12)
    cells = [[cell(v) for v in row] for row in shown.itertuples(index=False)]
    table = ax.table(cellText=cells or [["—"] * len(frame.columns)],
                     colLabels=list(frame.columns), loc="upper center", cellLoc="left")
    table.set_in_layout(False)  # drawn inside the axes: not a decoration to make room for
    table.auto_set_font_size(False)
    table.set_fontsize(6)
    if len(frame) > len(shown):
        ax.set_xlabel(f"{len(shown)} of {len(frame)} rows", fontsize=6)


def draw_panel(ax: Any, panel: Panel | PromPanel, title: str, frame: pd.DataFrame | None,
               error: str, window: Window) -> None:
    """One panel into ``ax``: its rows, or why there are none."""
    ax.set_title(title, fontsize=9, loc="left")
    ax.tick_params(axis="y", labelsize=7)
    if frame is None or frame.empty:
        ax.axis("off")
        ax.text(0.5, 0.5, error or NO_DATA, ha="center", va="center", fontsize=8,
                color="firebrick" if error else "grey", wrap=True)
        return
    if panel.kind == "timeseries":
        # Prometheus returns a point per step while a series exists: a missed step is a gap
        gap = panel.gap_s if isinstance(panel, Panel) else 2 * window.interval_s
        _timeseries(ax, frame, panel.style, gap, window)
    elif isinstance(panel, Panel) and panel.kind == "bar":
        labels = list(panel.labels) or [c for c in frame.columns if c not in numeric(frame)]
        _bar(ax, frame, labels or [frame.columns[0]], panel.stacked)
    else:
        _table(ax, frame)
