"""The alert rules and the Prometheus/Alertmanager configuration, checked by their own tools.

``promtool`` and ``amtool`` come with the Debian packages that ``infra/bootstrap.sh`` installs;
a machine without them is not set up, so these tests fail rather than skip there.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from infra import stack as infra_stack
from infra.services import PROMETHEUS_RULES, render_prometheus_conf
from infra.settings import KafkaSettings, PrometheusSettings, Settings

TEMPLATES = PROMETHEUS_RULES.parent
RULES_TEST = TEMPLATES / "prometheus-rules.test.yml"
ALERTS = ("ConsumerLagGrowing", "DeadLetterRate", "ProcessDown", "WorkerMissing",
          "LedgerImbalance", "IndexPriceStale")


def _tool(name: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists()
                                   else None)
    assert found, f"{name} not found: run `make setup` (infra/bootstrap.sh installs it)"
    return found


def _run(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def _rule_blocks() -> dict[str, str]:
    """Each alerting rule's text, by alert name (the file is plain enough to split)."""
    text = PROMETHEUS_RULES.read_text()
    parts = re.split(r"^      - alert: (\w+)\n", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_rules_are_valid() -> None:
    out = _run(_tool("promtool"), "check", "rules", str(PROMETHEUS_RULES))
    assert f"SUCCESS: {len(ALERTS)} rules found" in out


def test_each_alert_fires_and_stays_quiet_as_the_test_file_says() -> None:
    out = _run(_tool("promtool"), "test", "rules", RULES_TEST.name, cwd=TEMPLATES)
    assert "SUCCESS" in out


def test_each_alert_is_tested_both_ways() -> None:
    """Every alert has a case where it fires and one where it must not."""
    text = RULES_TEST.read_text()
    for alert in ALERTS:
        cases = re.findall(rf"alertname: {alert}\n\s+exp_alerts:(.*)\n", text)
        assert "" in cases, f"{alert}: no case where it fires"
        assert " []" in cases, f"{alert}: no case where it stays quiet"


def test_each_alert_tells_an_operator_how_bad_and_what_to_do() -> None:
    blocks = _rule_blocks()
    assert tuple(blocks) == ALERTS
    for alert, block in blocks.items():
        assert re.search(r"^\s+severity: (critical|warning)$", block, re.M), alert
        assert re.search(r"^\s+summary: ", block, re.M), alert
        assert re.search(r"^\s+description: ", block, re.M), alert
        assert re.search(r"^\s+for: \d+[sm]$", block, re.M), alert


def test_rendered_prometheus_config_is_valid(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "prometheus-rules.yml").write_text(PROMETHEUS_RULES.read_text())
    (conf / "prometheus.yml").write_text(render_prometheus_conf(settings))
    out = _run(_tool("promtool"), "check", "config", str(conf / "prometheus.yml"))
    assert "SUCCESS: 1 rule files found" in out
    text = (conf / "prometheus.yml").read_text()
    assert f'"{tmp_path}/prometheus/targets/*.json"' in text  # where infra.metrics writes
    assert '"127.0.0.1:19193"' in text  # our Alertmanager


def test_alertmanager_config_is_valid() -> None:
    out = _run(_tool("amtool"), "check-config", str(TEMPLATES / "alertmanager.yml"))
    assert "SUCCESS" in out


def test_ports_stay_clear_of_a_three_node_kafka() -> None:
    p = PrometheusSettings()
    kafka = {port for n in KafkaSettings(brokers=3).nodes for port in n[1:]}
    assert {p.port, p.alertmanager_port}.isdisjoint(kafka)
    assert p.port != p.alertmanager_port


@pytest.mark.parametrize("asked", [("prometheus",), ("prometheus", "alertmanager")])
def test_prometheus_brings_its_alertmanager_and_stops_before_it(
        tmp_path: Path, asked: tuple[str, ...]) -> None:
    settings = Settings(data_dir=tmp_path)
    assert [s.name for s in infra_stack._select(settings, asked)] == ["alertmanager",
                                                                      "prometheus"]
    waves = infra_stack._stop_waves(settings, ["alertmanager", "prometheus"])
    assert waves == [["prometheus"], ["alertmanager"]]
