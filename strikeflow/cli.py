"""``strikeflow``: the one command line of the platform.

Heavy imports happen inside each command, so ``strikeflow --help`` answers at once.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

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
    Place orders:      strikeflow simulate-orders --rate 200 · strikeflow md replay FILE --speed 60
    Market data:       strikeflow md watch · strikeflow md alert ACCOUNT BTC above 95000
    Analytics:         strikeflow sink clickhouse · strikeflow analytics query "SELECT …"
    Search:            strikeflow sink elasticsearch · strikeflow search --account A --text "…"
    Operations:        strikeflow ops health | lag | dlq list | dlq replay | reset-offsets
    """
    from infra.logs import configure

    log = get_settings().log
    configure(log.level, log.format)


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
        table.add_row(spec.name, spec.key, str(spec.partitions), spec.cleanup,
                      spec.contract_name, spec.dead_letter or "")
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
    from infra.metrics import serve
    from sinks.runner import run_clickhouse_sink

    settings = get_settings()
    serve(settings.data_dir, "sink-clickhouse")
    counts = run_clickhouse_sink(settings, max_seconds=max_seconds)
    console.print(f"sink stopped: {counts}")


@sink.command("elasticsearch")
@click.option("--max-seconds", type=float, default=None, help="stop after this long")
def sink_elasticsearch(max_seconds: float | None) -> None:
    """Sink orders, trades, the audit trail and notifications into Elasticsearch."""
    from infra.metrics import serve
    from sinks.search_index.runner import run_elasticsearch_sink

    settings = get_settings()
    serve(settings.data_dir, "sink-elasticsearch")
    counts = run_elasticsearch_sink(settings, max_seconds=max_seconds)
    console.print(f"sink stopped: {counts}")


@main.command("search")
@click.option("--index", "index", default="orders", show_default=True,
              type=click.Choice(["orders", "trades", "audit", "notifications"]))
@click.option("--account", help="an account id")
@click.option("--order-id", help="an order id (or client order id)")
@click.option("--status", help="orders: open, filled …; audit: the event kind; "
              "notifications: fill, rejection, risk, settlement")
@click.option("--symbol", "--instrument", "symbol", help="an instrument, e.g. BTC-USDT")
@click.option("--since", help="ISO 8601, 15m/2h/7d ago, or now-1h")
@click.option("--until", help="ISO 8601, 15m/2h/7d ago, or now-1h")
@click.option("--text", help='free text (audit, notifications; orders: the reason), '
              'e.g. "margin call"')
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="machine output: one JSON object")
def search_cmd(index: str, account: str | None, order_id: str | None, status: str | None,
               symbol: str | None, since: str | None, until: str | None, text: str | None,
               limit: int, as_json: bool) -> None:
    """Search what the Elasticsearch sink wrote (newest first)."""
    import json

    from elasticsearch.exceptions import ElasticsearchException

    from sinks.search import SearchError, SearchQuery, render, search
    from sinks.search_index.indices import IndexNames, open_client

    settings = get_settings()
    query = SearchQuery(index, account, order_id, status, symbol, since, until, text,  # type: ignore[arg-type]
                        limit)
    client = open_client(settings)
    try:
        result = search(client, IndexNames.of(settings), query)
    except SearchError as exc:
        raise click.UsageError(str(exc)) from None
    except ElasticsearchException as exc:
        console.print(f"[red]search failed:[/] {exc}")
        sys.exit(1)
    finally:
        client.close()
    if as_json:
        click.echo(json.dumps({"index": result.index, "total": result.total,
                               "hits": result.hits}, ensure_ascii=False))
    else:
        console.print(render(result))


@main.group()
def analytics() -> None:
    """ClickHouse for analysts: migrations and queries."""


@analytics.command("serve")
def analytics_serve() -> None:
    """Serve the embedded store over ClickHouse's HTTP interface (writes included) while no
    sink owns it: point a sink, Grafana or clickhouse-connect at http://127.0.0.1:18123."""
    from contextlib import suppress

    from sinks.runner import serve_store

    with suppress(KeyboardInterrupt):
        serve_store(get_settings())


