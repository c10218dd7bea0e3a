"""The main job a newcomer runs: the stack, the topics, two workers, the simulator, live output.

It starts what is missing, feeds simulated BTC and ETH trades from four venues through the
candle agent, shows the candles and dead letters as they arrive, and stops the workers at the
end (the stack stays up for exploring; ``strikeflow infra down`` stops it).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from confluent_kafka import OFFSET_END, TopicPartition
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from analytics.quality import summary as quality_summary
from analytics.query import query_rows
from cdc import demo as cdc_demo
from cdc.offsets import start_new_group_at_end, wait_drained
from gateway.client import EntryReport, login_or_register, send_orders
from gateway.server import GatewayProcess
from infra import stack
from infra.settings import Settings
from sinks.search import demo_search
from streams.deployment import MARKET_DATA_AGENTS, TRADING_AGENTS, agents_env
from streams.kafka import end_offsets, make_consumer, make_producer, read_range
from streams.marketdata.live import summary as market_summary
from streams.marketdata.simulator import SimulatorConfig, default_start, publish
from streams.matching.orderflow import ACCOUNTS, venue_order_flow
from streams.worker_process import (
    ElasticsearchSinkProcess,
    ExporterProcess,
    SinkProcess,
    WorkerProcess,
)
from strikeflow import demo_compliance, demo_routing, demo_venue
from strikeflow.demo_accounts import accounts_summary, fund_accounts
from strikeflow.drill import DrillConfig
from strikeflow.drill.runner import Drill
from strikeflow.ops.views import health_view, prometheus_view
from strikeflow.summary import render as analytics_summary
from topics.admin import apply_topics
from topics.catalogue import CATALOGUE

__all__ = ["run_demo"]

WATCHED = ("md.candles", "md.ticks.dlq", "trades", "md.book")
SIMULATED = {b"BTC-USDT", b"ETH-USDT"}  # keys of what the demo feeds; tests use others
DRAINED = ("orders.requests", "orders.commands", "orders.events", "accounts.activity")


@dataclass
class _Progress:
    sent: dict[str, int] = field(default_factory=dict)
    candles: dict[str, dict[str, Any]] = field(default_factory=dict)  # latest per event id
    finals: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    first_candle_s: float | None = None
    orders_sent: dict[str, int] = field(default_factory=dict)
    entry: EntryReport | None = None  # the traders' answers from the gateway
    trades: int = 0
    last_trades: list[dict[str, Any]] = field(default_factory=list)
    books: dict[str, dict[str, Any]] = field(default_factory=dict)


def _watch(settings: Settings) -> Any:
    """A consumer positioned at the end of the watched topics: only this run's output."""
    consumer = make_consumer(settings, f"strikeflow-demo-{os.getpid()}")
    parts = []
    for topic in WATCHED:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        parts += [TopicPartition(topic, p, OFFSET_END) for p in meta.partitions]
    consumer.assign(parts)
    return consumer


def _drain(consumer: Any, progress: _Progress, t0: float) -> None:
    while (msg := consumer.poll(0.1)) is not None:
        if msg.error() or msg.key() not in SIMULATED:
            continue
        value = json.loads(msg.value())
        if msg.topic() == "trades":
            progress.trades += 1
            progress.last_trades = [value, *progress.last_trades[:5]]
        elif msg.topic() == "md.book":
            if value["source"] == "venue":  # the matching engine's own book
                progress.books[value["symbol"]] = value
        elif msg.topic() == "md.candles":
            progress.candles[value["event_id"]] = value
            progress.finals += bool(value["final"])
            if progress.first_candle_s is None:
                progress.first_candle_s = time.monotonic() - t0
        else:
            progress.dead_letters[value["reason"]] += 1


def _complete(progress: _Progress) -> bool:
    """Final candles and trades came out, and the invalid ticks came back as letters."""
    return (progress.finals > 0 and progress.trades > 0
            and progress.dead_letters["invalid"] >= progress.sent.get("invalid", 0)
            and progress.dead_letters["duplicate"] >= progress.sent.get("duplicates", 0))


def _candle_table(progress: _Progress, limit: int = 8) -> Table:
    table = Table("symbol", "minute (event time)", "open", "high", "low", "close", "volume",
                  "vwap", "trades", "v", "final", title="md.candles (latest first)")
    latest = sorted(progress.candles.values(), key=lambda c: (c["window_start"], c["symbol"]),
                    reverse=True)[:limit]
    for c in latest:
        table.add_row(c["symbol"], c["window_start"][11:16], c["open"], c["high"], c["low"],
                      c["close"], f"{float(c['volume']):.4f}", f"{float(c['vwap']):.2f}",
                      str(c["trades"]), str(c["version"]), "yes" if c["final"] else "live")
    return table


