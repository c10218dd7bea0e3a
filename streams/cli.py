"""``strikeflow``: the one command line of the platform.

Heavy imports happen inside each command, so ``strikeflow --help`` answers at once.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from infra.settings import get_settings

console = Console(width=None if sys.stdout.isatty() else 140)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """StrikeFlow: stream processing for a USDT crypto-derivatives venue.

    \b
    First time here?  strikeflow demo        (starts everything and shows it working)
    The local stack:   strikeflow infra up | status | logs | down
    Topics:            strikeflow topics apply | list | schema
    Run the agents:    strikeflow worker
    Feed market data:  strikeflow simulate --rate 500
    Analytics:         strikeflow sink clickhouse · strikeflow analytics query "SELECT …"
    """


# --- infra ---------------------------------------------------------------------------------

@main.group()
def infra() -> None:
    """The local stack: Kafka, PostgreSQL, Kafka Connect + Debezium, Elasticsearch, chDB."""


@infra.command("up")
@click.argument("services", nargs=-1)
def infra_up(services: tuple[str, ...]) -> None:
    """Start the stack (or the SERVICES named); running services are left alone."""
    from infra import stack

    t0 = time.monotonic()
    try:
        started = stack.up(get_settings(), services or None,
                           progress=lambda m: console.print(f"  {m}"))
    except stack.StackError as exc:
        console.print(f"[red]infra up failed:[/] {exc}")
        sys.exit(1)
    note = f"started {', '.join(started)}" if started else "everything was already running"
    console.print(f"[green]stack up[/] in {time.monotonic() - t0:.1f}s ({note})")
    _print_status()


@infra.command("down")
def infra_down() -> None:
    """Stop every service and the supervisor; no process of the stack remains."""
    from infra import stack

    t0 = time.monotonic()
    stack.down(get_settings())
    console.print(f"[green]stack down[/] in {time.monotonic() - t0:.1f}s")


@infra.command("stop")
@click.argument("services", nargs=-1, required=True)
def infra_stop(services: tuple[str, ...]) -> None:
    """Stop SERVICES only (the rest keeps running); `infra up` starts them again."""
    from infra import stack

    stack.stop(get_settings(), services)
    console.print(f"stopped {', '.join(services)}")


@infra.command("status")
def infra_status() -> None:
    """Each service with its address, pid, memory and health. Exit 1 if any is unhealthy."""
    if not _print_status():
        sys.exit(1)


def _print_status() -> bool:
    from infra import stack

    table = Table("service", "address", "state", "pid", "memory", "health")
    healthy = True
    for row in stack.status(get_settings()):
        healthy &= row.health.ok
        mark = "[green]ok[/]" if row.health.ok else "[red]down[/]"
        table.add_row(row.name, row.address, row.state, str(row.pid or "-"),
                      f"{row.rss_mb:.0f} MB" if row.rss_mb else "-",
                      f"{mark} {row.health.detail}")
    console.print(table)
    return healthy


@infra.command("logs")
@click.argument("service", required=False)
@click.option("-n", "--lines", default=40, show_default=True, help="lines to show")
def infra_logs(service: str | None, lines: int) -> None:
    """The last lines of a SERVICE's log (or list the logs)."""
    log_dir = get_settings().data_dir / "logs"
    if service is None:
        for path in sorted(log_dir.glob("*.log")):
            console.print(f"{path.stem:<16} {path}")
        return
    path = log_dir / f"{service}.log"
    if not path.exists():
        raise click.BadParameter(f"no log at {path}", param_hint="SERVICE")
    text = path.read_text(errors="replace").splitlines()[-lines:]
    click.echo("\n".join(text))


# --- topics --------------------------------------------------------------------------------

@main.group()
def topics() -> None:
    """The topic catalogue: create/update topics, list them, export JSON Schema."""


@topics.command("apply")
def topics_apply() -> None:
    """Create missing topics, fix partitions and configs; report drift. Idempotent."""
    from topics.admin import apply_topics

    changes = apply_topics(get_settings().kafka.bootstrap_servers)
    table = Table("topic", "action", "detail")
    colours = {"created": "green", "updated": "yellow", "drift": "red", "unchanged": "dim"}
    for ch in changes:
        table.add_row(ch.topic, f"[{colours[ch.action]}]{ch.action}[/]", ch.detail)
    console.print(table)


@topics.command("list")
def topics_list() -> None:
    """The catalogue: every topic with its key, partitions, cleanup and contract."""
    from topics.catalogue import CATALOGUE

    table = Table("topic", "key", "partitions", "cleanup", "contract", "dead letters")
    for spec in CATALOGUE:
        contract = "Debezium envelope" if spec.contract is None else str(spec.contract._type)
        table.add_row(spec.name, spec.key, str(spec.partitions), spec.cleanup,
                      contract.replace("<class '", "").replace("'>", "").split(".")[-1],
                      spec.dead_letter or "")
    console.print(table)


@topics.command("schema")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/schemas"),
              show_default=True, help="directory for <topic>.schema.json files")