@analytics.command("migrate")
def analytics_migrate() -> None:
    """Apply the numbered ClickHouse migrations (idempotent)."""
    from analytics.clickhouse import open_client
    from analytics.migrate import migrate

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


@analytics.command("check")
@click.option("-t", "--table", "tables", multiple=True, help="only these tables' suites")
@click.option("--settle-seconds", default=10.0, show_default=True,
              help="cross-table checks leave out rows younger than this (sinks catching up)")
@click.option("--limit", default=1_000_000, show_default=True, help="rows read per table")
def analytics_check(tables: tuple[str, ...], settle_seconds: float, limit: int) -> None:
    """Run every data-quality suite over the ClickHouse tables; exit 1 if one fails."""
    from analytics.quality.cli import check_command

    sys.exit(check_command(get_settings(), console, tables, settle_seconds, limit))


@main.group()
def dashboards() -> None:
    """Grafana dashboards as code: previews and the provisioned JSON."""


@dashboards.command("render")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="directory for the PNGs (default: <data dir>/dashboards)")
@click.option("--since", type=click.DateTime(), default=None, help="time range start (UTC)")
@click.option("--until", type=click.DateTime(), default=None, help="time range end (UTC)")
@click.option("--interval", default=60, show_default=True, help="time bucket, seconds")
def dashboards_render(out: Path | None, since: Any, until: Any, interval: int) -> None:
    """A PNG preview of each dashboard from the same SQL Grafana runs (live or from the store)."""
    from datetime import UTC

    from dashboards.cli import render_command

    since, until = (t.replace(tzinfo=UTC) if t else None for t in (since, until))
    sys.exit(render_command(get_settings(), console, out, since, until, interval))


@dashboards.command("export")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="directory (default: dashboards/grafana, what Grafana provisions)")
def dashboards_export(out: Path | None) -> None:
    """Write the Grafana JSON of every dashboard, for the configured database."""
    from dashboards.grafana import GRAFANA_DIR, export

    for path in export(out or GRAFANA_DIR, get_settings().clickhouse.database):
        console.print(f"  {path}")


@analytics.group("report")
def analytics_report() -> None:
    """Canned reports as CSV and PDF (live while the sink runs)."""


def _write_report(build: Any, fmt: str, out: Path) -> None:
    from analytics.query import QueryError, session
    from analytics.reports.render import write

    settings = get_settings()
    try:
        with session(settings) as fetch:
            report = build(fetch, settings.clickhouse.database)
    except (QueryError, ValueError) as exc:
        console.print(f"[red]report failed:[/] {exc}")
        sys.exit(1)
    formats = ("csv", "pdf") if fmt == "both" else (fmt,)
    for path in write(report, out, formats):
        console.print(f"wrote {path}")


_report_format = click.option("--format", "fmt", default="both", show_default=True,
                              type=click.Choice(["csv", "pdf", "both"]))
_report_out = click.option("-o", "--out", type=click.Path(path_type=Path), default=Path("."),
                           show_default=True, help="directory for the files")


@analytics_report.command("daily")
@click.option("--date", "day", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="UTC day, YYYY-MM-DD")
@_report_format
@_report_out
def analytics_report_daily(day: Any, fmt: str, out: Path) -> None:
    """A day's trading: volume, trades, notional, fees, top accounts, hedges, settlements."""
    from analytics.reports.daily import daily

    _write_report(lambda fetch, db: daily(fetch, day.date(), db), fmt, out)


