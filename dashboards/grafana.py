"""Grafana dashboard JSON from the definitions in :mod:`dashboards.boards`.

Every panel queries the provisioned ClickHouse datasource (``provisioning/datasources``, the
grafana-clickhouse-datasource plugin) by its uid with the panel's SQL in raw SQL mode; the
database is the dashboard's hidden ``database`` constant. ``grafana/*.json`` in this package is
this module's output for the default database, provisioned from ``provisioning/dashboards``;
a test keeps the two identical.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dashboards.boards import DASHBOARDS
from dashboards.model import Dashboard, Panel
from dashboards.sql import for_grafana

__all__ = ["DATASOURCE", "GRAFANA_DIR", "export", "to_grafana"]

DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "strikeflow-clickhouse"}
GRAFANA_DIR = Path(__file__).parent / "grafana"
_PANEL_TYPE = {"timeseries": "timeseries", "bar": "barchart", "table": "table", "stat": "stat"}
_FORMAT_TABLE, _FORMAT_TIME_SERIES = 1, 0  # the plugin's result formats
_HEIGHT = 8


def _panel(panel: Panel, pid: int, x: int, y: int) -> dict[str, Any]:
    series = panel.kind == "timeseries"
    out: dict[str, Any] = {
        "id": pid,
        "type": _PANEL_TYPE[panel.kind],
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": _HEIGHT, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": panel.unit} if panel.unit else {},
                        "overrides": []},
        "options": {},
        "targets": [{
            "refId": "A",
            "datasource": DATASOURCE,
            "editorType": "sql",
            "queryType": "timeseries" if series else "table",
            "format": _FORMAT_TIME_SERIES if series else _FORMAT_TABLE,
            "rawSql": for_grafana(panel.sql),
        }],
    }
    if panel.kind == "bar":
        out["options"] = {"xField": (panel.labels or panel.columns)[0], "orientation": "auto"}
    return out


def to_grafana(dashboard: Dashboard, database: str = "strikeflow") -> dict[str, Any]:
    panels, x, y = [], 0, 0
    for pid, panel in enumerate(dashboard.panels, start=1):
        if x + panel.width > 24:
            x, y = 0, y + _HEIGHT
        panels.append(_panel(panel, pid, x, y))
        x += panel.width
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
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{
            "name": "database", "type": "constant", "hide": 2, "query": database,
            "current": {"text": database, "value": database}}]},
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
