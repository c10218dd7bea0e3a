"""``strikeflow drill``: load through the whole platform while faults are injected, then an
end-to-end reconciliation per fault kind.

Each fault kind gets a segment of its own: its own accounts (funded through the order
database → Debezium → risk), its own spot book, its own simplified-option buyers. While the
segment's orders flow (some of them produced with librdkafka's default partitioner, as kcat
would), the fault is injected; once it is over and the pipeline has drained, everything the
segment sent is traced through risk, matching, booking, the ledger, settlement, ClickHouse
and Elasticsearch (:mod:`strikeflow.drill.reconcile`).

The drill runs its own worker group (``drill-<run>``) from the current end of every input, so
it can run beside the main job's state without replaying it, and its books and accounts are
new names, so nothing it does is mixed with anything else.
"""

from __future__ import annotations

import json
import random
import string
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from cdc.config import get_cdc_config
from cdc.connector import register, wait_running
from cdc.counter import CounterService
from cdc.migrate import migrate
from cdc.offsets import commit_end_offsets
from cdc.products import standard_chain
from infra import stack
from infra.settings import Settings
from streams.kafka import end_offsets, make_consumer, make_producer, read_range, read_since
from streams.matching.orderflow import generate_commands
from streams.risk.account import AccountState
from streams.risk.records import split_key
from streams.worker_process import ElasticsearchSinkProcess, SinkProcess, WorkerProcess
from strikeflow.drill.faults import FAULTS, SHORT, DrillContext, Fault, FaultUnavailable
from strikeflow.drill.reconcile import Outcome, SegmentRecords, reconcile
from strikeflow.ops.kafka_admin import delete_groups
from topics.admin import apply_topics
from topics.catalogue import CATALOGUE, by_name

__all__ = ["DrillConfig", "run_drill"]

REQUESTS = by_name("orders.requests")
READ_BACK = ("orders.commands", "orders.events", "trades", "ledger", "settlement.orders",
             "accounts.activity")
MID = Decimal(90_000)
QUIET = 2  # librdkafka's log level for the drill's own clients: outages are planned here


@dataclass(frozen=True)
class DrillConfig:
    kinds: tuple[str, ...] = SHORT
    orders: int = 300  # per segment
    rate: float = 60.0  # orders per second
    options: int = 8  # simplified options bought per segment
    accounts: int = 3
    foreign_share: float = 0.25  # produced with librdkafka's default partitioner
    drain_s: float = 180.0


@dataclass
class _Segment:
    kind: str
    fault: Fault
    base: str
    accounts: list[str]
    since: dict[str, dict[int, int]] = field(default_factory=dict)
    sent_at: dict[str, float] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    options: set[str] = field(default_factory=set)
    injected_at: list[float] = field(default_factory=list)
    error: str | None = None
    phases: dict[str, float] = field(default_factory=dict)  # phase -> seconds it took
    reads: int = 0  # reconciliation reads until two agreed

    def timed(self, phase: str, since: float) -> float:
        now = time.monotonic()
        self.phases[phase] = now - since
        return now

    @property
    def symbol(self) -> str:
        return f"{self.base}-USDT"


def _tag(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(n))


