"""The platform-health board: Prometheus panels over the series infra.metrics defines, its
Grafana JSON and provisioning, and how a Prometheus answer becomes the renderer's rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from dashboards.boards.health import HEALTH
from dashboards.grafana import PROMETHEUS, to_grafana
from dashboards.model import PromPanel
from dashboards.prometheus import frame, legend
from dashboards.render import render_all
from infra import metrics

PROVISIONING = Path(__file__).parents[3] / "dashboards" / "provisioning"


def _series_names() -> set[str]:
    """Every series name infra.metrics exposes (counters as ``_total``, histograms'
    ``_bucket``) plus Prometheus' own ``up``."""
    names = {"up"}
    for name in metrics.__all__:
        metric = getattr(metrics, name)
        kind = getattr(metric, "_type", None)
        if kind is None:
            continue
        base = metric._name
        names |= {f"{base}_total"} if kind == "counter" else set()
        names |= {f"{base}_bucket", f"{base}_sum", f"{base}_count"} if kind == "histogram" \
            else set()
        names |= {base} if kind == "gauge" else set()
    return names


def test_the_health_board_is_all_prometheus() -> None:
    assert HEALTH.source == "prometheus"
    board = to_grafana(HEALTH)
    assert board["templating"]["list"] == []  # no ClickHouse database variable
    for panel in board["panels"]:
        assert panel["datasource"] == PROMETHEUS
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == PROMETHEUS
            assert target["expr"].strip() and target["legendFormat"].strip()
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24


def test_every_query_uses_only_series_infra_metrics_defines() -> None:
    known = _series_names()
    functions = {"sum", "by", "rate", "increase", "histogram_quantile", "max", "time", "le"}
    for panel in HEALTH.panels:
        assert isinstance(panel, PromPanel)
        for query in panel.queries:
            words = set(re.findall(r"\b[a-z_]+\b", re.sub(r"by \([a-z_, ]+\)", "by", query.expr)))
            series = {w for w in words if w.startswith("strikeflow_") or w == "up"}
            assert series and series <= known, (panel.title, series - known)
            assert not words - functions - series - {"m"}, (panel.title, words)


def test_the_board_covers_what_the_issue_asks_for() -> None:
    exprs = " ".join(q.expr for p in HEALTH.panels if isinstance(p, PromPanel)
                     for q in p.queries)
    for needle in ("rate(strikeflow_agent_events_total",
                   "histogram_quantile(0.99, sum by (agent, le) "
                   "(rate(strikeflow_agent_batch_seconds_bucket",
                   "sum by (topic, reason) (increase(strikeflow_dead_letters_total",
                   "strikeflow_rebalances_total", "strikeflow_sink_rows_total",
                   "strikeflow_sink_quarantined_total", "sum by (group) (strikeflow_consumer_lag)",
                   "sum by (asset) (strikeflow_ledger_imbalance)",
                   "time() - max by (underlying) (strikeflow_index_price_timestamp_seconds)",
                   "(up)"):
        assert needle in exprs, needle


def test_prometheus_is_provisioned_under_the_uid_the_board_uses() -> None:
    yaml = YAML(typ="safe")
    sources = yaml.load((PROVISIONING / "datasources" / "prometheus.yaml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == PROMETHEUS["type"] and source["uid"] == PROMETHEUS["uid"]
    assert "19190" in source["url"]  # infra.settings' Prometheus port


def test_a_matrix_becomes_rows_named_by_the_legend() -> None:
    result = [{"metric": {"agent": "ticks", "reason": "invalid"},
               "values": [[1764750000, "0.5"], [1764750060, "NaN"], [1764750120, "+Inf"]]},
              {"metric": {"agent": "books", "reason": "wrong_key"},
               "values": [[1764750000, "2"]]}]
    rows = frame(result, "{{agent}} {{reason}}")
    assert rows["series"].tolist() == ["ticks invalid", "books wrong_key"]
    assert rows["value"].tolist() == [0.5, 2.0]
    assert str(rows["time"].dt.tz) == "UTC"
    assert legend("", {"__name__": "up", "job": "x"}) == 'up{job="x"}'


def test_the_health_board_is_skipped_without_a_prometheus(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Prometheus URL"):
        from dashboards.render import query_panels

        query_panels(HEALTH, None, "sf")
    done = render_all(lambda sql: (_ for _ in ()).throw(RuntimeError(sql)), "sf", tmp_path)
    assert done["strikeflow-health"] == (None, 0)
    assert not (tmp_path / "strikeflow-health.png").exists()