def _matching_table(progress: _Progress) -> Table:
    table = Table("book", "bids (qty @ price)", "asks (qty @ price)", "last", "recent trades",
                  title=f"matching: {progress.orders_sent.get('orders', 0)} orders in, "
                        f"{progress.trades} trades out")
    for symbol in sorted(progress.books):
        book = progress.books[symbol]
        bids = "\n".join(f"{q} @ {p}" for p, q in book["bids"][:5])
        asks = "\n".join(f"{q} @ {p}" for p, q in book["asks"][:5])
        trades = "\n".join(f"{t['aggressor_side']} {t['qty']} @ {t['price']}"
                           for t in progress.last_trades if t["symbol"] == symbol)
        table.add_row(symbol, bids, asks, str(book.get("last_price") or "-"), trades)
    return table


def _summary(progress: _Progress, elapsed: float) -> str:
    sent = progress.sent
    rate = sum(sent.values()) / elapsed if elapsed else 0.0
    letters = ", ".join(f"{k}={v}" for k, v in sorted(progress.dead_letters.items())) or "none"
    return (f"[bold]{elapsed:5.1f}s[/]  sent {sent.get('ticks', 0)} ticks "
            f"(+{sent.get('duplicates', 0)} duplicates, {sent.get('invalid', 0)} invalid) "
            f"at {rate:.0f}/s · candle updates {len(progress.candles)} · finals "
            f"{progress.finals} · dead letters: {letters}")


SUMMARY_SQL = """
SELECT symbol, count() AS minutes, sum(trades) AS trade_count, sum(volume) AS base_volume,
       -- Decimal(38,18) / Decimal(38,18) keeps 18 places and can overflow: divide with the
       -- scale we want instead
       round(divideDecimal(sum(notional), base_volume, 8), 2) AS vwap,
       min(low) AS low, max(high) AS high
FROM strikeflow.candles FINAL
WHERE final AND interval = '1m' AND symbol IN ('BTC-USDT', 'ETH-USDT')
GROUP BY symbol ORDER BY symbol
"""


def _print_analytics(settings: Settings, console: Console) -> None:
    """Read back from ClickHouse what the sink wrote: the analysts' view of the same run."""
    table = Table("symbol", "final minutes", "trades", "volume", "vwap", "low", "high",
                  title="ClickHouse: strikeflow.candles (all runs so far)")
    for row in query_rows(settings, SUMMARY_SQL):
        table.add_row(row["symbol"], str(row["minutes"]), str(row["trade_count"]),
                      f"{float(row['base_volume']):.4f}", str(row["vwap"]), str(row["low"]),
                      str(row["high"]))
    console.print(table)
    console.print("ask your own: strikeflow analytics query \"SELECT … FROM strikeflow.candles "
                  "FINAL …\" (while `strikeflow sink clickhouse` runs, or with nothing running)")


def _last_tick_time(settings: Settings) -> datetime | None:
    """The event time of the newest simulated tick already on ``md.ticks`` (an earlier run)."""
    newest: datetime | None = None
    for partition, end in end_offsets(settings, "md.ticks").items():
        for msg in read_range(settings, "md.ticks", partition, max(0, end - 500), end):
            if msg.key() in SIMULATED:
                try:
                    ts = datetime.fromisoformat(json.loads(msg.value())["ts_event"])
                except (KeyError, TypeError, ValueError):
                    continue  # the invalid ticks the simulator injects on purpose
                newest = ts if newest is None or ts > newest else newest
    return newest


def _event_clock(settings: Settings, seconds: int, speed: float) -> tuple[datetime, float]:
    """Where the simulated market's event time starts, and how fast it runs.

    Event time runs ``speed`` times faster than the wall clock but never ahead of it (the
    candle agent refuses ticks from the future: time is the venue's), so the run covers the
    past, ending now. It also starts after the previous run's last tick, so a second run's
    ticks are not late: with little time since then, it runs slower.
    """
    now = datetime.now(UTC)
    start = default_start(SimulatorConfig(rate=1.0, count=seconds, speed=speed), now)
    last = _last_tick_time(settings)
    if last is not None and last + timedelta(seconds=1) > start:
        start = last + timedelta(seconds=1)
        speed = max(1.0, 1 + (now - start).total_seconds() / seconds)
    return start, speed


_TRADER_PASSWORD = "demo-trader-password"  # the simulated traders' gateway logins