def _read_since(settings: Settings, topic: str, since: dict[int, int],
                keep: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    records = (orjson.loads(m.value()) for m in read_since(settings, topic, since)
               if m.value())
    return [r for r in records if keep(r)]


class _Outcomes(threading.Thread):
    """Watches orders.commands and orders.events: when did each request get its outcome."""

    def __init__(self, settings: Settings, since: dict[str, dict[int, int]],
                 prefix: str) -> None:
        super().__init__(daemon=True)
        self.settings, self.since, self.prefix = settings, since, prefix
        self.seen: dict[str, float] = {}  # command id → when its outcome was first seen
        self.stopped = threading.Event()

    def run(self) -> None:
        from confluent_kafka import TopicPartition

        consumer = make_consumer(self.settings, f"drill-watch-{uuid.uuid4().hex[:8]}",
                                 log_level=QUIET)
        consumer.assign([TopicPartition(t, p, o) for t in ("orders.commands", "orders.events")
                         for p, o in self.since[t].items()])
        try:
            while not self.stopped.is_set():
                for msg in consumer.consume(2000, 0.2):
                    if msg.error() or not msg.value():
                        continue
                    record = orjson.loads(msg.value())
                    cid = (record.get("command_id") if msg.topic() == "orders.commands"
                           else record.get("causation_id"))
                    if cid and cid.startswith(self.prefix) and cid not in self.seen:
                        self.seen[cid] = time.monotonic()
        finally:
            consumer.close()


class Drill:
    def __init__(self, settings: Settings, console: Console, cfg: DrillConfig) -> None:
        self.settings, self.console, self.cfg = settings, console, cfg
        rng = random.Random(uuid.uuid4().int)
        self.run_id = _tag(rng, 4)
        self.app_id = f"drill-{self.run_id.lower()}"
        self.segments = [
            _Segment(kind, FAULTS[kind], f"DR{self.run_id}{string.ascii_uppercase[n]}",
                     [f"drill-{self.run_id.lower()}-{n}-{a}" for a in range(cfg.accounts)])
            for n, kind in enumerate(cfg.kinds)]
        self.env = {"STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES":
                    json.dumps([s.base for s in self.segments])}
        self.cdc = get_cdc_config()

    # -- processes ---------------------------------------------------------------------------
    def _worker(self, name: str = "", n: int = 1) -> WorkerProcess:
        settings = self.settings
        if name:  # another machine: its own RocksDB directory and log
            settings = settings.model_copy(
                update={"data_dir": settings.data_dir / "drill" / f"{self.app_id}-{name}"})
        return WorkerProcess(settings, self.app_id, self.settings.worker.web_port + 30 + n,
                             env=self.env)

    def _start(self) -> DrillContext:
        inputs = [s.name for s in CATALOGUE if s.input]
        commit_end_offsets(self.settings, self.app_id, inputs)
        # The Elasticsearch sink in a group of its own from the current end (the shared
        # group may have a backlog of other runs to work through first).
        from sinks.search_index.sink import SOURCES

        es_group = f"{self.app_id}-elasticsearch"
        commit_end_offsets(self.settings, es_group, tuple(SOURCES))
        es_sink = ElasticsearchSinkProcess(
            self.settings, env={"STRIKEFLOW_ELASTICSEARCH__GROUP_ID": es_group})
        ctx = DrillContext(self.settings, self._worker(), SinkProcess(self.settings), es_sink,
                           self._worker)
        for proc in (ctx.worker, ctx.sink, ctx.es_sink):
            proc.start(timeout_s=180)
        return ctx

    # -- one segment -------------------------------------------------------------------------
    def _fund(self, svc: CounterService, seg: _Segment) -> None:
        transfers = set()
        for account in seg.accounts:
            svc.open_account(account)
            done = svc.deposit(account, Decimal(1_000_000), f"drill {seg.base}")
            transfers.add(f"transfer:{done.transfer_id}")
        deadline = time.monotonic() + 120
        seen: set[str] = set()
        while time.monotonic() < deadline and not transfers <= seen:
            seen |= {r["event_id"] for r in _read_since(
                self.settings, "accounts.activity", seg.since["accounts.activity"],
                lambda r: r.get("account") in seg.accounts)}
            time.sleep(1)
        if not transfers <= seen:
            raise RuntimeError(f"{seg.kind}: deposits did not reach accounts.activity")

    def _load(self, seg: _Segment) -> None:
        """The segment's orders, paced; a share produced as kcat would (CRC32 partitions)."""
        ours = make_producer(self.settings, log_level=QUIET)
        foreign = make_producer(self.settings, partitioner="consistent_random",
                                log_level=QUIET)
        rng = random.Random(seg.base)
        commands = list(generate_commands([seg.symbol], self.cfg.orders, rng.randint(0, 10**6),
                                          datetime.now(UTC), MID, prefix=f"{seg.base}-",
                                          accounts=tuple(seg.accounts)))
        # a third of the limit orders cross the book (mirrored through the mid), so the
        # segment trades, books fills and moves positions, not only rests and cancels
        commands = [c.model_copy(update={"price": 2 * MID - c.price})
                    if getattr(c, "order_type", None) == "limit" and rng.random() < 0.35
                    else c for c in commands]
        t0 = time.monotonic()
        for n, cmd in enumerate(commands):
            producer = foreign if rng.random() < self.cfg.foreign_share else ours
            value = REQUESTS.encode(cmd)
            seg.requests.append(json.loads(value))
            seg.sent_at[cmd.command_id] = time.monotonic()
            producer.produce(REQUESTS.name, key=cmd.account.encode(), value=value)
            producer.poll(0)
            if (ahead := (n + 1) / self.cfg.rate - (time.monotonic() - t0)) > 0.002:
                time.sleep(ahead)
        for producer in (ours, foreign):
            if producer.flush(300):
                seg.error = "orders not delivered to Kafka"

    def _buy_options(self, svc: CounterService, seg: _Segment, products: list[Any]) -> None:
        """Simplified options through the counter service; a placement that fails during an
        outage is retried with the same client id (the counter answers a repeat with the
        first result)."""
        rng = random.Random(seg.base + "options")
        for i in range(self.cfg.options):
            account, product = seg.accounts[i % len(seg.accounts)], rng.choice(products)
            deadline = time.monotonic() + 120
            while True:
                try:
                    order = svc.place_order(account, product.id, 1, f"{seg.base}-opt-{i}")
                    seg.options.add(str(order.order_id))
                    break
                except Exception as exc:  # PostgreSQL down: retry until the deadline
                    if time.monotonic() > deadline:
                        seg.error = f"option placement failed: {exc}"
                        break
                    time.sleep(1)
            time.sleep(self.cfg.orders / self.cfg.rate / self.cfg.options)

    def _segment(self, ctx: DrillContext, svc: CounterService, seg: _Segment,
                 products: list[Any]) -> Outcome:
        mark = time.monotonic()
        seg.since = {t: end_offsets(self.settings, t) for t in READ_BACK}
        self._fund(svc, seg)
        mark = seg.timed("funded", mark)
        watch = _Outcomes(self.settings, seg.since, f"{seg.base}-")
        watch.start()
        load = threading.Thread(target=self._load, args=(seg,), daemon=True)
        buyer = threading.Thread(target=self._buy_options, args=(svc, seg, products),
                                 daemon=True)
        load.start()
        buyer.start()
        span = self.cfg.orders / self.cfg.rate
        available = True
        for k in range(seg.fault.times):
            time.sleep(span / (seg.fault.times + 1))
            seg.injected_at.append(time.monotonic())
            try:
                seg.fault.inject(ctx)
            except FaultUnavailable as exc:
                available = False
                seg.error = str(exc)
                break
            revived = ctx.revive()
            if revived:
                self.console.print(f"    {seg.kind} #{k + 1}: revived {', '.join(revived)}")
        load.join()
        buyer.join()
        mark = seg.timed("loaded under faults", mark)
        wanted = {r["command_id"] for r in seg.requests}
        deadline = time.monotonic() + self.cfg.drain_s
        while time.monotonic() < deadline and not wanted <= set(watch.seen):
            ctx.revive()
            time.sleep(1)
        watch.stopped.set()
        mark = seg.timed("every request answered", mark)
        first = seg.injected_at[0] if seg.injected_at else None
        late = [watch.seen[c] - t for c, t in seg.sent_at.items()
                if first is not None and t >= first and c in watch.seen]
        previous: tuple[int, ...] | None = None
        while True:  # matching, booking, settlement and the sinks catch up: read again until
            records = self._records(seg)  # clean and unchanged between two reads
            seg.reads += 1
            records.injected = len(seg.injected_at) if available else 0
            records.recovery_s = round(max(late), 1) if late else None
            outcome = reconcile(records)
            counts = (outcome.accepted, outcome.trades, outcome.ledger, outcome.clickhouse_rows,
                      outcome.elasticsearch_docs)
            if (outcome.clean and counts == previous) or time.monotonic() > deadline:
                break
            previous = counts
            ctx.revive()
            time.sleep(3)
        seg.timed(f"reconciled ({seg.reads} reads)", mark)
        if seg.error:
            outcome.problems.insert(0, seg.error)
        return outcome

    def _records(self, seg: _Segment) -> SegmentRecords:
        s, accounts, symbol = self.settings, set(seg.accounts), seg.symbol
        trades = _read_since(s, "trades", seg.since["trades"], lambda r: r["symbol"] == symbol)
        entries = _read_since(s, "ledger", seg.since["ledger"], lambda r: True)
        postings = {e["posting_id"] for e in entries
                    if e["account"] in accounts or e.get("symbol") == symbol}
        return SegmentRecords(
            kind=seg.kind, symbol=symbol, accounts=accounts, requests=seg.requests,
            options_placed=seg.options,
            commands=_read_since(s, "orders.commands", seg.since["orders.commands"],
                                 lambda r: r.get("account") in accounts),
            events=_read_since(s, "orders.events", seg.since["orders.events"],
                               lambda r: r["symbol"] == symbol),
            trades=trades, ledger=[e for e in entries if e["posting_id"] in postings],
            options_arrived=_read_since(s, "settlement.orders", seg.since["settlement.orders"],
                                        lambda r: r.get("account") in accounts),
            risk_state=self._risk_state(accounts),
            clickhouse_trades=self._clickhouse_trades(symbol),
            elasticsearch_trades=self._elasticsearch_trades(symbol))

    def _risk_state(self, accounts: set[str]) -> dict[str, dict[str, Any]]:
        """What risk holds for ``accounts``, read back from its table's changelog (the
        latest value of each stored part; a tombstone deletes one)."""
        topic = f"{self.app_id}-risk-accounts-changelog"
        parts: dict[str, dict[str, Any]] = {a: {} for a in accounts}
        for partition, end in end_offsets(self.settings, topic).items():
            for msg in read_range(self.settings, topic, partition, 0, end):
                account, part = split_key(msg.key() or b"")
                if account in parts:
                    if msg.value():
                        parts[account][part] = orjson.loads(msg.value())
                    else:
                        parts[account].pop(part, None)
        latest: dict[str, dict[str, Any]] = {}
        for account, stored in parts.items():
            state = AccountState.load(account, stored.get)
            if state is not None:
                latest[account] = {"cash": str(state.cash), "open_orders": {
                    c: r.to_json() for c, r in state.open_orders.items()}}
        return latest

    def _clickhouse_trades(self, symbol: str) -> int:
        from analytics.query import query_rows

        try:
            rows = query_rows(self.settings, "SELECT count() AS n FROM strikeflow.trades FINAL "
                                             f"WHERE symbol = '{symbol}'")
            return int(rows[0]["n"])
        except Exception:
            return 0  # the sink restarting: asked again until the deadline

    def _elasticsearch_trades(self, symbol: str) -> int:
        from sinks.search_index.indices import IndexNames, open_client

        try:
            client = open_client(self.settings)
            index = IndexNames.of(self.settings)["trades"]
            client.indices.refresh(index=index)
            return int(client.count(index=index, body={"query": {"term": {"symbol": symbol}}})
                       ["count"])
        except Exception:
            return 0  # Elasticsearch coming back: asked again until the deadline

    # -- the whole drill ---------------------------------------------------------------------
    def run(self) -> list[Outcome]:
        c = self.console
        c.print(f"drill {self.run_id}: {len(self.segments)} fault kinds, "
                f"{self.cfg.orders} orders + {self.cfg.options} options each")
        stack.up(self.settings, progress=lambda m: c.print(f"    {m}"))
        apply_topics(self.settings.kafka.bootstrap_servers)
        migrate(self.settings)
        register(self.settings, self.cdc)
        wait_running(self.settings, self.cdc, timeout_s=120)
        ctx = self._start()
        outcomes = []
        try:
            with CounterService.connect(self.settings, self.cdc, min_size=1, max_size=4) as svc:
                svc.list_products(standard_chain(datetime.now(UTC), {
                    "BTC": self.cdc.spot_btc, "ETH": self.cdc.spot_eth}))
                products = svc.products()
                for seg in self.segments:
                    c.print(f"  {seg.kind}: {seg.fault.what} (book {seg.symbol})")
                    t0 = time.monotonic()
                    outcome = self._segment(ctx, svc, seg, products)
                    outcomes.append(outcome)
                    c.print(f"    {'clean' if outcome.clean else 'NOT CLEAN'} in "
                            f"{time.monotonic() - t0:.0f}s: "
                            + ", ".join(f"{p} {s:.0f}s" for p, s in seg.phases.items())
                            + "".join(f"\n    - {p}" for p in outcome.problems))
        finally:
            for proc in (ctx.worker, ctx.sink, ctx.es_sink):
                proc.stop()
        # The drill's groups are done with: left behind, their lag would grow (and alert)
        # for as long as the platform runs.
        time.sleep(1)
        delete_groups(self.settings, self.app_id)
        c.print(table(outcomes))
        return outcomes


def table(outcomes: list[Outcome]) -> Table:
    t = Table("fault", "injected", "published", "accepted", "outcomes", "trades", "ledger",
              "CH rows", "ES docs", "lost", "dup.", "corrupt", "recovery s",
              title="fault drill: end-to-end reconciliation")
    t.columns[0].no_wrap = True
    for o in outcomes:
        t.add_row(o.kind, str(o.injected), str(o.published), str(o.accepted), str(o.outcomes),
                  str(o.trades), str(o.ledger), str(o.clickhouse_rows),
                  str(o.elasticsearch_docs), str(o.lost), str(o.duplicated), str(o.corrupted),
                  "-" if o.recovery_s is None else f"{o.recovery_s:.1f}")
    return t


def run_drill(settings: Settings, console: Console, cfg: DrillConfig) -> int:
    outcomes = Drill(settings, console, cfg).run()
    clean = all(o.clean for o in outcomes if o.injected)
    console.rule("[green]drill clean: nothing lost, duplicated or corrupted" if clean
                 else "[red]drill found losses, duplicates or corruption")
    return 0 if clean else 1
