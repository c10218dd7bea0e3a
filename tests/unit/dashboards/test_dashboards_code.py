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
from dashboards.model import Dashboard, Panel
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


SQL_BOARDS = [d for d in DASHBOARDS if d.source == "clickhouse"]


@pytest.mark.parametrize("dashboard", SQL_BOARDS, ids=lambda d: d.uid)
def test_every_panel_queries_the_provisioned_datasource(dashboard: Dashboard) -> None:
    board = to_grafana(dashboard)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["database"]["type"] == "constant"
    ids = [p["id"] for p in board["panels"]]
    assert len(set(ids)) == len(ids)
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24
        (target,) = panel["targets"]
        assert target["datasource"] == DATASOURCE
        assert "${database}." in target["rawSql"]
        assert not re.search(r"\{db\}", target["rawSql"])
        if "repeat" in panel:  # a query variable over the same datasource, one copy per value
            variable = variables[panel["repeat"]]
            assert variable["type"] == "query" and variable["datasource"] == DATASOURCE
            assert "${database}." in variable["query"] and variable["includeAll"]
            assert f"'${{{panel['repeat']}}}'" in target["rawSql"]
            assert panel["gridPos"]["x"] == 0 and panel["maxPerRow"] == 24 // grid["w"]
    used = {p["repeat"] for p in board["panels"] if "repeat" in p}
    assert set(variables) == {"database"} | used


def test_per_bucket_panels_are_bars_and_lines_break_across_gaps() -> None:
    panels = {p["title"]: p for d in SQL_BOARDS for p in to_grafana(d)["panels"]}
    volume = panels["Traded notional per interval"]["fieldConfig"]["defaults"]["custom"]
    assert volume["drawStyle"] == "bars" and volume["stacking"]["mode"] == "normal"
    close = panels["Close · ${candle_symbol} (1m candles)"]["fieldConfig"]["defaults"]
    assert close["custom"]["drawStyle"] == "line" and close["custom"]["insertNulls"] == 120_000
    for d in SQL_BOARDS:
        for panel in d.panels:
            if isinstance(panel, Panel) and "$__timeInterval" in panel.sql:
                assert panel.style == "bars", panel.title


def test_depth_is_one_panel_per_symbol_with_bids_and_asks_stacked() -> None:
    panels = {p["title"]: p for d in SQL_BOARDS for p in to_grafana(d)["panels"]}
    depth = panels["Resting depth · ${book_symbol}"]
    assert depth["repeat"] == "book_symbol"
    assert depth["options"]["xField"] == "price" and depth["options"]["stacking"] == "normal"
    assert "LIMIT 12 BY side" in depth["targets"][0]["rawSql"]


def test_tables_show_no_data_for_null_and_freshness_has_no_epoch_age() -> None:
    pipeline = next(d for d in SQL_BOARDS if d.uid == "strikeflow-pipeline")
    freshness = pipeline.panels[0]
    assert isinstance(freshness, Panel)
    assert "max(ts_init)" not in freshness.sql and "maxOrNull(ts_init)" in freshness.sql
    for panel in to_grafana(pipeline)["panels"]:
        assert panel["fieldConfig"]["defaults"]["noValue"] == "no data"


def test_a_repeated_panel_must_select_its_variable() -> None:
    from dashboards.model import Repeat

    with pytest.raises(ValueError, match=r"\$\{symbol\}"):
        Panel("p", "SELECT 1 AS x", "table", ("x",), repeat=Repeat("symbol", "SELECT 'a'"))
    with pytest.raises(ValueError, match="bucket"):
        Panel("p", "SELECT now() AS time, 1 AS x", "timeseries", ("time", "x"), style="bars")


def test_variables_expand_quoted_and_a_missing_one_is_an_error() -> None:
    sql = "SELECT 1 FROM {db}.t WHERE s = '${symbol}'"
    assert expand(sql, "sf", variables={"symbol": "it's"}) == \
        "SELECT 1 FROM sf.t WHERE s = 'it\\'s'"
    with pytest.raises(ValueError, match="variable"):
        expand(sql, "sf")


def test_provisioning_names_the_plugin_and_the_dashboard_folder() -> None:
    yaml = YAML(typ="safe")
    sources = yaml.load((PROVISIONING / "datasources" / "clickhouse.yaml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == DATASOURCE["type"] and source["uid"] == DATASOURCE["uid"]
    assert source["jsonData"]["protocol"] == "http"
    providers = yaml.load((PROVISIONING / "dashboards" / "strikeflow.yaml").read_text())
    assert providers["providers"][0]["type"] == "file"
