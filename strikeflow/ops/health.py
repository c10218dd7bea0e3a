"""``strikeflow ops health``: every service, process and consumer group in one table.

Rows come from three places: the supervised services (``infra status``), the processes that
registered their metrics endpoint (workers, sinks, the exporter: alive if ``/metrics`` answers)
and Kafka's consumer groups (state, members, total lag). Firing alerts are listed when
Prometheus is up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx

from infra import stack
from infra.metrics import targets_dir
from infra.settings import Settings
from strikeflow.ops.kafka_admin import consumer_lag, group_states

__all__ = ["HealthRow", "firing_alerts", "health_rows"]


@dataclass(frozen=True, slots=True)
class HealthRow:
    kind: str  # service | process | group
    name: str
    ok: bool
    detail: str
    lag: int | None = None


def _service_rows(settings: Settings) -> list[HealthRow]:
    return [HealthRow("service", s.name, s.health.ok, f"{s.state} {s.health.detail}".strip())
            for s in stack.status(settings)]


def _process_rows(settings: Settings) -> list[HealthRow]:
    rows = []
    for path in sorted(targets_dir(settings.data_dir).glob("*.json")):
        try:
            entry = json.loads(path.read_text())[0]
        except (ValueError, IndexError, OSError):
            continue
        target = entry["targets"][0]
        try:
            ok = httpx.get(f"http://{target}/metrics", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            ok = False
        rows.append(HealthRow("process", entry["labels"]["process"], ok,
                              f"{target} pid {entry['labels'].get('pid', '?')}"
                              + ("" if ok else " (not answering: crashed?)")))
    return rows


def _group_rows(settings: Settings) -> list[HealthRow]:
    lag: dict[str, int] = {}
    for row in consumer_lag(settings):
        lag[row.group] = lag.get(row.group, 0) + row.lag
    rows = []
    for g in group_states(settings):
        # EMPTY with lag: nobody is reading what is waiting
        ok = g.state == "STABLE" or (g.state == "EMPTY" and lag.get(g.group, 0) == 0)
        members = f"{g.members} members" + (f" ({', '.join(g.instances)})"
                                            if g.instances else "")
        rows.append(HealthRow("group", g.group, ok, f"{g.state}, {members}",
                              lag.get(g.group, 0)))
    return rows


def health_rows(settings: Settings) -> list[HealthRow]:
    rows = _service_rows(settings) + _process_rows(settings)
    kafka_up = any(r.ok for r in rows if r.kind == "service" and r.name.startswith("kafka"))
    if kafka_up:
        rows += _group_rows(settings)
    return rows


def firing_alerts(settings: Settings) -> list[dict] | None:
    """Prometheus' alerts (pending and firing), or None when Prometheus is not running."""
    try:
        resp = httpx.get(f"{settings.prometheus.url}/api/v1/alerts", timeout=2.0)
        return list(resp.json()["data"]["alerts"])
    except (httpx.HTTPError, ValueError, KeyError):
        return None
