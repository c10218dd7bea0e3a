"""Demo step and client of smart order routing: send parent orders to ``routing.orders``, read
their reports back from ``routing.reports`` and show them.

``run(settings, console)`` is the main job's step (it needs the trading worker, which runs the
routing agent, risk and matching, and the market-data worker, whose per-venue books routing
splits against). Children routed to our own book are real IOC orders of the parent's account
through risk and matching, so the demo account is funded first, the way the simulated
traders are (a deposit in the order database, carried to risk by Debezium);
``strikeflow route`` uses :func:`send_parents`, :func:`await_reports` and
:func:`report_table` for one parent (its account needs funds for the part on our book).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from confluent_kafka import TopicPartition
from rich.console import Console
from rich.table import Table

from infra.settings import Settings
from streams.kafka import end_offsets, make_consumer, make_producer
from streams.routing.venues import OWN_VENUE
from strikeflow.demo_accounts import fund_accounts
from topics.catalogue import ContractError, by_name
from topics.contracts.routing import ParentOrderReport, RouteOrder

__all__ = ["DEMO_ACCOUNT", "await_reports", "demo_orders", "report_table", "route_order",
           "run", "send_parents"]

ROUTES = by_name("routing.orders")
REPORTS = by_name("routing.reports")
DEMO_ACCOUNT = "router-demo"
#: enough for the demo's buys and the margin of its sells on our book, several runs a day
DEMO_FUNDING = Decimal("1000000")


def route_order(symbol: str, side: str, qty: Decimal, *, account: str, parent_id: str,
                limit_price: Decimal | None = None, max_rounds: int = 3) -> RouteOrder:
    return RouteOrder(command_id=f"route-cmd:{parent_id}", ts_sent=datetime.now(UTC),
                      account=account, parent_id=parent_id, symbol=symbol,
                      side=side,  # type: ignore[arg-type]
                      qty=qty, limit_price=limit_price, max_rounds=max_rounds)


def demo_orders(run_id: str, account: str = DEMO_ACCOUNT) -> list[RouteOrder]:
    """BTC-USDT and ETH-USDT, a buy and a sell of each, sized to need more than one venue."""
    return [route_order(symbol, side, Decimal(qty), account=account,
                        parent_id=f"sor-{run_id}-{n}", max_rounds=4)
            for n, (symbol, side, qty) in enumerate([
                ("BTC-USDT", "buy", "0.8"), ("BTC-USDT", "sell", "0.5"),
                ("ETH-USDT", "buy", "12"), ("ETH-USDT", "sell", "6")])]


def send_parents(settings: Settings, orders: Iterable[RouteOrder]) -> dict[int, int]:
    """Publish the parents (keyed by parent id); where ``routing.reports`` ended before."""
    since = end_offsets(settings, REPORTS.name)
    producer = make_producer(settings)
    for o in orders:
        producer.produce(ROUTES.name, key=o.parent_id.encode(), value=ROUTES.encode(o))
    if producer.flush(10):
        raise RuntimeError("routing.orders: parent orders not delivered")
    return since


def await_reports(settings: Settings, parent_ids: Iterable[str], since: dict[int, int],
                  timeout_s: float = 60.0) -> dict[str, ParentOrderReport]:
    """The latest report of each parent, once every one is final or the time is up."""
    wanted = set(parent_ids)
    latest: dict[str, ParentOrderReport] = {}
    consumer = make_consumer(settings, f"routing-client-{uuid.uuid4().hex[:8]}")
    try:
        consumer.assign([TopicPartition(REPORTS.name, p, o) for p, o in since.items()])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.3):
                if msg.error() or (msg.key() or b"").decode() not in wanted:
                    continue
                try:
                    report = REPORTS.decode(msg.value())
                except ContractError:
                    continue
                seen = latest.get(report.parent_id)
                if seen is None or report.version >= seen.version:
                    latest[report.parent_id] = report
            if wanted <= set(latest) and all(latest[p].final for p in wanted):
                break
    finally:
        consumer.close()
    return latest


def _shares(report: ParentOrderReport) -> str:
    return " ".join(f"{v} {s * 100:.1f}%" for v, s in
                    sorted(report.venue_shares.items(), key=lambda kv: -kv[1])) or "-"


def report_table(reports: Iterable[ParentOrderReport]) -> Table:
    table = Table(title="smart order routing: parent orders (slippage vs the arrival mid; "
                        "+ = worse for the parent)")
    for column in ("parent", "symbol", "side", "status", "filled / qty", "VWAP", "arrival",
                   "slip bps", "all-in bps", "fees USDT", "rounds", "children",
                   "venue shares"):
        table.add_column(column, justify="right" if column not in (
            "parent", "symbol", "side", "status", "venue shares") else "left")
    for r in reports:
        table.add_row(r.parent_id, r.symbol, r.side, r.status + ("" if r.final else " …"),
                      f"{r.filled_qty.normalize():f} / {r.qty.normalize():f}",
                      f"{r.vwap:.2f}" if r.vwap else "-",
                      f"{r.arrival_price:.2f}" if r.arrival_price else "-",
                      f"{r.slippage_bps}" if r.slippage_bps is not None else "-",
                      f"{r.all_in_slippage_bps}" if r.all_in_slippage_bps is not None else "-",
                      f"{r.fees:.4f}", str(r.rounds), str(len(r.children)), _shares(r))
    return table


def run(settings: Settings, console: Console, timeout_s: float = 60.0) -> bool:
    """Route four parents while the workers run; True if every one reached a final state."""
    orders = demo_orders(uuid.uuid4().hex[:8])
    funded = fund_accounts(settings, (DEMO_ACCOUNT,), DEMO_FUNDING)
    console.print(f"routing {len(orders)} parent orders of {DEMO_ACCOUNT} "
                  f"({'funded' if funded else 'funding not seen yet'}) across our book (real "
                  "IOC orders through risk and matching) and the external venues (simulated "
                  "fills against each venue's book, with latency and partial fills)")
    started = time.monotonic()
    since = send_parents(settings, orders)
    reports = await_reports(settings, [o.parent_id for o in orders], since, timeout_s)
    ordered = [reports[o.parent_id] for o in orders if o.parent_id in reports]
    console.print(report_table(ordered))
    own = [c for r in ordered for c in r.children if c.venue == OWN_VENUE]
    traded = [c for c in own if c.filled_qty > 0]
    refused = sorted({c.reason or "" for c in own if c.status == "failed"})
    console.print(f"    our book: {len(traded)} of {len(own)} children traded in our matching "
                  f"engine ({sum((c.filled_qty for c in traded), Decimal(0)).normalize():f} "
                  "filled)" + (f"; refused: {', '.join(refused)}" if refused else ""))
    done = len(ordered) == len(orders) and all(r.final for r in ordered)
    console.print(f"    {sum(r.final for r in ordered)}/{len(orders)} parents final in "
                  f"{time.monotonic() - started:.1f}s"
                  + ("" if done else " — some parents did not finish (is the worker up?)"))
    return done