@analytics_report.command("statement")
@click.option("--account", required=True)
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="first UTC day (default: the first entry)")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="last UTC day, inclusive (default: today)")
@_report_format
@_report_out
def analytics_report_statement(account: str, start: Any, end: Any, fmt: str, out: Path) -> None:
    """An account's statement: ledger entries with running balance, positions, PnL."""
    from datetime import UTC, datetime

    from analytics.reports.statement import statement

    last = end.date() if end else datetime.now(UTC).date()
    first = start.date() if start else None
    _write_report(lambda fetch, db: statement(fetch, account, first, last, db), fmt, out)


# --- compliance ----------------------------------------------------------------------------

@main.group()
def compliance() -> None:
    """Compliance: reports and the audit export of a period (KYC: `strikeflow cdc kyc`)."""


_period_from = click.option("--from", "start", required=True,
                            type=click.DateTime(["%Y-%m-%d"]), help="first UTC day")
_period_to = click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]),
                          help="last UTC day, inclusive")


@compliance.command("report")
@_period_from
@_period_to
@_report_format
@_report_out
def compliance_report_cmd(start: Any, end: Any, fmt: str, out: Path) -> None:
    """AML cases by rule, transfers and trades screened, KYC status counts of a period."""
    from analytics.reports.compliance import compliance_report

    kyc = _kyc_counts()
    _write_report(lambda fetch, db: compliance_report(fetch, start.date(), end.date(), db,
                                                      kyc), fmt, out)


@compliance.command("audit")
@_period_from
@_period_to
@click.option("--account", default=None, help="one account's trail only")
@_report_format
@_report_out
def compliance_audit_cmd(start: Any, end: Any, account: str | None, fmt: str,
                         out: Path) -> None:
    """The audit export of a period: AML cases, order events and transfers, in time order."""
    from analytics.reports.compliance import audit_export

    _write_report(lambda fetch, db: audit_export(fetch, start.date(), end.date(), db,
                                                 account), fmt, out)


def _kyc_counts() -> list[tuple[str, int, int]] | None:
    """KYC counts from the order database (the authority), or None if it is not reachable."""
    from cdc.config import get_cdc_config
    from cdc.counter import CounterService

    try:
        with CounterService.connect(get_settings(), get_cdc_config(), min_size=1,
                                    max_size=1) as svc:
            return svc.kyc_counts()
    except Exception as exc:  # the rest of the report is still worth having
        console.print(f"[yellow]KYC counts unavailable:[/] {type(exc).__name__}: {exc}")
        return None


# --- settlement ----------------------------------------------------------------------------

@main.group()
def settlement() -> None:
    """Settlement: option expiry."""


@settlement.command("expire")
@click.option("--underlying", type=click.Choice(["BTC", "ETH"]), required=True)
@click.option("--expiry", "expiry_text", required=True,
              help="ISO time with zone, e.g. 2026-11-27T08:00:00+00:00")
@click.option("--preview", is_flag=True, help="compute and show, publish nothing")
def settlement_expire(underlying: str, expiry_text: str, preview: bool) -> None:
    """Cash-settle the options of UNDERLYING expiring at EXPIRY at the index TWAP.

    Running it again publishes the same ids: the ledger changes nothing."""
    from datetime import datetime

    from streams.settlement.expiry import ExpiryError
    from streams.settlement.expiry_job import run_expiry

    try:
        report = run_expiry(get_settings(), underlying, datetime.fromisoformat(expiry_text),
                            publish=not preview)
    except (ExpiryError, ValueError) as exc:
        console.print(f"[red]cannot settle:[/] {exc}")
        sys.exit(1)
    table = Table("account", "instrument", "qty", "payout USDT", "against",
                  title=f"{underlying} expiry {report.expiry:%Y-%m-%d %H:%M}Z at TWAP "
                        f"{report.price} ({report.samples} index samples)")
    for p in report.payouts:
        table.add_row(p.position.account, p.position.symbol, str(p.position.qty),
                      str(p.amount), p.position.counterparty)
    console.print(table)
    console.print(f"total {report.total} USDT; "
                  + ("preview, nothing published" if preview
                     else f"published {report.published} records"))


# --- streams -------------------------------------------------------------------------------

