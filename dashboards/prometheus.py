"""A Prometheus panel's rows from Prometheus' HTTP API (``/api/v1/query_range``), in the shape
the renderer draws: ``time``, ``series`` (the legend, as Grafana's ``legendFormat`` makes it),
``value``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
import pandas as pd

from dashboards.model import PromPanel

__all__ = ["frame", "legend", "query_panel", "query_range", "ready"]

_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def legend(fmt: str, metric: dict[str, str]) -> str:
    """``{{agent}} {{reason}}`` with the series' labels; the labels themselves without a
    format (Grafana's default)."""
    if fmt:
        return _LABEL.sub(lambda m: metric.get(m.group(1), ""), fmt).strip()
    shown = ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{metric.get('__name__', '')}{{{shown}}}"


def frame(result: list[dict[str, Any]], fmt: str) -> pd.DataFrame:
    """A ``matrix`` result as long rows; Prometheus' ``NaN`` and ``±Inf`` samples dropped."""
    rows = [(pd.Timestamp(float(t), unit="s", tz="UTC"), legend(fmt, s["metric"]), float(v))
            for s in result for t, v in s["values"]]
    out = pd.DataFrame(rows, columns=["time", "series", "value"])
    finite = out["value"].abs() != float("inf")
    return out[finite & out["value"].notna()].reset_index(drop=True)


def query_range(url: str, expr: str, start: datetime, end: datetime, step_s: int,
                timeout: float = 10.0) -> list[dict[str, Any]]:
    response = httpx.get(f"{url.rstrip('/')}/api/v1/query_range", timeout=timeout, params={
        "query": expr, "start": start.timestamp(), "end": end.timestamp(), "step": step_s})
    body = response.json()
    if body.get("status") != "success":
        raise ValueError(f"{body.get('errorType')}: {body.get('error')}")
    return list(body["data"]["result"])


def query_panel(url: str, panel: PromPanel, start: datetime, end: datetime,
                step_s: int) -> pd.DataFrame:
    """Every query of the panel, one frame."""
    parts = [frame(query_range(url, q.expr, start, end, step_s), q.legend)
             for q in panel.queries]
    return pd.concat(parts, ignore_index=True).sort_values(["time", "series"],
                                                           ignore_index=True)


def ready(url: str) -> bool:
    """Whether a Prometheus answers at ``url``."""
    try:
        return httpx.get(f"{url.rstrip('/')}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