def topics_schema(out: Path) -> None:
    """Export each topic's contract as JSON Schema for producers in other languages."""
    from topics.schema import export_schemas

    for path in export_schemas(out):
        console.print(f"  {path}")


# --- sinks and analytics -------------------------------------------------------------------

@main.group()
def sink() -> None:
    """Writers from Kafka to ClickHouse and Elasticsearch."""


@sink.command("clickhouse")
@click.option("--max-seconds", type=float, default=None, help="stop after this long")
def sink_clickhouse(max_seconds: float | None) -> None:
    """Sink the analytic topics into ClickHouse (and answer analysts' SQL while running)."""
    from sinks.runner import run_clickhouse_sink

    counts = run_clickhouse_sink(get_settings(), max_seconds=max_seconds)
    console.print(f"sink stopped: {counts}")


@main.group()
def analytics() -> None:
    """ClickHouse for analysts: migrations and queries."""


@analytics.command("migrate")
def analytics_migrate() -> None:
    """Apply the numbered ClickHouse migrations (idempotent)."""
    from analytics.migrate import migrate
    from sinks.clickhouse import open_client

    settings = get_settings()
    client = open_client(settings)
    try:
        ran = migrate(client, settings.clickhouse.database)
    finally:
        client.close()
    console.print(f"applied: {', '.join(ran)}" if ran else "nothing to apply")


@analytics.command("query")
@click.argument("sql", required=False)
@click.option("-f", "--file", "sql_file", type=click.Path(exists=True, path_type=Path),
              help="read the SQL from a file")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "csv", "json", "parquet"]))
@click.option("-o", "--out", type=click.Path(path_type=Path), help="write to a file")
def analytics_query(sql: str | None, sql_file: Path | None, fmt: str, out: Path | None) -> None:
    """Run SQL against ClickHouse (live while the sink runs). Tables are in `strikeflow.`."""
    from analytics.query import QueryError, query

    text = sql_file.read_text() if sql_file else sql
    if not text:
        raise click.UsageError("give SQL as an argument or with --file")
    ch_format = {"table": "CSVWithNames", "csv": "CSVWithNames", "json": "JSONEachRow",
                 "parquet": "Parquet"}[fmt]
    try:
        data = query(get_settings(), text, ch_format)
    except QueryError as exc:
        console.print(f"[red]query failed:[/] {exc}")
        sys.exit(1)
    if out is not None:
        out.write_bytes(data)
        console.print(f"wrote {len(data)} bytes to {out}")
    elif fmt == "table":
        import csv
        import io

        rows = list(csv.reader(io.StringIO(data.decode())))
        table = Table(*rows[0]) if rows else Table()
        for row in rows[1:]:
            table.add_row(*row)
        console.print(table)
    elif fmt == "parquet":
        raise click.UsageError("parquet output needs --out FILE")
    else:
        click.echo(data.decode(), nl=False)


# --- streams -------------------------------------------------------------------------------

@main.command()
@click.option("-l", "--loglevel", default="info", show_default=True)
def worker(loglevel: str) -> None:
    """Run a Faust worker with every agent (web server on loopback)."""
    from faust import Worker

    from streams.app import app

    app.discover()
    Worker(app, loglevel=loglevel).execute_from_commandline()


@main.command()
@click.option("--rate", default=200.0, show_default=True, help="ticks per second")
@click.option("--count", default=10_000, show_default=True, help="ticks to send, then stop")
@click.option("--speed", default=1.0, show_default=True,
              help="event-time seconds per wall second (10 closes a candle every 6 s)")
@click.option("--seed", default=7, show_default=True)
@click.option("--duplicate-rate", default=0.0, show_default=True,
              help="fraction of ticks sent twice")
@click.option("--invalid-every", default=0, show_default=True,
              help="send an invalid tick every N messages (0 = never)")
def simulate(rate: float, count: int, speed: float, seed: int, duplicate_rate: float,
             invalid_every: int) -> None:
    """Publish realistic BTC and ETH trades from several venues to md.ticks."""
    from streams.kafka import make_producer
    from streams.marketdata.simulator import SimulatorConfig, publish

    cfg = SimulatorConfig(rate=rate, count=count, speed=speed, seed=seed,
                          duplicate_rate=duplicate_rate, invalid_every=invalid_every)
    t0 = time.monotonic()
    sent = publish(make_producer(get_settings()), cfg)
    elapsed = time.monotonic() - t0
    console.print(f"sent {sent} in {elapsed:.1f}s ({sum(sent.values()) / elapsed:.0f} msg/s)")


@main.command()
@click.option("--seconds", default=45, show_default=True, help="how long to feed the pipeline")
@click.option("--rate", default=400.0, show_default=True, help="ticks per second")
@click.option("--speed", default=20.0, show_default=True, help="event-time acceleration")
def demo(seconds: int, rate: float, speed: float) -> None:
    """The main job: stack up, topics, a worker, the simulator, and what comes out live."""
    from streams.demo import run_demo

    sys.exit(run_demo(get_settings(), console, seconds=seconds, rate=rate, speed=speed))


if __name__ == "__main__":
    main()
