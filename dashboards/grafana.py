"""Grafana dashboard JSON from the definitions in :mod:`dashboards.boards`.

ClickHouse panels query the provisioned ClickHouse datasource (``provisioning/datasources``,
the grafana-clickhouse-datasource plugin) by its uid with the panel's SQL in raw SQL mode; the
database is the dashboard's hidden ``database`` constant, and a repeated panel's variable is a
query variable over the same datasource. Prometheus panels query the provisioned Prometheus
datasource. ``grafana/*.json`` in this package is this module's output for the default
database, provisioned from ``provisioning/dashboards``; a test keeps the two identical.

The preview renderer (:mod:`dashboards.draw`) draws what these settings say: repeats, draw
styles, gaps, stacking, ``noValue``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dashboards.boards import DASHBOARDS
from dashboards.draw import NO_DATA
from dashboards.model import Dashboard, Panel, PromPanel
from dashboards.sql import for_grafana

__all__ = ["DATASOURCE", "GRAFANA_DIR", "PROMETHEUS", "export", "to_grafana"]

DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "strikeflow-clickhouse"}
PROMETHEUS = {"type": "prometheus", "uid": "strikeflow-prometheus"}
GRAFANA_DIR = Path(__file__).parent / "grafana"
_PANEL_TYPE = {"timeseries": "timeseries", "bar": "barchart", "table": "table", "stat": "stat"}
_FORMAT_TABLE, _FORMAT_TIME_SERIES = 1, 0  # the plugin's result formats
_HEIGHT = 8
_GRID = 24


def _custom(panel: Panel | PromPanel) -> dict[str, Any]:
    """How a time series is drawn (``fieldConfig.defaults.custom``)."""
    if panel.style == "bars":  # one bar per bucket, from its start, stacked per series
        return {"drawStyle": "bars", "barAlignment": 1, "fillOpacity": 80, "lineWidth": 1,
                "stacking": {"mode": "normal", "group": "A"}}
    if panel.style == "points":
        return {"drawStyle": "points", "pointSize": 5}
    gap_s = panel.gap_s if isinstance(panel, Panel) else 0
    return {"drawStyle": "line", "spanNulls": False, "showPoints": "auto",
            "insertNulls": gap_s * 1000 if gap_s else False}


def _defaults(panel: Panel | PromPanel) -> dict[str, Any]:
    out: dict[str, Any] = {"noValue": NO_DATA}
    if panel.unit:
        out["unit"] = panel.unit
    if panel.kind == "timeseries":
        out["custom"] = _custom(panel)
    return out


def _target(panel: Panel) -> dict[str, Any]:
    series = panel.kind == "timeseries"
    return {
        "refId": "A",
        "datasource": DATASOURCE,
        "editorType": "sql",
        "queryType": "timeseries" if series else "table",
        "format": _FORMAT_TIME_SERIES if series else _FORMAT_TABLE,
        "rawSql": for_grafana(panel.sql),
    }


def _panel(panel: Panel | PromPanel, pid: int, x: int, y: int) -> dict[str, Any]:
    prom = isinstance(panel, PromPanel)
    source = PROMETHEUS if prom else DATASOURCE
    out: dict[str, Any] = {
        "id": pid,
        "type": _PANEL_TYPE[panel.kind],
        "title": panel.title,
        "description": panel.description,
        "datasource": source,
        "gridPos": {"h": _HEIGHT, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": _defaults(panel), "overrides": []},
        "options": {},
    }
    if isinstance(panel, PromPanel):
        out["targets"] = [{"refId": chr(ord("A") + i), "datasource": PROMETHEUS,
                           "editorMode": "code", "range": True, "expr": q.expr,
                           "legendFormat": q.legend} for i, q in enumerate(panel.queries)]
        return out
    out["targets"] = [_target(panel)]
    if panel.kind == "bar":
        out["options"] = {"xField": (panel.labels or panel.columns)[0], "orientation": "auto",
                          "stacking": "normal" if panel.stacked else "none",
                          "xTickLabelRotation": -45, "xTickLabelSpacing": 40}
    if panel.repeat:
        out["repeat"] = panel.repeat.variable
        out["repeatDirection"] = "h"
        out["maxPerRow"] = _GRID // panel.width
    return out


def _variables(dashboard: Dashboard, database: str) -> list[dict[str, Any]]:
    if dashboard.source == "prometheus":
        return []
    out: list[dict[str, Any]] = [{
        "name": "database", "type": "constant", "hide": 2, "query": database,
        "current": {"text": database, "value": database}}]
    for panel in dashboard.panels:
        if isinstance(panel, Panel) and panel.repeat:
            sql = for_grafana(panel.repeat.values_sql)
            out.append({
                "name": panel.repeat.variable, "type": "query", "datasource": DATASOURCE,
                "query": sql, "definition": sql, "refresh": 2, "multi": True,
                "includeAll": True, "sort": 1, "hide": 0,
                "current": {"text": ["All"], "value": ["$__all"]}})
    return out


def to_grafana(dashboard: Dashboard, database: str = "strikeflow") -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    x, y, after_repeat = 0, 0, False
    for pid, panel in enumerate(dashboard.panels, start=1):
        repeated = isinstance(panel, Panel) and panel.repeat is not None
        # a repeat's copies take rows of their own (Grafana pushes what follows down)
        if x and (x + panel.width > _GRID or repeated or after_repeat):
            x, y = 0, y + _HEIGHT
        panels.append(_panel(panel, pid, x, y))
        x += panel.width
        after_repeat = repeated
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["strikeflow"],
        "timezone": "utc",
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-6h" if dashboard.source == "clickhouse" else "now-1h",
                 "to": "now"},
        "templating": {"list": _variables(dashboard, database)},
        "panels": panels,
    }


def export(out: Path = GRAFANA_DIR, database: str = "strikeflow") -> list[Path]:
    """Write one ``<uid>.json`` per dashboard into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for dashboard in DASHBOARDS:
        path = out / f"{dashboard.uid}.json"
        path.write_text(json.dumps(to_grafana(dashboard, database), indent=2) + "\n")
        written.append(path)
    return written
