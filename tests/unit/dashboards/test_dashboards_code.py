"""Dashboards as code without a database: macros, the Grafana JSON and its provisioning."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from dashboards.boards import DASHBOARDS
from dashboards.grafana import DATASOURCE, GRAFANA_DIR, to_grafana
from dashboards.model import Panel
from dashboards.sql import expand, for_grafana

PROVISIONING = Path(__file__).parents[3] / "dashboards" / "provisioning"


def test_macros_expand_to_plain_clickhouse_sql() -> None:
    sql = ("SELECT $__timeInterval(ts) AS time, count() / $__interval_s AS rate "
           "FROM {db}.trades WHERE $__timeFilter(ts)")
    out = expand(sql, "sf", datetime(2026, 1, 1, tzinfo=UTC),
                 datetime(2026, 1, 2, tzinfo=UTC), 30)
    assert out == (
        "SELECT toStartOfInterval(ts, INTERVAL 30 second) AS time, count() / 30 AS rate "
        "FROM sf.trades WHERE (ts >= toDateTime64('2026-01-01 00:00:00.000000', 6, 'UTC') "
        "AND ts <= toDateTime64('2026-01-02 00:00:00.000000', 6, 'UTC'))")
    assert for_grafana(sql).endswith("FROM ${database}.trades WHERE $__timeFilter(ts)")
    with pytest.raises(ValueError, match="macro"):
        expand("SELECT $__timeFilter_ms(ts)", "sf")


def test_a_time_series_panel_must_start_with_time() -> None:
    with pytest.raises(ValueError, match="'time' column"):
        Panel("bad", "SELECT 1", "timeseries", ("value",))


def test_the_provisioned_json_is_what_the_definitions_generate() -> None:
    files = sorted(p.name for p in GRAFANA_DIR.glob("*.json"))
    assert files == sorted(f"{d.uid}.json" for d in DASHBOARDS)
    for dashboard in DASHBOARDS:
        stored = json.loads((GRAFANA_DIR / f"{dashboard.uid}.json").read_text())
        assert stored == to_grafana(dashboard), "stale: strikeflow dashboards export"


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.uid)
def test_every_panel_queries_the_provisioned_datasource(dashboard: object) -> None:
    board = to_grafana(dashboard)  # type: ignore[arg-type]
    assert [v["name"] for v in board["templating"]["list"]] == ["database"]
    ids = [p["id"] for p in board["panels"]]
    assert len(set(ids)) == len(ids)
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24
        (target,) = panel["targets"]
        assert target["datasource"] == DATASOURCE
        assert "${database}." in target["rawSql"]
        assert not re.search(r"\{db\}", target["rawSql"])


def test_provisioning_names_the_plugin_and_the_dashboard_folder() -> None:
    yaml = YAML(typ="safe")
    sources = yaml.load((PROVISIONING / "datasources" / "clickhouse.yaml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == DATASOURCE["type"] and source["uid"] == DATASOURCE["uid"]
    assert source["jsonData"]["protocol"] == "http"
    providers = yaml.load((PROVISIONING / "dashboards" / "strikeflow.yaml").read_text())
    assert providers["providers"][0]["type"] == "file"
