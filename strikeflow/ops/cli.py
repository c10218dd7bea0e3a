"""``strikeflow ops``: lag, dead letters, offset resets, health, the metrics exporter."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from infra.settings import get_settings

console = Console(width=None if sys.stdout.isatty() else 160)


@click.group()
def ops() -> None:
    """What operators run: lag, dead letters, offset resets, health, the exporter."""


@ops.command("lag")
@click.option("--group", "groups", multiple=True, help="only these consumer groups")
@click.option("--all", "show_all", is_flag=True, help="partitions with no lag too")
def lag_cmd(groups: tuple[str, ...], show_all: bool) -> None:
    """Consumer lag per group and partition (committed offset against the log end)."""
    from strikeflow.ops.kafka_admin import consumer_lag

    rows = consumer_lag(get_settings(), list(groups) or None)
    table = Table("group", "topic", "partition", "committed", "end", "lag")
    totals: dict[str, int] = {}
    for r in rows:
        totals[r.group] = totals.get(r.group, 0) + r.lag
        if r.lag or show_all:
            table.add_row(r.group, r.topic, str(r.partition), str(r.committed), str(r.end),
                          f"[red]{r.lag}[/]" if r.lag else "0")
    console.print(table)
    console.print("total lag: " + (", ".join(f"{g} {n}" for g, n in sorted(totals.items()))
                                   or "no committed offsets"))


@ops.group("dlq")
def dlq() -> None:
    """Dead letters: list, show, replay to the source topic after a fix."""


def _filters(f: Callable[..., None]) -> Callable[..., None]:
    f = click.option("--topic", "topics", multiple=True,
                     help="dead-letter topic(s), e.g. md.ticks.dlq (default: all)")(f)
    f = click.option("--reason", default=None, help="invalid, unknown_symbol, late, …")(f)
    f = click.option("--since", default=None, help="ISO time, e.g. 2026-12-03T10:00:00+00:00")(f)
    return click.option("--source", default=None, help="source topic, e.g. orders.requests")(f)


def _select(topics: tuple[str, ...], reason: str | None, since: str | None,
            source: str | None) -> list[Any]:
    from strikeflow.ops.deadletters import list_letters

    when = datetime.fromisoformat(since) if since else None
    return list_letters(get_settings(), topics or None, reason, when, source)


@dlq.command("list")
@_filters
@click.option("--limit", default=50, show_default=True)
def dlq_list(topics: tuple[str, ...], reason: str | None, since: str | None,
             source: str | None, limit: int) -> None:
    """Dead letters with their source offset, reason and error (newest last)."""
    letters = _select(topics, reason, since, source)
    table = Table("dead-letter topic", "offset", "source", "reason", "failed at", "error")
    for x in letters[-limit:]:
        d = x.letter
        table.add_row(x.topic, f"{x.partition}:{x.offset}", x.source_ref, d.reason,
                      d.ts_failed.isoformat(timespec="seconds"), d.error[:80])
    console.print(table)
    by_reason: dict[str, int] = {}
    for x in letters:
        by_reason[x.letter.reason] = by_reason.get(x.letter.reason, 0) + 1
    console.print(f"{len(letters)} dead letters"
                  + (": " + ", ".join(f"{r} {n}" for r, n in sorted(by_reason.items()))
                     if by_reason else ""))


@dlq.command("show")
@click.argument("topic")
@click.argument("offset")
def dlq_show(topic: str, offset: str) -> None:
    """One dead letter in full: TOPIC and OFFSET as PARTITION:OFFSET (or OFFSET)."""
    from strikeflow.ops.deadletters import find

    partition, _, at = offset.rpartition(":")
    letter = find(get_settings(), topic, int(partition or 0), int(at))
    if letter is None:
        console.print(f"[red]no dead letter at {topic} {offset}[/]")
        sys.exit(1)
    console.print_json(letter.letter.model_dump_json())


@dlq.command("replay")
@_filters
@click.option("--execute", is_flag=True, help="publish (without it: what would be replayed)")
def dlq_replay(topics: tuple[str, ...], reason: str | None, since: str | None,
               source: str | None, execute: bool) -> None:
    """Re-publish dead letters to their source topic, once per source offset."""
    from strikeflow.ops.deadletters import replay

    letters = _select(topics, reason, since, source)
    report = replay(get_settings(), letters, dry_run=not execute)
    verb = "replayed" if execute else "would replay"
    console.print(f"{verb} {len(report.replayed)}; already replayed before: "
                  f"{len(report.already)}")
    for x in report.replayed[:20]:
        console.print(f"  {x.source_ref} ({x.letter.reason})")
    if not execute and report.replayed:
        console.print("add --execute to publish")


@ops.command("reset-offsets")
@click.argument("group")
@click.argument("topic")
@click.option("--to", "to", required=True, help="earliest | latest | ISO time | offset")
@click.option("--execute", is_flag=True, help="commit the new offsets (without it: the plan)")
def reset_offsets_cmd(group: str, topic: str, to: str, execute: bool) -> None:
    """Move GROUP's offsets on TOPIC; refused while the group has members."""
    from strikeflow.ops.kafka_admin import ResetRefused, plan_reset, reset_offsets

    settings = get_settings()
    moves = plan_reset(settings, group, topic, to)
    table = Table("topic", "partition", "committed", "new offset")
    for m in moves:
        table.add_row(m.topic, str(m.partition), "-" if m.current is None else str(m.current),
                      str(m.target))
    console.print(table)
    if not execute:
        console.print("plan only: add --execute to commit it")
        return
    try:
        reset_offsets(settings, group, moves)
    except ResetRefused as exc:
        console.print(f"[red]refused:[/] {exc}")
        sys.exit(1)
    console.print(f"[green]{group} reset on {topic}[/]")


@ops.command("health")
def health_cmd() -> None:
    """Every service, process and consumer group in one table; firing alerts."""
    from strikeflow.ops.views import health_view

    console.print(health_view(get_settings()))


@ops.command("exporter")
@click.option("--interval", default=5.0, show_default=True, help="seconds between refreshes")
def exporter_cmd(interval: float) -> None:
    """Serve consumer lag and the ledger's balance as Prometheus metrics (until SIGTERM)."""
    import signal
    import threading

    from infra.metrics import serve
    from strikeflow.ops.exporter import run_exporter

    settings = get_settings()
    port = serve(settings.data_dir, "exporter")
    console.print(f"metrics on http://127.0.0.1:{port}/metrics")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run_exporter(settings, interval, stop)