def _gateway_table(entry: EntryReport | None) -> Table:
    """What the traders' orders got back from the gateway: risk's answers, and how long the
    round trip took (WebSocket frame → risk's decision → answer)."""
    table = Table("answers from the gateway", "count",
                  title="the traders' orders through the gateway (WebSocket order entry)")
    if entry is None:
        table.add_row("no order was sent", "-")
        return table
    for status, count in entry.answers.most_common():
        table.add_row(status, str(count))
    p50, p99 = entry.percentile(0.5), entry.percentile(0.99)
    if p50 is not None and p99 is not None:
        table.add_row("request → answer p50 / p99", f"{p50:.1f} / {p99:.1f} ms")
    return table


def run_demo(settings: Settings, console: Console, seconds: int = 45, rate: float = 400.0,
             speed: float = 20.0) -> int:
    t_start = time.monotonic()
    console.rule("[bold]StrikeFlow demo")
    console.print("1/4 the stack (the first run downloads the jars from Maven Central)")
    stack.up(settings, progress=lambda m: console.print(f"    {m}"))
    console.print(f"    stack ready after {time.monotonic() - t_start:.1f}s")
    console.print("2/4 topics from the catalogue")
    changes = Counter(c.action for c in apply_topics(settings.kafka.bootstrap_servers))
    console.print(f"    {dict(changes)}")
    # A stack that already carries history (tests, drills) must not make the first run's
    # worker work through all of it: a group that never ran starts at the current end.
    # Two workers (streams.deployment): the order path does not share a core with the
    # market-data agents.
    worker = WorkerProcess(settings, env=agents_env(TRADING_AGENTS))
    md_worker = WorkerProcess(settings, f"{settings.worker.app_id}-marketdata",
                              settings.worker.web_port + 1, env=agents_env(MARKET_DATA_AGENTS))
    workers = (worker, md_worker)
    for w in workers:
        start_new_group_at_end(settings, w.app_id, [s.name for s in CATALOGUE if s.input])
    sink = SinkProcess(settings)
    es_sink = ElasticsearchSinkProcess(settings)
    exporter = ExporterProcess(settings)
    gateway = GatewayProcess(settings)
    console.print(f"3/4 two workers (trading: risk, matching, ledger, settlement, CDC bridge, "
                  f"RFQ, routing, compliance; market data), the ClickHouse and Elasticsearch "
                  f"sinks and the ops exporter, "
                  f"scraped by Prometheus at {settings.prometheus.url} (logs: {worker.log.parent})")
    try:
        for process in (*workers, sink, es_sink, exporter):
            process.start()
    except Exception:
        for process in (*workers, sink, es_sink, exporter):
            process.stop()
        raise
    since = {"orders.events": end_offsets(settings, "orders.events")}
    funded = fund_accounts(settings, ACCOUNTS, Decimal(5_000_000))
    console.print(f"    funded {funded} traders ({', '.join(ACCOUNTS)}) with 5,000,000 USDT each "
                  "through the order database → Debezium → risk")
    try:
        gateway.start()
    except Exception:
        for process in (*workers, sink, es_sink, exporter):
            process.stop()
        raise
    consumer = _watch(settings)
    progress = _Progress()
    start, speed = _event_clock(settings, seconds, speed)
    cfg = SimulatorConfig(rate=rate, count=int(rate * seconds), speed=speed, start=start,
                          seed=int(time.time()), duplicate_rate=0.005, invalid_every=2000,
                          l2=True)
    console.print(f"4/4 simulating {cfg.count} BTC/ETH trades from 4 venues at {rate:.0f}/s, "
                  f"event time x{speed:.3g} (a 1-minute candle closes every {60 / speed:.0f}s)")
    feeder = threading.Thread(
        target=lambda: progress.sent.update(publish(make_producer(settings), cfg,
                                                    progress=progress.sent.update)),
        daemon=True)
    order_rate = 100.0
    flow = venue_order_flow(int(order_rate * seconds), cfg.seed, order_rate)
    console.print(f"    and {len(flow)} orders for BTC-USDT and ETH-USDT at {order_rate:.0f}/s "
                  "(limit, market, cancels, amends) through pre-trade risk into matching")
    # The traders log in to the gateway and send their orders over its WebSocket: every
    # order is authenticated, rate-limited and answered with risk's decision.
    tokens = {account: login_or_register(gateway.url, account, _TRADER_PASSWORD)["access_token"]
              for account in ACCOUNTS}
    console.print(f"    the traders log in to the gateway at {gateway.url} (web client there, "
                  f"OpenAPI at {gateway.url}/docs) and send their orders over its WebSocket")

    def _trade() -> None:
        progress.entry = send_orders(
            gateway.url, tokens, flow, order_rate,
            progress=lambda r: progress.orders_sent.update(orders=r.sent))

    orders = threading.Thread(target=_trade, daemon=True)
    t0 = time.monotonic()
    feeder.start()
    orders.start()
    try:
        if console.is_terminal:
            with Live(console=console, refresh_per_second=4) as live:
                while feeder.is_alive() or time.monotonic() - t0 < seconds + 3:
                    _drain(consumer, progress, t0)
                    for w in workers:
                        w.check_alive()
                    live.update(Group(_summary(progress, time.monotonic() - t0),
                                      _candle_table(progress), _matching_table(progress)))
                    if not feeder.is_alive() and time.monotonic() - t0 > seconds + 15:
                        break
                    time.sleep(0.25)
        else:
            next_line = 0.0
            while feeder.is_alive() or time.monotonic() - t0 < seconds + 3:
                _drain(consumer, progress, t0)
                for w in workers:
                    w.check_alive()
                if time.monotonic() - t0 >= next_line:
                    console.print(_summary(progress, time.monotonic() - t0))
                    next_line += 5
                time.sleep(0.25)
        # A worker with a backlog (ticks from earlier runs) catches up first: wait, bounded.
        deadline = time.monotonic() + 90
        while not _complete(progress) and time.monotonic() < deadline:
            _drain(consumer, progress, t0)
            for w in workers:
                w.check_alive()
            time.sleep(0.25)
        feeder.join(timeout=60)
        time.sleep(2)
        _drain(consumer, progress, t0)
        console.rule("simplified options bought with USDT: counter service → PostgreSQL → "
                     "Debezium → settlement (hedged through the venue adapter)")
        cdc_result = cdc_demo.run(settings, console, orders=100, start_worker=False)
        console.rule("market makers through the gateway: protection, cancel on disconnect, "
                     "a block RFQ")
        venue_tour = demo_venue.run(settings, console, gateway.url)
        console.print(venue_tour.table())
        console.rule("smart order routing: parent orders split across our book and the "
                     "external venues")
        routing_ok = demo_routing.run(settings, console)
        console.rule("compliance: KYC gates in the order database and risk, AML cases")
        compliance_ok = demo_compliance.run(settings, console)
        time.sleep(5)  # the last hedges and postings
    finally:
        consumer.close()
        # Risk, matching and booking finish what was sent before the worker stops, so the
        # positions read back below (and in ClickHouse) are those of every trade.
        wait_drained(settings, settings.worker.app_id, DRAINED, timeout_s=120)
        console.rule("operations: strikeflow ops health · ops lag · ops dlq list")
        time.sleep(6)  # one more scrape (every 5 s) after the last batch
        console.print(prometheus_view(settings))
        console.print(health_view(settings, groups=[
            *(w.app_id for w in workers), "strikeflow-sink-clickhouse",
            settings.elasticsearch.group_id]))
        console.print(_gateway_table(progress.entry))
        gateway.stop()
        for w in workers:
            w.stop()
        exporter.stop()
        es_sink.stop()
        time.sleep(settings.clickhouse.flush_interval_s + 1)  # the sink's last batch
        try:
            _print_analytics(settings, console)
            console.print(analytics_summary(settings))
            console.print(quality_summary(settings))
        finally:
            sink.stop()

    console.print(_candle_table(progress, limit=12))
    console.print(_matching_table(progress))
    console.print(market_summary(settings))
    console.rule("risk and settlement")
    console.print(accounts_summary(settings, ACCOUNTS, since))
    console.rule("search (Elasticsearch)")
    console.print(demo_search(settings))
    console.print(_summary(progress, time.monotonic() - t0))
    if progress.first_candle_s is not None:
        console.print(f"first candle {progress.first_candle_s:.1f}s after the first tick")
    console.print("The stack is still up: try [bold]strikeflow infra status[/], "
                  "[bold]strikeflow topics list[/]; stop it with [bold]strikeflow infra down[/].")
    console.rule("a fault drill: the worker SIGKILLed three times under load, then everything "
                 "reconciled (the full drill: strikeflow drill)")
    drill = Drill(settings, console, DrillConfig(kinds=("worker-sigkill",), orders=120,
                                                 rate=40, options=4)).run()
    drill_ok = all(o.clean for o in drill)
    ok = (_complete(progress) and cdc_result.ok and drill_ok and venue_tour.ok and routing_ok
          and compliance_ok)
    console.rule("[green]demo done" if ok else
                 "[red]demo produced no final candles" if not _complete(progress) else
                 "[red]demo: the CDC orders, the market makers' tour, routing, compliance or "
                 "the drill were not clean")
    return 0 if ok else 1
