"""Prometheus and Alertmanager as ``infra up`` runs them, watching a real process.

A private pair on free ports and its own data dir (not the session's stack). A small Python
process registers itself with :func:`infra.metrics.serve` exactly as a worker or sink does;
Prometheus must find it through the target file, scrape its series, see it go down when it is
SIGKILLed (its target file stays behind), and, with the real rules and their real ``for:``,
raise ProcessDown to Alertmanager.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from infra import stack as infra_stack
from infra.metrics import targets_dir
from infra.settings import PrometheusSettings, Settings
from infra.supervisor import Supervisor
from tests.conftest import wait_for

pytestmark = pytest.mark.prometheus

PROBE = "probe-1"
# Registers like any StrikeFlow process, counts 7 events, then idles until killed.
_PROBE_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from infra.metrics import AGENT_EVENTS, serve
    port = serve(Path(sys.argv[1]), sys.argv[2])
    AGENT_EVENTS.labels(agent="probe").inc(7)
    print(port, flush=True)
    while True:
        time.sleep(1)
""")


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def _processes_of(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(str(data_dir) in part for part in (proc.info["cmdline"] or [])):
            found.append(proc)
    return found


@pytest.fixture(scope="module")
def monitoring(settings: Settings, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Settings]:
    data_dir = tmp_path_factory.mktemp("prometheus")
    prom_port, am_port = _free_ports(2)
    ours = settings.model_copy(update={
        "data_dir": data_dir,
        # 2 s scrapes keep the test short; the rules and their `for:` are the real ones.
        "prometheus": PrometheusSettings(port=prom_port, alertmanager_port=am_port,
                                         scrape_interval="2s"),
    })
    try:
        assert infra_stack.up(ours, ("prometheus",)) == ["alertmanager", "prometheus"]
        yield ours
    finally:
        try:
            infra_stack.down(ours)
        finally:
            leftovers = _processes_of(data_dir)
            for proc in leftovers:
                proc.kill()
            shutil.rmtree(data_dir, ignore_errors=True)
        assert not leftovers, f"left behind: {[p.pid for p in leftovers]}"


def _query(settings: Settings, promql: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{settings.prometheus.url}/api/v1/query", params={"query": promql},
                     timeout=5)
    resp.raise_for_status()
    return resp.json()["data"]["result"]


def _value(settings: Settings, promql: str) -> float | None:
    result = _query(settings, promql)
    return float(result[0]["value"][1]) if result else None


def _prometheus_alerts(settings: Settings, name: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{settings.prometheus.url}/api/v1/alerts", timeout=5)
    return [a for a in resp.json()["data"]["alerts"] if a["labels"]["alertname"] == name]


def _alertmanager_alerts(settings: Settings, name: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{settings.prometheus.alertmanager_url}/api/v2/alerts",
                     params={"filter": f'alertname="{name}"'}, timeout=5)
    return resp.json()


def test_status_lists_both_healthy(monitoring: Settings) -> None:
    rows = {r.name: r for r in infra_stack.status(monitoring)}
    for name in ("alertmanager", "prometheus"):
        row = rows[name]
        assert row.state in ("RUNNING", "STARTING") and row.pid, name
        print(f"{name}: pid {row.pid}, RSS {row.rss_mb:.0f} MB")
    wait_for(lambda: all(r.health.ok for r in infra_stack.status(monitoring)
                         if r.name in ("alertmanager", "prometheus")), 15, "both healthy")
    assert Supervisor(monitoring).log_path("prometheus").exists()
    # Prometheus and Alertmanager are scraped too.
    wait_for(lambda: _value(monitoring, 'sum(up{job=~"prometheus|alertmanager"})') == 2, 20,
             "Prometheus scraping itself and Alertmanager")


def test_a_registered_process_is_scraped_and_a_killed_one_raises_process_down(
        monitoring: Settings) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    probe = subprocess.Popen([sys.executable, "-c", _PROBE_SCRIPT, str(monitoring.data_dir),
                              PROBE], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert probe.stdout is not None
        port = int(probe.stdout.readline())
        target = targets_dir(monitoring.data_dir) / f"{PROBE}.json"
        assert target.exists()

        # Discovered through the target file and scraped, with its series labelled.
        wait_for(lambda: _value(monitoring, f'up{{process="{PROBE}"}}') == 1, 30,
                 f"{PROBE} discovered and up")
        events = f'strikeflow_agent_events_total{{process="{PROBE}", agent="probe"}}'
        assert wait_for(lambda: _value(monitoring, events), 10, "the counter scraped") == 7
        [up] = _query(monitoring, f'up{{process="{PROBE}"}}')
        assert up["metric"]["instance"] == f"127.0.0.1:{port}"
        assert up["metric"]["pid"] == str(probe.pid) and up["metric"]["job"] == "strikeflow"
        # No worker registered beside it: WorkerMissing starts its minute.
        wait_for(lambda: _prometheus_alerts(monitoring, "WorkerMissing"), 15,
                 "WorkerMissing pending while only a non-worker process runs")

        probe.send_signal(signal.SIGKILL)
        probe.wait(timeout=10)
        assert target.exists()  # a killed process cannot unregister
        wait_for(lambda: _value(monitoring, f'up{{process="{PROBE}"}}') == 0, 20,
                 f"{PROBE} seen down")

        # The real rule: up == 0 for 30 s, then firing, then sent to Alertmanager.
        pending = wait_for(lambda: _prometheus_alerts(monitoring, "ProcessDown"), 15,
                           "ProcessDown pending")
        assert pending[0]["labels"]["process"] == PROBE
        assert pending[0]["labels"]["severity"] == "critical"
        wait_for(lambda: any(a["state"] == "firing"
                             for a in _prometheus_alerts(monitoring, "ProcessDown")), 60,
                 "ProcessDown firing after its 30 s")
        received = wait_for(lambda: _alertmanager_alerts(monitoring, "ProcessDown"), 20,
                            "ProcessDown received by Alertmanager")
        assert received[0]["labels"]["process"] == PROBE
        assert received[0]["status"]["state"] == "active"
        assert PROBE in received[0]["annotations"]["summary"]
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait(timeout=10)
