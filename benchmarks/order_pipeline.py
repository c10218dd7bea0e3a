"""End to end: ``orders.requests`` → risk → matching → ``orders.events``/``trades`` → booking
→ ``ledger``, against a raw confluent-kafka passthrough over the same three hops.

Everything runs on a private Kafka broker (:mod:`benchmarks.private_kafka`), so the run
neither disturbs nor is disturbed by a live stack. One worker process runs the three agents
(risk, matching, ledger), as the main job's trading worker does; ``--workers 2`` runs two
such processes in one group, Faust sharing the partitions between them. ``--accounts``
funded accounts trade ``--instruments`` new spot instruments: orders alternate two makers
that rest (99/101) and two takers that cross them (102/98), so half of the orders trade and
every trade is booked.

* **throughput** — N requests produced at once; orders/s = N / time from the first produce
  until every request has its answer on ``orders.events`` and every trade its ledger posting.
  The baseline moves the same N requests through three chained consume→produce legs with bare
  confluent-kafka clients (requests → scratch → scratch → scratch), all legs running at once.
* **latency** — requests paced at ``--rate``/s: request produced → its first
  ``orders.events`` record (risk's or matching's answer) and trade → its ledger posting,
  p50/p99/p99.9 on this process's clock.
* **state** — bytes the worker's tables wrote to their changelogs, per request; then the
  worker is stopped, its local state directory deleted, and it is started again: seconds
  until it answers a new request (everything read back from the changelogs).

Goals are reported, never enforced (exit 0): ≥ 10k orders/s, ≥ 0.25 of the passthrough, p99 ≤
100 ms at 5k/s paced.

    python -m benchmarks.order_pipeline [--orders 30000] [--rate 5000] [--latency-seconds 10]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import psutil
from confluent_kafka.admin import AdminClient

from benchmarks.kafka_legs import chained_passthrough, end_offsets, produce
from benchmarks.private_kafka import private_kafka
from infra.kafka_security import Role
from infra.settings import Settings, get_settings
from streams.kafka import end_offsets as streams_end_offsets
from streams.kafka import make_consumer, make_producer, read_range
from streams.worker_process import WorkerProcess
from topics.catalogue import by_name
from topics.contracts import FundsTransferred, SubmitOrder

REQUESTS, ACTIVITY = by_name("orders.requests"), by_name("accounts.activity")
MID, QTY = Decimal(100), Decimal("0.01")
KINDS = (("buy", -1), ("sell", 1), ("buy", 2), ("sell", -2))  # two makers, two takers
RISK_ENV = {"STRIKEFLOW_RISK__ORDERS_PER_SECOND": "1000000",
            "STRIKEFLOW_RISK__ORDER_BURST": "1000000",
            "STRIKEFLOW_RISK__MAX_OPEN_ORDERS": "1000000"}
GOAL_RATE, GOAL_RATIO, GOAL_P99_MS = 10_000.0, 0.25, 100.0


def _tag(n: int) -> str:
    rng = random.Random(uuid.uuid4().int)
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(n))


def requests(n: int, symbols: list[str], accounts: list[str]) -> list[tuple[bytes, bytes, str]]:
    """``n`` submit requests, ``(key, value, command id)``; each account keeps to one kind."""
    out = []
    prefix = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    for i in range(n):
        side, offset = KINDS[i % len(KINDS)]
        account = accounts[i % len(accounts)]
        cmd = SubmitOrder(command_id=f"{prefix}-{i}", ts_sent=now, account=account,
                          symbol=symbols[(i // len(KINDS)) % len(symbols)],
                          client_order_id=f"c{prefix}{i}", side=side, order_type="limit",
                          qty=QTY, price=MID + offset)
        out.append((account.encode(), REQUESTS.encode(cmd), cmd.command_id))
    return out


def fund(settings: Settings, accounts: list[str]) -> None:
    producer = make_producer(settings)
    for account in accounts:
        ref = uuid.uuid4().hex
        producer.produce(ACTIVITY.name, key=account.encode(), value=ACTIVITY.encode(
            FundsTransferred(event_id=f"transfer:{ref}", ts_event=datetime.now(UTC),
                             account=account, transfer_id=ref, amount=Decimal(10**9),
                             reference=f"bench-{ref[:8]}")))
    producer.flush(10)


@dataclass
class Watch:
    """Reads ``orders.events``, ``trades`` and ``ledger`` from their ends, in a thread."""

    settings: Settings
    answers: dict[str, float] = field(default_factory=dict)  # command id -> first answer
    kinds: dict[str, int] = field(default_factory=dict)
    trades: dict[str, float] = field(default_factory=dict)  # trade id -> seen
    booked: dict[str, float] = field(default_factory=dict)  # trade id -> first posting

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._consumer = make_consumer(self.settings, f"bench-e2e-{uuid.uuid4().hex[:6]}",
                                       **{"fetch.wait.max.ms": 5})
        self._consumer.assign([tp for t in ("orders.events", "trades", "ledger")
                               for tp in end_offsets(self.settings, t)])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in self._consumer.consume(2000, 0.05):
                if msg.error():
                    continue
                now = time.time()
                rec = orjson.loads(msg.value())
                topic = msg.topic()
                if topic == "orders.events":
                    cause = rec.get("causation_id") or ""
                    if cause not in self.answers:
                        self.answers[cause] = now
                        kind = rec.get("kind", "?")
                        self.kinds[kind] = self.kinds.get(kind, 0) + 1
                elif topic == "trades":
                    self.trades.setdefault(rec["trade_id"], now)
                elif rec.get("kind") == "trade":  # reference "trade <trade id>"
                    self.booked.setdefault(rec["reference"].removeprefix("trade "), now)

    def done(self, ids: list[str]) -> bool:
        return (all(i in self.answers for i in ids)
                and all(t in self.booked for t in list(self.trades)))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1)))] if values else float("nan")


def _still_done(watch: Watch, ids: list[str], quiet_s: float = 0.3) -> bool:
    time.sleep(quiet_s)
    return watch.done(ids)


def run(settings: Settings, items: list[tuple[bytes, bytes, str]], rate: float | None,
        timeout_s: float = 600) -> dict[str, float]:
    watch = Watch(settings)
    ids = [i for _, _, i in items]
    try:
        t0 = time.time()
        sent_at = produce(settings, REQUESTS.name, items, rate)
        deadline = time.monotonic() + timeout_s
        # a taker's trade may be read after its answer: done only when still done a moment
        # later (the figures use the times things were seen, not this wait)
        while not (watch.done(ids) and _still_done(watch, ids)) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        if not watch.done(ids):
            missing = sum(i not in watch.answers for i in ids)
            unbooked = sum(t not in watch.booked for t in watch.trades)
            raise SystemExit(f"{missing} requests unanswered, {unbooked} trades not booked")
    finally:
        watch.close()
    end = max([*watch.answers.values(), *watch.booked.values()])
    lat = [watch.answers[i] - sent_at[i] for i in ids]
    booking = [watch.booked[t] - watch.trades[t] for t in watch.trades]
    print(f"    answers {dict(sorted(watch.kinds.items()))}, trades {len(watch.trades)}, "
          f"booked {len(watch.booked)}")
    return {"rate": len(ids) / (end - t0), "elapsed_s": end - t0,
            "produce_s": max(sent_at.values()) - t0,
            "p50": 1000 * _pct(lat, 0.5), "p99": 1000 * _pct(lat, 0.99),
            "p999": 1000 * _pct(lat, 0.999),
            "book_p50": 1000 * _pct(booking, 0.5), "book_p99": 1000 * _pct(booking, 0.99)}


def changelog_bytes(settings: Settings, app_id: str) -> dict[str, int]:
    """Bytes (keys + values) in each changelog topic of ``app_id``'s tables."""
    admin = AdminClient(settings.kafka.client_config(Role.ADMIN))
    topics = [t for t in admin.list_topics(timeout=10).topics
              if t.startswith(f"{app_id}-") and t.endswith("-changelog")]
    out = {}
    for topic in topics:
        total = 0
        for partition, end in streams_end_offsets(settings, topic).items():
            for msg in read_range(settings, topic, partition, 0, end):
                total += len(msg.key() or b"") + len(msg.value() or b"")
        out[topic.removeprefix(f"{app_id}-").removesuffix("-changelog")] = total
    return out