@main.command()
@click.option("-l", "--loglevel", default=None, help="default: STRIKEFLOW_LOG__LEVEL (info)")
def worker(loglevel: str | None) -> None:
    """Run a Faust worker with every agent (web server on loopback)."""
    from faust import Worker

    from infra.logs import logging_config
    from infra.metrics import serve
    from streams.app import app

    settings = get_settings()
    log = settings.log
    level = loglevel or log.level
    serve(settings.data_dir, f"worker-{settings.worker.app_id}-{settings.worker.web_port}")
    app.discover()
    # Faust applies our logging config itself; stdout is not redirected into WARNING records
    Worker(app, loglevel=level, logging_config=logging_config(level, log.format),
           redirect_stdouts=False).execute_from_commandline()


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
@click.option("--l2/--no-l2", default=True, show_default=True,
              help="also publish venue L2 books (snapshots + deltas) on md.l2")
@click.option("--gap-every", default=0, show_default=True,
              help="lose one L2 delta in N (0 = never): books must resync")
@click.option("--rogue-venue", default=None, help="a venue that quotes --rogue-bps away")
@click.option("--rogue-bps", default=150.0, show_default=True)
def simulate(rate: float, count: int, speed: float, seed: int, duplicate_rate: float,
             invalid_every: int, l2: bool, gap_every: int, rogue_venue: str | None,
             rogue_bps: float) -> None:
    """Publish realistic BTC and ETH trades and L2 books from several venues."""
    from streams.kafka import make_producer
    from streams.marketdata.simulator import SimulatorConfig, publish

    cfg = SimulatorConfig(rate=rate, count=count, speed=speed, seed=seed,
                          duplicate_rate=duplicate_rate, invalid_every=invalid_every, l2=l2,
                          gap_every=gap_every, rogue_venue=rogue_venue, rogue_bps=rogue_bps)
    t0 = time.monotonic()
    sent = publish(make_producer(get_settings()), cfg)
    elapsed = time.monotonic() - t0
    console.print(f"sent {sent} in {elapsed:.1f}s ({sum(sent.values()) / elapsed:.0f} msg/s)")


# --- market data ---------------------------------------------------------------------------

@main.group("md")
def md() -> None:
    """Market data: replay historical ticks, watch the index/books/marks, price alerts."""


@md.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--speed", default=1.0, show_default=True,
              help="x event time (60 = an hour in a minute; 0 = as fast as possible)")
@click.option("--rebase/--no-rebase", default=False, show_default=True,
              help="move the trades to now, with fresh trade ids (demos; not back-tests)")
@click.option("--synthetic-l2/--no-synthetic-l2", default=False, show_default=True,
              help="derive a one-level venue book around each trade (index and marks)")
def md_replay(file: Path, speed: float, rebase: bool, synthetic_l2: bool) -> None:
    """Replay a CSV or Parquet file of historical ticks to md.ticks at xSPEED."""
    from streams.kafka import make_producer
    from streams.marketdata.feeds import FileReplayFeed, publish_feed

    feed = FileReplayFeed(file, rebase=rebase, synthetic_l2=synthetic_l2)
    t0 = time.monotonic()
    try:
        sent = publish_feed(make_producer(get_settings()), feed, speed=speed)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="FILE") from None
    elapsed = time.monotonic() - t0
    console.print(f"replayed {sent} from {feed.report.rows} rows in {elapsed:.1f}s")
    for error in feed.report.errors:
        console.print(f"  [yellow]skipped[/] {error}")
    if feed.report.skipped > len(feed.report.errors):
        console.print(f"  … {feed.report.skipped} rows skipped in all")


@md.command("watch")
@click.option("--seconds", default=0.0, show_default=True, help="0 = one summary and exit")
@click.option("-u", "--underlying", "underlyings", multiple=True, default=("BTC", "ETH"),
              show_default=True)
