"""``strikeflow dashboards render | export``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rich.console import Console

from analytics.quality.store import open_store
from dashboards import prometheus
from dashboards.render import render_all
from dashboards.sql import EPOCH, FOREVER
from infra.settings import Settings

__all__ = ["render_command"]


def render_command(settings: Settings, console: Console, out: Path | None,
                   since: datetime | None, until: datetime | None, interval_s: int) -> int:
    """PNG previews of every dashboard; exit 1 if a panel's query failed.

    The Prometheus board is drawn from the configured Prometheus when it answers (``infra
    up`` starts it), and skipped otherwise.
    """
    target = out or settings.data_dir / "dashboards"
    url = settings.prometheus.url
    with open_store(settings) as store:
        done = render_all(store.read, settings.clickhouse.database, target,
                          start=since or EPOCH, end=until or FOREVER, interval_s=interval_s,
                          prometheus_url=url if prometheus.ready(url) else None)
    failed = 0
    for uid, (path, errors) in done.items():
        failed += errors
        if path is None:
            console.print(f"  {uid:24s} [yellow]skipped: no Prometheus at {url}[/]")
            continue
        note = f" [red]{errors} panel(s) failed[/]" if errors else ""
        console.print(f"  {uid:24s} {path}{note}")
    return 1 if failed else 0