def recovery_s(settings: Settings, workers: list[WorkerProcess], symbols: list[str],
               accounts: list[str]) -> tuple[float, float]:
    """Stop the workers, delete their local state, start them again: (seconds until they
    say they are ready, seconds until they answer a new request)."""
    for worker in workers:
        worker.stop()
        shutil.rmtree(worker.settings.data_dir / "faust" / worker.app_id, ignore_errors=True)
    t0 = time.monotonic()
    for worker in workers:
        worker.start(timeout_s=300)
    ready = time.monotonic() - t0
    run(settings, requests(4, symbols, accounts), None, timeout_s=300)
    return ready, time.monotonic() - t0


def _cpu_s(workers: list[WorkerProcess]) -> float:
    """CPU seconds (user + system) the worker processes have used so far."""
    total = 0.0
    for worker in workers:
        assert worker.proc is not None
        times = psutil.Process(worker.proc.pid).cpu_times()
        total += times.user + times.system
    return total


def make_workers(settings: Settings, n: int, bases: list[str]) -> list[WorkerProcess]:
    """``n`` workers in one group (one app id): Faust shares the partitions and their
    tables among them. Each has its own data dir, as on its own machine."""
    app_id = f"bench-e2e-{uuid.uuid4().hex[:6]}"
    env = {"STRIKEFLOW_WORKER__AGENTS": '["streams.risk", "streams.matching", "streams.ledger"]',
           "STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES": json.dumps(bases), **RISK_ENV}
    return [WorkerProcess(settings if k == 0 else settings.model_copy(
                update={"data_dir": settings.data_dir / f"worker-{k}"}),
            app_id, 16194 + k, env=env) for k in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=30_000)
    parser.add_argument("--instruments", type=int, default=8)
    parser.add_argument("--accounts", type=int, default=400)
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1, help="worker processes, one group")
    args = parser.parse_args()
    print(f"order pipeline benchmark: {args.orders} requests, {args.accounts} accounts, "
          f"{args.instruments} instruments; {args.workers} worker process(es), each with "
          "risk + matching + ledger")
    with private_kafka(get_settings()) as settings:
        bases = [f"BE{_tag(6)}" for _ in range(args.instruments)]
        symbols = [f"{b}-USDT" for b in bases]
        accounts = [f"bench-{_tag(8)}" for _ in range(args.accounts)]
        workers = make_workers(settings, args.workers, bases)
        t0 = time.monotonic()
        for worker in workers:
            worker.start()
        first_start = time.monotonic() - t0
        try:
            fund(settings, accounts)
            # a few orders first: the worker's first batch pays for imports and connections
            run(settings, requests(400, symbols, accounts), None)
            starts = end_offsets(settings, REQUESTS.name)
            print("  throughput (all produced at once, then drained):")
            cpu0 = _cpu_s(workers)
            burst = run(settings, requests(args.orders, symbols, accounts), None)
            cpu_ms = 1000 * (_cpu_s(workers) - cpu0) / args.orders
            base = chained_passthrough(settings, starts, args.orders, REQUESTS.partitions)
            paced_n = int(args.rate * args.latency_seconds)
            print(f"  latency ({paced_n} requests paced at {args.rate:,.0f}/s):")
            paced = run(settings, requests(paced_n, symbols, accounts), args.rate)
            total = 400 + args.orders + paced_n
            written = changelog_bytes(settings, workers[0].app_id)
            ready, answering = recovery_s(settings, workers, symbols, accounts)
        finally:
            for worker in workers:
                worker.stop()
    ratio = burst["rate"] / base if base else 0.0
    print(f"    pipeline  {burst['rate']:10,.0f} orders/s  (produced in "
          f"{burst['produce_s']:.2f}s, all answered and booked after {burst['elapsed_s']:.2f}s)")
    print(f"    baseline  {base:10,.0f} msg/s     (3 chained confluent-kafka "
          f"consume→produce legs, same requests)")
    print(f"    ratio pipeline/baseline: {ratio:.3f}; the workers' CPU per request "
          f"{cpu_ms:.2f} ms (at most {1000 / cpu_ms:,.0f} requests/s per core)")
    print(f"  paced at {args.rate:,.0f}/s: request → answer p50 {paced['p50']:.1f} ms, p99 "
          f"{paced['p99']:.1f} ms, p99.9 {paced['p999']:.1f} ms; trade → ledger p50 "
          f"{paced['book_p50']:.1f} ms, p99 {paced['book_p99']:.1f} ms")
    print(f"  state: the tables' changelogs hold {sum(written.values()) / total:,.0f} bytes "
          f"per request (" + ", ".join(f"{t} {b / total:,.0f}" for t, b in
                                      sorted(written.items())) + ")")
    print(f"  local state deleted after {total:,} requests: ready in {ready:.1f}s, answering "
          f"in {answering:.1f}s (the first start, with no history: {first_start:.1f}s)")
    met = {"≥ 10k orders/s": burst["rate"] >= GOAL_RATE, "≥ 0.25 of passthrough":
           ratio >= GOAL_RATIO, "p99 ≤ 100 ms at 5k/s": paced["p99"] <= GOAL_P99_MS}
    print("  goals: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in met.items()))


if __name__ == "__main__":
    main()