def md_watch(seconds: float, underlyings: tuple[str, ...]) -> None:
    """The latest index, consolidated book with venue ladders, and option marks."""
    from rich.live import Live

    from streams.marketdata.live import MarketWatch, summary

    if seconds <= 0:
        console.print(summary(get_settings(), underlyings))
        return
    with MarketWatch(get_settings(), underlyings) as watch, Live(console=console) as live:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            watch.drain(timeout_s=0.25)
            live.update(watch.renderable())


@md.command("alert")
@click.argument("account")
@click.argument("underlying")
@click.argument("direction", type=click.Choice(["above", "below", "cancel"]))
@click.argument("threshold", required=False)
@click.option("--id", "alert_id", default="default", show_default=True)
@click.option("--repeat/--once", default=False, show_default=True)
def md_alert(account: str, underlying: str, direction: str, threshold: str | None,
             alert_id: str, repeat: bool) -> None:
    """Set (or cancel) a price alert on UNDERLYING's index for ACCOUNT."""
    import uuid
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from streams.kafka import make_producer
    from topics.catalogue import by_name
    from topics.contracts.marketdata import CancelPriceAlert, SetPriceAlert

    fields = {"command_id": f"cli-{uuid.uuid4()}", "ts_sent": datetime.now(UTC),
              "account": account, "alert_id": alert_id, "underlying": underlying}
    if direction != "cancel" and threshold is None:
        raise click.UsageError("give a THRESHOLD to set an alert")
    try:
        command: SetPriceAlert | CancelPriceAlert = (
            CancelPriceAlert(**fields) if direction == "cancel"
            else SetPriceAlert(**fields, direction=direction, threshold=threshold,
                               repeat=repeat))
    except ValidationError as exc:
        raise click.UsageError(str(exc)) from None
    spec = by_name("md.alerts.commands")
    producer = make_producer(get_settings())
    producer.produce(spec.name, key=underlying.encode(), value=spec.encode(command))
    producer.flush(10)
    console.print(f"sent {command.type} {alert_id} for {account} on {underlying}")


@main.command("simulate-orders")
@click.option("--rate", default=200.0, show_default=True, help="orders per second")
@click.option("--count", default=5_000, show_default=True, help="orders to send, then stop")
@click.option("--seed", default=7, show_default=True)
def simulate_orders(rate: float, count: int, seed: int) -> None:
    """Publish simulated order flow for BTC-USDT and ETH-USDT to orders.commands."""
    from streams.kafka import make_producer
    from streams.matching.orderflow import publish_orders, venue_order_flow

    t0 = time.monotonic()
    sent = publish_orders(make_producer(get_settings()), venue_order_flow(count, seed, rate),
                          rate)
    console.print(f"sent {sent['orders']} orders in {time.monotonic() - t0:.1f}s")


@main.command("route")
@click.option("--symbol", required=True, help="a spot pair, e.g. BTC-USDT")
@click.option("--side", type=click.Choice(["buy", "sell"]), required=True)
@click.option("--qty", required=True, help="base units, exact (e.g. 0.75)")
@click.option("--limit", "limit_price", default=None, help="no venue price beyond this")
@click.option("--max-rounds", default=3, show_default=True, type=click.IntRange(1, 20))
@click.option("--account", default="router", show_default=True)
@click.option("--parent-id", default=None, help="idempotency key (default: a new one)")
@click.option("--timeout", default=60.0, show_default=True, help="seconds to wait for it")
def route(symbol: str, side: str, qty: str, limit_price: str | None, max_rounds: int,
          account: str, parent_id: str | None, timeout: float) -> None:
    """Route a parent order across our book and the external venues; print its report."""
    import uuid
    from decimal import Decimal, InvalidOperation

    from pydantic import ValidationError

    from strikeflow.demo_routing import await_reports, report_table, route_order, send_parents

    try:
        order = route_order(symbol, side, Decimal(qty), account=account,
                            parent_id=parent_id or f"sor-{uuid.uuid4().hex[:12]}",
                            limit_price=Decimal(limit_price) if limit_price else None,
                            max_rounds=max_rounds)
    except (ValidationError, InvalidOperation) as exc:
        raise click.BadParameter(str(exc)) from None
    settings = get_settings()
    since = send_parents(settings, [order])
    console.print(f"sent parent {order.parent_id}: {side} {qty} {symbol}")
    report = await_reports(settings, [order.parent_id], since, timeout).get(order.parent_id)
    if report is None:
        console.print("no report yet: is the trading worker (routing agent) running?")
        sys.exit(1)
    console.print(report_table([report]))
    sys.exit(0 if report.final else 1)


