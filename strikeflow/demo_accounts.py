"""The main job's accounts part: fund the simulated traders through the order database
(PostgreSQL → Debezium → the bridge → risk), then show what risk and settlement made of the
run — positions and PnL, risk rejections, the house's hedge book, and the ledger's proof."""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from rich.console import Group
from rich.table import Table

from cdc.config import get_cdc_config
from cdc.connector import register, wait_running
from cdc.counter import CounterService
from cdc.migrate import migrate
from infra.settings import Settings
from streams.kafka import make_consumer
from streams.ledger import check_ledger

_DEMO_BOOKS = ("BTC-USDT", "ETH-USDT")  # the order flow's books (tests trade others)

__all__ = ["accounts_summary", "fund_accounts", "read_topic"]


def read_topic(settings: Settings, topic: str, since: dict[int, int] | None = None,
               timeout_s: float = 60) -> list[dict[str, Any]]:
    """Every record of ``topic`` (from ``since`` or the start) up to its current end."""
    consumer = make_consumer(settings, f"demo-read-{uuid.uuid4().hex[:8]}")
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in parts}
        start = since or {}
        todo = {p for p in parts if ends[p] > start.get(p, 0)}
        consumer.assign([TopicPartition(topic, p, start.get(p, OFFSET_BEGINNING))
                         for p in todo])
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            for msg in consumer.consume(5000, 0.5):
                if msg.error():
                    continue
                if msg.value():
                    out.append(orjson.loads(msg.value()))
                if msg.offset() + 1 >= ends[msg.partition()]:
                    todo.discard(msg.partition())
        return out
    finally:
        consumer.close()


def fund_accounts(settings: Settings, accounts: tuple[str, ...], amount: Decimal,
                  timeout_s: float = 60) -> int:
    """Deposit ``amount`` USDT for each account in the order database (once per day and
    account) and wait until Debezium has carried the transfers to ``accounts.activity``."""
    cfg = get_cdc_config()
    migrate(settings)
    register(settings, cfg)
    wait_running(settings, cfg, timeout_s=120)
    reference = f"demo-funding-{time.strftime('%Y%m%d')}"
    with CounterService.connect(settings, cfg, min_size=1, max_size=2) as svc:
        transfer_ids = set()
        for account in accounts:
            svc.open_account(account)
            transfer_ids.add(f"transfer:{svc.deposit(account, amount, reference).transfer_id}")
    deadline = time.monotonic() + timeout_s
    seen: set[str] = set()
    while time.monotonic() < deadline and not transfer_ids <= seen:
        seen |= {r["event_id"] for r in read_topic(settings, "accounts.activity")
                 if r.get("type") == "transfer"}
        time.sleep(1)
    return len(transfer_ids & seen)


def _positions_table(positions: list[dict[str, Any]], accounts: tuple[str, ...]) -> Table:
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for p in positions:
        key = (p["account"], p["symbol"])
        if p["account"] in accounts and p["symbol"] in _DEMO_BOOKS \
                and (key not in latest or p["seq"] >= latest[key]["seq"]):
            latest[key] = p
    table = Table("account", "instrument", "qty", "avg price", "mark", "unrealized PnL",
                  "realized PnL", title="positions and PnL (USDT) of the simulated traders")
    for (account, symbol), p in sorted(latest.items()):
        table.add_row(account, symbol, p["qty"], f"{Decimal(p['avg_price']):.2f}",
                      f"{Decimal(p['mark_price']):.2f}" if p.get("mark_price") else "-",
                      f"{Decimal(p['unrealized_pnl']):.2f}", f"{Decimal(p['realized_pnl']):.2f}")
    return table


def _hedge_table(hedges: list[dict[str, Any]]) -> Table:
    book: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    seen: set[str] = set()
    for h in hedges:
        if h["hedge_id"] in seen:
            continue
        seen.add(h["hedge_id"])
        sign = 1 if h["side"] == "buy" else -1
        row = book[h["symbol"]]
        row["net"] += sign * Decimal(h["qty"])
        row["cash"] -= sign * Decimal(h["qty"]) * Decimal(h["avg_price"])
        row["fees"] += Decimal(h["fee"])
        row["slippage"] += Decimal(h["slippage_bps"])
        row["count"] += 1
    table = Table("pair", "hedges", "net position", "USDT spent (-) / received (+)",
                  "fees", "avg slippage bps", title="the house's hedge book (all runs)")
    for symbol, row in sorted(book.items()):
        table.add_row(symbol, str(row["count"]), str(row["net"]), f"{row['cash']:.2f}",
                      f"{row['fees']:.2f}", f"{row['slippage'] / row['count']:.2f}")
    return table


def accounts_summary(settings: Settings, accounts: tuple[str, ...],
                     since: dict[str, dict[int, int]]) -> Group:
    """Positions, this run's risk rejections, the hedge book and the ledger check."""
    rejections: Counter[str] = Counter()
    for event in read_topic(settings, "orders.events", since.get("orders.events")):
        code = event.get("reason_code")
        if event.get("kind") == "rejected" and code and code >= 5000:
            rejections[f"{code} {event['reason']}"] += 1
    rejected = Table("code", "orders", title="this run's pre-trade risk rejections")
    for reason, n in rejections.most_common():
        rejected.add_row(reason, str(n))
    entries = read_topic(settings, "ledger")
    check = check_ledger((e["event_id"], e["posting_id"], e["account"], Decimal(e["amount"]))
                         for e in entries)
    verdict = (f"[green]ledger balanced[/]: {check.entries} entries in "
               f"{len({e['posting_id'] for e in entries})} postings sum to {check.total}; "
               f"{check.duplicates} replayed entries counted once; house fees "
               f"{check.balances.get('house:fees', Decimal(0)):.2f} USDT"
               if check.ok else f"[red]ledger check failed[/]: {check.problems()[:3]}")
    return Group(_positions_table(read_topic(settings, "positions"), accounts), rejected,
                 _hedge_table(read_topic(settings, "settlement.hedges")), verdict)
