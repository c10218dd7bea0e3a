"""The order-database part of the main job: counter → PostgreSQL → Debezium → settlement.

:func:`run` migrates, registers the connector, lists the standard products, funds a few fresh
accounts, buys simplified options through the counter service and counts what reaches
``settlement.orders``. It uses the running worker's bridge when one is up (the main demo's),
or starts its own worker group for the run, positioned at the end of the change stream.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from confluent_kafka import TopicPartition
from rich.console import Console
from rich.table import Table

from cdc.bridge.orders import PRODUCER_HEADER
from cdc.config import CdcConfig, get_cdc_config
from cdc.connector import register, wait_running
from cdc.counter import CounterService, OrderRequest
from cdc.domain import CounterError
from cdc.migrate import migrate
from cdc.offsets import commit_end_offsets
from cdc.products import standard_chain
from infra import stack
from infra.settings import Settings
from streams.kafka import make_consumer
from streams.worker_process import WorkerProcess
from topics.admin import apply_topics

__all__ = ["DemoResult", "run"]

CDC_TOPICS = ("cdc.public.orders", "cdc.public.transfers", "cdc.public.accounts")
SETTLEMENT = "settlement.orders"


@dataclass
class DemoResult:
    """How many orders the counter placed and how many reached ``settlement.orders``."""

    placed: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    arrived: int = 0
    duplicates: int = 0
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.placed > 0 and self.arrived == self.placed

    def latency_ms(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _settlement_reader(settings: Settings) -> Any:
    """A consumer at the current end of ``settlement.orders`` (explicit offsets, no race)."""
    consumer = make_consumer(settings, f"cdc-demo-reader-{uuid.uuid4().hex[:8]}")
    meta = consumer.list_topics(SETTLEMENT, timeout=10).topics[SETTLEMENT]
    parts = []
    for p in meta.partitions:
        _low, high = consumer.get_watermark_offsets(TopicPartition(SETTLEMENT, p), timeout=10)
        parts.append(TopicPartition(SETTLEMENT, p, high))
    consumer.assign(parts)
    return consumer


def _place(svc: CounterService, accounts: list[str], products: list[Any], orders: int,
           result: DemoResult, rng: random.Random, placed_at: dict[str, float]) -> None:
    """Half one order per call, half in batches of 10 (:meth:`CounterService.place_orders`:
    one transaction each, the same guarantees)."""
    requests = [OrderRequest(accounts[i % len(accounts)], rng.choice(products).id,
                             rng.randint(1, 5), f"demo-{i}") for i in range(orders)]
    half = orders // 2
    for request in requests[:half]:
        try:
            order = svc.place_order(request.account, request.product, request.contracts,
                                    request.client_order_id)
        except CounterError as exc:
            result.refused[exc.code.name] += 1
            continue
        placed_at[str(order.order_id)] = time.time()
        result.placed += 1
    for start in range(half, orders, 10):
        for outcome in svc.place_orders(requests[start:start + 10]):
            if isinstance(outcome, CounterError):
                result.refused[outcome.code.name] += 1
                continue
            placed_at[str(outcome.order_id)] = time.time()
            result.placed += 1


def run(settings: Settings, console: Console, orders: int = 200, *,
        cfg: CdcConfig | None = None, start_worker: bool | None = None,
        timeout_s: float = 90.0) -> DemoResult:
    """Place ``orders`` simplified-option orders and count them on ``settlement.orders``.

    ``start_worker``: ``None`` starts a worker only if none answers on the configured web
    port; ``True``/``False`` force it.
    """
    cfg = cfg or get_cdc_config()
    t0 = time.monotonic()
    result = DemoResult()
    console.print("cdc 1/5 the stack, the order database and the topics")
    stack.up(settings, progress=lambda m: console.print(f"    {m}"))
    migration = migrate(settings)
    apply_topics(settings.kafka.bootstrap_servers)
    console.print(f"    schema at revision {migration.after}")
    console.print(f"cdc 2/5 Debezium connector {cfg.connector_name}")
    register(settings, cfg)
    wait_running(settings, cfg, timeout_s=120)
    if start_worker is None:
        start_worker = not _port_open(settings.worker.web_host, settings.worker.web_port)
    worker: WorkerProcess | None = None
    bridge_id = settings.worker.app_id
    if start_worker:
        bridge_id = f"cdc-demo-{uuid.uuid4().hex[:6]}"
        commit_end_offsets(settings, bridge_id, CDC_TOPICS)
        worker = WorkerProcess(settings, bridge_id, settings.worker.web_port + 7,
                               offset_reset="latest")
        worker.env["STRIKEFLOW_WORKER__AGENTS"] = '["cdc.bridge"]'  # the bridge only
        console.print(f"cdc 3/5 a bridge worker {bridge_id} (log: {worker.log})")
        worker.start()
    else:
        console.print(f"cdc 3/5 using the running worker's bridge ({bridge_id})")
    reader = _settlement_reader(settings)
    run_id = uuid.uuid4().hex[:6]
    accounts = [f"demo-{run_id}-{n}" for n in range(4)]
    try:
        with CounterService.connect(settings, cfg, min_size=1, max_size=4) as svc:
            now = datetime.now(UTC)
            svc.list_products(standard_chain(now, {"BTC": cfg.spot_btc, "ETH": cfg.spot_eth}))
            products = svc.products()
            for account in accounts:
                svc.open_account(account)
                svc.deposit(account, Decimal(250_000), f"demo-funding-{run_id}")
            console.print(f"cdc 4/5 {len(accounts)} accounts funded with 250000 USDT; "
                          f"buying {orders} options over {len(products)} products")
            placed_at: dict[str, float] = {}
            placer = threading.Thread(target=_place, args=(
                svc, accounts, products, orders, result, random.Random(run_id), placed_at))
            placer.start()  # read while placing, so the latency is commit → arrival
            seen: Counter[str] = Counter()
            deadline = time.monotonic() + timeout_s
            while (placer.is_alive() or len(seen) < result.placed) \
                    and time.monotonic() < deadline:
                msg = reader.poll(0.2)
                if msg is None or msg.error():
                    continue
                if dict(msg.headers() or []).get(PRODUCER_HEADER) != bridge_id.encode():
                    continue  # another worker group bridging the same stream
                value = json.loads(msg.value())
                if value["account"] in accounts and value["status"] == "open":
                    seen[value["event_id"]] += 1
                    sent = placed_at.get(value["order_id"])
                    if sent is not None and seen[value["event_id"]] == 1:
                        result.latencies_ms.append((time.time() - sent) * 1000)
            placer.join()
            # one replay: the counter answers with the first result, nothing new is written
            replay = svc.place_order(accounts[0], products[0].id, 1, "demo-0")
            assert replay.replayed or result.refused
        console.print(f"cdc 5/5 {len(seen)} of {result.placed} orders arrived on {SETTLEMENT}")
        result.arrived = len(seen)
        result.duplicates = sum(n - 1 for n in seen.values())
    finally:
        reader.close()
        if worker is not None:
            worker.stop()
    result.elapsed_s = time.monotonic() - t0
    _report(console, result)
    return result


def _report(console: Console, result: DemoResult) -> None:
    table = Table("placed", "refused", "arrived on settlement.orders", "duplicates",
                  "commit→settlement p50", "p99", title="order database → Debezium → bridge")
    p50, p99 = result.latency_ms(0.5), result.latency_ms(0.99)
    table.add_row(str(result.placed), ", ".join(f"{k}={v}" for k, v in result.refused.items())
                  or "0", str(result.arrived), str(result.duplicates),
                  f"{p50:.0f} ms" if p50 is not None else "-",
                  f"{p99:.0f} ms" if p99 is not None else "-")
    console.print(table)
    verdict = "[green]every order arrived once[/]" if result.ok else "[red]orders missing[/]"
    console.print(f"{verdict} ({result.elapsed_s:.1f}s)")