@main.command()
@click.option("--seconds", default=45, show_default=True, help="how long to feed the pipeline")
@click.option("--rate", default=400.0, show_default=True, help="ticks per second")
@click.option("--speed", default=20.0, show_default=True, help="event-time acceleration")
def demo(seconds: int, rate: float, speed: float) -> None:
    """The main job: stack up, topics, a worker, the simulator, and what comes out live."""
    from strikeflow.demo import run_demo

    sys.exit(run_demo(get_settings(), console, seconds=seconds, rate=rate, speed=speed))


@main.command()
@click.option("--short", is_flag=True, help="three cheap fault kinds (what CI runs), ~2 min")
@click.option("--fault", "faults", multiple=True, help="only these fault kinds (repeatable)")
@click.option("--orders", default=300, show_default=True, help="orders per fault kind")
@click.option("--rate", default=60.0, show_default=True, help="orders per second")
@click.option("--options", default=8, show_default=True, help="simplified options per kind")
def drill(short: bool, faults: tuple[str, ...], orders: int, rate: float, options: int) -> None:
    """Load through the whole platform while faults are injected; reconcile end to end."""
    from strikeflow.drill import FAULTS, SHORT, DrillConfig, run_drill

    kinds = faults or (SHORT if short else tuple(FAULTS))
    unknown = [k for k in kinds if k not in FAULTS]
    if unknown:
        raise click.BadParameter(f"unknown fault kinds {unknown}; known: {sorted(FAULTS)}")
    cfg = DrillConfig(kinds=kinds, orders=orders, rate=rate, options=options)
    sys.exit(run_drill(get_settings(), console, cfg))


# --- the trading gateway -------------------------------------------------------------------

@main.group(invoke_without_command=True)
@click.pass_context
def gateway(ctx: click.Context) -> None:
    """Run the trading API and web client (REST, WebSocket) on STRIKEFLOW_GATEWAY__PORT."""
    if ctx.invoked_subcommand is None:
        from gateway.server import run

        run(get_settings())


@gateway.command("add-user")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", type=click.Choice(["trader", "market_maker", "admin"]),
              default="trader", show_default=True)
def gateway_add_user(username: str, password: str, role: str) -> None:
    """Register a user with a role (admins and market makers are made here, not by the API);
    the account id is the username, opened in the counter service."""
    import asyncio

    from cdc.config import get_cdc_config
    from cdc.counter import CounterService
    from gateway.users import AuthError, UserStore

    settings = get_settings()

    async def add() -> None:
        store = await UserStore.open(settings)
        try:
            await store.register(username, password, role)  # type: ignore[arg-type]
        finally:
            await store.close()

    try:
        asyncio.run(add())
    except (AuthError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    with CounterService.connect(settings, get_cdc_config(), min_size=1, max_size=1) as svc:
        svc.open_account(username)
    console.print(f"user {username} ({role}), account {username}")


# --- the order database and CDC (commands in cdc/cli.py) -----------------------------------

from cdc.cli import cdc as _cdc  # noqa: E402  (light: heavy imports are inside each command)

main.add_command(_cdc)

# --- operations (commands in strikeflow/ops/cli.py) ------------------------------------------

from strikeflow.ops.cli import ops as _ops  # noqa: E402

main.add_command(_ops)


if __name__ == "__main__":
    main()
