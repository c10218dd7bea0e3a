"""Rich renderings of the ops state, shared by ``strikeflow ops health`` and the main job."""

from __future__ import annotations

from typing import Any

import httpx
from rich.console import Group
from rich.table import Table

from infra.settings import Settings
from strikeflow.ops.health import firing_alerts, health_rows

__all__ = ["health_view", "prometheus_view"]


def health_view(settings: Settings, groups: list[str] | None = None) -> Group:
    """The health table (only ``groups`` among consumer groups, if given) and the alerts."""
    table = Table("kind", "name", "ok", "detail", "lag", title="platform health")
    for r in health_rows(settings):
        if r.kind == "group" and groups is not None and r.name not in groups:
            continue
        table.add_row(r.kind, r.name, "[green]ok[/]" if r.ok else "[red]DOWN[/]", r.detail,
                      "" if r.lag is None else str(r.lag))
    alerts = firing_alerts(settings)
    if alerts is None:
        return Group(table, "Prometheus not running: no alerts to show")
    lines = [f"[yellow]{a.get('state')}[/] {a.get('labels', {}).get('alertname')} "
             f"{a.get('annotations', {}).get('summary', '')}" for a in alerts]
    return Group(table, *lines, f"{len(alerts)} alerts pending or firing")


def _query(settings: Settings, promql: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{settings.prometheus.url}/api/v1/query", params={"query": promql},
                     timeout=5.0)
    return list(resp.json()["data"]["result"])


def prometheus_view(settings: Settings) -> Table | str:
    """What Prometheus scraped from the platform: per process up, per agent events/s."""
    try:
        up = _query(settings, 'up{job="strikeflow"}')
        rates = _query(settings, "sum by (agent) (rate(strikeflow_agent_events_total[1m]))")
        p99 = _query(settings, "histogram_quantile(0.99, sum by (agent, le) "
                               "(rate(strikeflow_agent_batch_seconds_bucket[1m])))")
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        return f"Prometheus unavailable: {exc}"
    table = Table("series", "labels", "value", title=f"Prometheus ({settings.prometheus.url})")
    for r in up:
        table.add_row("up", r["metric"].get("process", "?"), r["value"][1])
    latency = {r["metric"].get("agent"): r["value"][1] for r in p99}
    for r in sorted(rates, key=lambda r: r["metric"].get("agent", "")):
        agent = r["metric"].get("agent", "?")
        p = latency.get(agent)
        table.add_row("events/s · batch p99", agent,
                      f"{float(r['value'][1]):.1f}/s · "
                      + ("-" if p in (None, "NaN") else f"{float(p) * 1000:.0f} ms"))
    return table
