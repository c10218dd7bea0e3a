"""Block RFQs end to end: ``rfq.commands`` → the RFQ agent → ``rfq.events`` and, once a quote
is accepted, per-leg block trades on ``orders.commands`` → matching → ``trades`` → booking →
``ledger``; against raw confluent-kafka legs over the same hops. Then, without Kafka, the smart
order router's split decisions against a plain sort of the same levels.

Everything Kafka runs on a private broker (:mod:`benchmarks.private_kafka`) with one worker
running risk, matching, ledger and rfq (as the main job's trading worker does). Two-leg RFQs
(buy one new spot instrument, sell another; their index prices are published first, so the
accept can split the net price into leg prices) go through the whole conversation, driven by a
thread that plays the makers and the taker as a client would: the taker opens; on
``rfq_opened`` two makers quote the ask; on the second ``quote_added`` the taker accepts the
best quote. Per RFQ, on this process's clock:

* **open → opened**: open produced → its ``rfq_opened`` event;
* **accept → accepted**: accept produced → ``rfq_accepted``;
* **accept → trades**: accept produced → every leg's trade on ``trades``;
* **accept → ledger**: accept produced → every leg trade's first ``ledger`` posting.

``--rfqs`` RFQs are paced at ``--rate`` opens/s (latency, and the rate sustained: RFQs booked
per second from the first to the last), then as many are opened at once (the maximum rate:
RFQs/s from the first open until the last is booked).

Baselines, same run, same broker: **throughput** — the burst's 4 commands per RFQ moved
through 3 chained bare consume→produce legs (:func:`benchmarks.kafka_legs.chained_passthrough`,
3 = the hops from an accept to its ledger postings), as RFQs/s (messages/s / 4);
**latency** — an echo of 4 messages per RFQ at 4 x ``--rate``/s through 3 chained bare legs:
produce → after 1 hop (compare open → opened) and → after 3 hops (compare accept → ledger).

**Routing decisions** (pure CPU, no Kafka): :func:`streams.routing.split.split_order` on 4 venues
of 50 levels a side (different fees and lot sizes), a parent of half the depth a side, both
sides in turn; baseline: sorting the same 200 merged levels (``sorted``), same run.

Goals are reported, never enforced (exit 0): RFQs/s sustained = ``--rate``, accept → ledger
p99 ≤ 100 ms at ``--rate``, ≥ 0.25 of the passthrough.

    python -m benchmarks.rfq_roundtrip [--rfqs 300] [--rate 50] [--routing-seconds 3]
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import orjson
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from rich.console import Console
from rich.table import Table

from benchmarks.kafka_legs import chained_passthrough, end_offsets, produce
from benchmarks.order_pipeline import RISK_ENV, fund
from benchmarks.private_kafka import private_kafka
from infra.kafka_security import Role
from infra.ports import free_port_block
from infra.settings import Settings, get_settings
from streams.kafka import make_consumer, make_producer
from streams.worker_process import WorkerProcess
from topics.catalogue import by_name
from topics.contracts import IndexPrice
from topics.contracts.rfq import AcceptRfq, OpenRfq, QuoteRfq, RfqLeg

RFQ, INDEX = by_name("rfq.commands"), by_name("md.index")
AGENTS = '["streams.risk", "streams.matching", "streams.ledger", "streams.rfq"]'
D = Decimal
LEG_PRICES = (D(100), D(50))  # index of the bought and of the sold instrument
AMOUNT = D(1)
COMMANDS_PER_RFQ = 4  # open, two quotes, accept
GOAL_P99_MS, GOAL_RATIO = 100.0, 0.25


def _tag(n: int) -> str:
    rng = random.Random(uuid.uuid4().int)
    return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(n))


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1)))] if values else float("nan")


def _ms(values: list[float]) -> tuple[float, float]:
    return 1000 * _pct(values, 0.5), 1000 * _pct(values, 0.99)


def publish_index(settings: Settings, bases: list[str]) -> None:
    """Index prices for the new spot bases: the accept prices the legs from them."""
    producer = make_producer(settings)
    now = datetime.now(UTC)
    for n, base in enumerate(bases):
        producer.produce(INDEX.name, key=base.encode(), value=INDEX.encode(IndexPrice(
            event_id=f"{base}:index:1", ts_event=now, underlying=base,
            price=LEG_PRICES[n % 2], venues_used=["bench"])))
    producer.flush(10)


@dataclass
class Rfq:
    taker: str
    makers: tuple[str, str]
    legs: list[RfqLeg]
    open_sent: float = 0.0
    opened: float = 0.0
    quotes: int = 0
    accept_sent: float = 0.0
    accepted: float = 0.0
    block_id: str = ""
    failed: str = ""


@dataclass
class Desk:
    """Plays the makers and the taker: reads ``rfq.events``, ``trades`` and ``ledger`` from
    their ends in a thread, answers ``rfq_opened`` with two quotes and the second quote with
    an accept (best quote)."""

    settings: Settings
    rfqs: dict[str, Rfq] = field(default_factory=dict)
    trades: dict[str, dict[str, float]] = field(default_factory=dict)  # block id -> {trade: t}
    booked: dict[str, float] = field(default_factory=dict)  # trade id -> first posting
    failures: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._producer = make_producer(self.settings)
        self._consumer = make_consumer(self.settings, f"bench-rfq-{uuid.uuid4().hex[:6]}",
                                       **{"fetch.wait.max.ms": 5})
        self._consumer.assign([tp for t in ("rfq.events", "trades", "ledger")
                               for tp in end_offsets(self.settings, t)])
        self._fetching = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._fetching.wait(10)
        time.sleep(0.5)  # the assigned partitions fetched once: events are seen when they come

    def _send(self, rfq_id: str, record: object) -> float:
        now = time.time()
        while True:
            try:
                self._producer.produce(RFQ.name, key=rfq_id.encode(), value=RFQ.encode(record))
                break
            except BufferError:
                self._producer.poll(0.05)
        return now

    def _on_event(self, rec: dict, now: float) -> None:
        rfq = self.rfqs.get(rec["rfq_id"])
        if rfq is None:
            return
        rfq_id, kind = rec["rfq_id"], rec["kind"]
        if kind == "rfq_opened" and not rfq.opened:
            rfq.opened = now
            for n, (maker, price) in enumerate(zip(rfq.makers, (D("51"), D("50.5")),
                                                   strict=True)):
                self._send(rfq_id, QuoteRfq(
                    command_id=f"{rfq_id}:q{n}", ts_sent=datetime.now(UTC), account=maker,
                    rfq_id=rfq_id, quote_id=f"q{n}", side="ask", price=price, amount=AMOUNT))
        elif kind == "quote_added":
            rfq.quotes += 1
            if rfq.quotes == 2 and not rfq.accept_sent:
                rfq.accept_sent = self._send(rfq_id, AcceptRfq(
                    command_id=f"{rfq_id}:accept", ts_sent=datetime.now(UTC),
                    account=rfq.taker, rfq_id=rfq_id, side="buy"))
        elif kind == "rfq_accepted" and not rfq.accepted:
            rfq.accepted, rfq.block_id = now, rec["trade_id"]
        elif kind in ("quote_refused", "rfq_refused", "rfq_expired", "rfq_cancelled"):
            rfq.failed = f"{kind} {rec.get('code')} {rec.get('reason')}"
            self.failures[kind] = self.failures.get(kind, 0) + 1

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in self._consumer.consume(2000, 0.01):
                if msg.error():
                    continue
                now = time.time()
                rec = orjson.loads(msg.value())
                topic = msg.topic()
                if topic == "rfq.events":
                    self._on_event(rec, now)
                elif topic == "trades":  # causation: the leg command "<block id>:<leg>"
                    block = (rec.get("causation_id") or "").rpartition(":")[0]
                    self.trades.setdefault(block, {}).setdefault(rec["trade_id"], now)
                elif rec.get("kind") == "trade":  # reference "trade <trade id>"
                    self.booked.setdefault(rec["reference"].removeprefix("trade "), now)
            self._producer.poll(0)
            self._fetching.set()

    def open(self, rfq_id: str, rfq: Rfq) -> tuple[bytes, bytes, str]:
        self.rfqs[rfq_id] = rfq
        return rfq_id.encode(), RFQ.encode(OpenRfq(
            command_id=f"{rfq_id}:open", ts_sent=datetime.now(UTC), account=rfq.taker,
            rfq_id=rfq_id, legs=rfq.legs, amount=AMOUNT)), rfq_id

    def complete(self, rfq_id: str) -> float | None:
        """When the RFQ's last leg was booked (None: not yet)."""
        rfq = self.rfqs[rfq_id]
        legs = self.trades.get(rfq.block_id) if rfq.accepted else None
        if not legs or len(legs) < len(rfq.legs) or any(t not in self.booked for t in legs):
            return None
        return max(self.booked[t] for t in legs)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._producer.flush(10)
        self._consumer.close()


def run(settings: Settings, n: int, rate: float | None, bases: list[str], takers: list[str],
        makers: list[str], timeout_s: float = 300) -> dict[str, float]:
    desk = Desk(settings)
    prefix = _tag(4)
    items = []
    for i in range(n):
        k = 2 * (i % (len(bases) // 2))
        first = random.randrange(len(makers))
        rfq = Rfq(taker=takers[i % len(takers)],
                  makers=(makers[first], makers[(first + 1) % len(makers)]),
                  legs=[RfqLeg(symbol=f"{bases[k]}-USDT", side="buy"),
                        RfqLeg(symbol=f"{bases[k + 1]}-USDT", side="sell")])
        items.append(desk.open(f"b{prefix}{i}", rfq))
    ids = [i for _, _, i in items]
    try:
        t0 = time.time()
        sent_at = produce(settings, RFQ.name, items, rate)
        for rfq_id, at in sent_at.items():
            desk.rfqs[rfq_id].open_sent = at
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(desk.rfqs[i].failed or desk.complete(i) is not None for i in ids):
                break
            time.sleep(0.05)
    finally:
        desk.close()
    done = {i: t for i in ids if (t := desk.complete(i)) is not None}
    if not done:
        example = next((r.failed for r in desk.rfqs.values() if r.failed), "none failed")
        raise SystemExit(f"no RFQ completed ({desk.failures}; e.g. {example})")
    rfqs = [desk.rfqs[i] for i in done]
    ends = sorted(done.values())
    return {
        # completions per second between the first and the last: the rate kept up with
        "sustained": (len(ends) - 1) / (ends[-1] - ends[0]) if len(ends) > 1 else 0.0,
        "n": n, "completed": len(done), "failures": sum(desk.failures.values()),
        "failed_kinds": dict(desk.failures),
        "rate": len(done) / (max(done.values()) - t0), "elapsed_s": max(done.values()) - t0,
        "open": _ms([r.opened - r.open_sent for r in rfqs]),
        "accepted": _ms([r.accepted - r.accept_sent for r in rfqs]),
        "trades": _ms([max(desk.trades[r.block_id].values()) - r.accept_sent for r in rfqs]),
        "ledger": _ms([done[i] - desk.rfqs[i].accept_sent for i in done]),
    }


def echo_latency(settings: Settings, n: int, rate: float, partitions: int,
                 hops: int = 3) -> tuple[tuple[float, float], tuple[float, float]]:
    """Produce ``n`` messages paced at ``rate``/s into a scratch topic, moved by ``hops`` bare
    consume→produce legs (one thread each, polling every 5 ms, each message forwarded as it
    comes): (p50, p99) ms after one hop and after all."""
    admin = AdminClient(settings.kafka.client_config(Role.ADMIN))
    topics = [f"bench.echo.{uuid.uuid4().hex[:6]}.{h}" for h in range(hops + 1)]
    for fut in admin.create_topics([NewTopic(t, partitions, settings.kafka.replication_factor)
                                    for t in topics]).values():
        fut.result(30)
    seen: dict[str, dict[str, float]] = {topics[1]: {}, topics[-1]: {}}
    warm = 50  # moved first, not measured: the legs' fetchers and the topics' leaders ready
    stop = threading.Event()

    def leg(h: int) -> None:
        consumer = make_consumer(settings, f"bench-echo-{uuid.uuid4().hex[:6]}",
                                 **{"fetch.wait.max.ms": 5})
        consumer.assign([TopicPartition(topics[h], p, 0) for p in range(partitions)])
        producer = make_producer(settings)
        moved, deadline = 0, time.monotonic() + n / rate + 90
        while moved < n + warm and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.005):  # forwarded at once, not batched
                if not msg.error():
                    producer.produce(topics[h + 1], key=msg.key(), value=msg.value())
                    moved += 1
            producer.poll(0)
        producer.flush(30)
        consumer.close()

    def watch() -> None:
        consumer = make_consumer(settings, f"bench-echo-{uuid.uuid4().hex[:6]}",
                                 **{"fetch.wait.max.ms": 5})
        consumer.assign([TopicPartition(t, p, 0) for t in seen for p in range(partitions)])
        while not stop.is_set() and len(seen[topics[-1]]) < n + warm:
            for msg in consumer.consume(1000, 0.01):
                if not msg.error():
                    seen[msg.topic()].setdefault(msg.key().decode(), time.time())
        consumer.close()

    threads = [threading.Thread(target=leg, args=(h,)) for h in range(hops)]
    threads.append(threading.Thread(target=watch))
    for t in threads:
        t.start()
    payload = b"x" * 300  # about an RFQ command's size
    produce(settings, topics[0], [(f"w{i}".encode(), payload, f"w{i}") for i in range(warm)])
    deadline = time.monotonic() + 30
    while len(seen[topics[-1]]) < warm and time.monotonic() < deadline:
        time.sleep(0.05)
    sent_at = produce(settings, topics[0], [(f"e{i}".encode(), payload, f"e{i}")
                                            for i in range(n)], rate)
    for t in threads[:-1]:
        t.join()
    deadline = time.monotonic() + 30
    while len(seen[topics[-1]]) < n + warm and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    threads[-1].join()
    admin.delete_topics(topics)
    one, last = seen[topics[1]], seen[topics[-1]]
    return (_ms([one[k] - sent_at[k] for k in one if k in sent_at]),
            _ms([last[k] - sent_at[k] for k in last if k in sent_at]))


# -- routing decisions (pure CPU) -----------------------------------------------------------
def routing_books(venues: int = 4, levels: int = 50, seed: int = 7) -> tuple[
        dict, dict[str, Decimal], dict[str, Decimal]]:
    rng = random.Random(seed)
    names = [f"venue{k}" for k in range(venues)]
    lots = [D("0.001"), D("0.01"), D("0.0001"), D("0.001")]
    fees = [D("0.001"), D("0.0002"), D("0.0005"), D("0.00075")]
    books = {}
    for name in names:
        mid = D(100_000) + D(rng.randint(-50, 50))
        bids = [(mid - D(1 + i) - D(rng.randint(0, 99)) / 100,
                 D(rng.randint(10, 5000)) / 1000) for i in range(levels)]
        asks = [(mid + D(1 + i) + D(rng.randint(0, 99)) / 100,
                 D(rng.randint(10, 5000)) / 1000) for i in range(levels)]
        bids.sort(reverse=True)
        asks.sort()
        books[name] = (bids, asks)
    return (books, {n: fees[k % len(fees)] for k, n in enumerate(names)},
            {n: lots[k % len(lots)] for k, n in enumerate(names)})


def _per_second(fn: object, seconds: float) -> float:
    assert callable(fn)
    n, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        for _ in range(20):
            fn(n)
            n += 1
    return n / elapsed


def routing_decisions(seconds: float) -> dict[str, float]:
    from streams.routing.split import split_order

    books, fees, lots = routing_books()
    depth = {side: sum(q for b in books.values() for _, q in b[k])
             for side, k in (("buy", 1), ("sell", 0))}
    qty = {side: (d / 2).quantize(D("0.001")) for side, d in depth.items()}
    merged = {side: [lv for b in books.values() for lv in b[k]]
              for side, k in (("buy", 1), ("sell", 0))}
    sides = ("buy", "sell")
    sample = split_order("buy", qty["buy"], books, fees, lots)
    split_rate = _per_second(
        lambda i: split_order(sides[i % 2], qty[sides[i % 2]], books, fees, lots), seconds)
    sort_rate = _per_second(lambda i: sorted(merged[sides[i % 2]]), seconds)
    return {"split": split_rate, "sort": sort_rate, "slices": len(sample.slices),
            "qty": float(qty["buy"]), "remainder": float(sample.remainder)}


# -- main -----------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rfqs", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0, help="RFQs opened per second")
    parser.add_argument("--instruments", type=int, default=4, help="new spot bases (even)")
    parser.add_argument("--takers", type=int, default=20)
    parser.add_argument("--makers", type=int, default=10)
    parser.add_argument("--routing-seconds", type=float, default=3.0)
    parser.add_argument("--skip-kafka", action="store_true", help="only the routing section")
    args = parser.parse_args()
    console = Console()
    results: dict[str, dict] = {}
    if not args.skip_kafka:
        results = kafka_section(args)
    routing = routing_decisions(args.routing_seconds)
    report(console, args, results, routing)


def kafka_section(args: argparse.Namespace) -> dict[str, dict]:
    print(f"rfq round trip benchmark: {args.rfqs} two-leg RFQs paced at {args.rate:,.0f}/s, "
          f"then {args.rfqs} at once; one worker with risk + matching + ledger + rfq")
    with private_kafka(get_settings()) as settings:
        bases = [f"BR{_tag(6)}" for _ in range(max(2, args.instruments // 2 * 2))]
        takers = [f"rt-{_tag(8)}" for _ in range(args.takers)]
        makers = [f"rm-{_tag(8)}" for _ in range(max(2, args.makers))]
        publish_index(settings, bases)
        env = {"STRIKEFLOW_WORKER__AGENTS": AGENTS,
               "STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES": json.dumps(bases), **RISK_ENV}
        worker = WorkerProcess(settings, f"bench-rfq-{uuid.uuid4().hex[:6]}",
                               free_port_block(first=16300, size=1), env=env)
        t0 = time.monotonic()
        worker.start()
        print(f"  worker ready in {time.monotonic() - t0:.1f}s")
        try:
            fund(settings, takers + makers)
            time.sleep(1)
            warm = run(settings, 20, None, bases, takers, makers)  # imports, connections
            print(f"  warm-up: {warm['completed']}/20 RFQs completed")
            paced = run(settings, args.rfqs, args.rate, bases, takers, makers)
            print(f"  paced: {paced['completed']}/{args.rfqs} completed")
            starts = end_offsets(settings, RFQ.name)
            burst = run(settings, args.rfqs, None, bases, takers, makers)
            print(f"  burst: {burst['completed']}/{args.rfqs} completed")
            worker.check_alive()
        finally:
            worker.stop()
        n_msgs = COMMANDS_PER_RFQ * args.rfqs
        base = chained_passthrough(settings, starts, n_msgs, RFQ.partitions, hops=3)
        echo_one, echo_three = echo_latency(settings, n_msgs, COMMANDS_PER_RFQ * args.rate,
                                            RFQ.partitions)
    return {"paced": paced, "burst": burst,
            "baseline": {"rfqs": base / COMMANDS_PER_RFQ, "msgs": base,
                         "one": echo_one, "three": echo_three}}


def report(console: Console, args: argparse.Namespace, results: dict[str, dict],
           routing: dict[str, float]) -> None:
    if results:
        paced, burst, base = results["paced"], results["burst"], results["baseline"]
        lat = Table(title=f"RFQ latency, paced at {args.rate:,.0f} RFQs/s (ms)")
        for col in ("step", "p50", "p99", "bare Kafka p50", "bare p99", "ratio p50"):
            lat.add_column(col, justify="right" if col != "step" else "left")
        rows = (("open → rfq_opened", paced["open"], base["one"]),
                ("accept → rfq_accepted", paced["accepted"], base["one"]),
                ("accept → all legs' trades", paced["trades"], None),
                ("accept → legs' ledger postings", paced["ledger"], base["three"]))
        for name, (p50, p99), bare in rows:
            lat.add_row(name, f"{p50:.1f}", f"{p99:.1f}",
                        *((f"{bare[0]:.1f}", f"{bare[1]:.1f}", f"{p50 / bare[0]:.1f}x")
                          if bare else ("", "", "")))
        console.print(lat)
        ratio = burst["rate"] / base["rfqs"] if base["rfqs"] else 0.0
        thr = Table(title="RFQ throughput (RFQs/s, first open → last leg booked)")
        for col in ("run", "RFQs/s", "completed", "note"):
            thr.add_column(col, justify="left" if col in ("run", "note") else "right")
        thr.add_row(f"paced at {args.rate:,.0f}/s: sustained", f"{paced['sustained']:,.1f}",
                    f"{paced['completed']}/{paced['n']}", "first → last RFQ booked")
        thr.add_row(f"paced at {args.rate:,.0f}/s: overall", f"{paced['rate']:,.1f}", "",
                    f"first open → last booked, {paced['elapsed_s']:.1f}s")
        thr.add_row("all at once (max)", f"{burst['rate']:,.1f}",
                    f"{burst['completed']}/{burst['n']}",
                    f"first open → last booked, {burst['elapsed_s']:.1f}s")
        thr.add_row("bare 3-leg passthrough", f"{base['rfqs']:,.1f}", "",
                    f"{base['msgs']:,.0f} msg/s / {COMMANDS_PER_RFQ} commands per RFQ")
        thr.add_row("ratio all-at-once / bare", f"{ratio:.3f}", "", "")
        console.print(thr)
        for name, r in (("paced", paced), ("burst", burst)):
            if r["failures"]:
                console.print(f"  {name}: {r['failures']} refused/expired: {r['failed_kinds']}")
        met = {f"sustains {args.rate:,.0f}/s": paced["sustained"] >= 0.95 * args.rate,
               f"accept → ledger p99 ≤ {GOAL_P99_MS:.0f} ms": paced["ledger"][1] <= GOAL_P99_MS,
               f"≥ {GOAL_RATIO} of passthrough": ratio >= GOAL_RATIO}
        console.print("  goals: " + ", ".join(f"{k} {'met' if v else 'NOT met'}"
                                               for k, v in met.items()))
    rt = Table(title="Routing decisions (pure CPU; 4 venues x 50 levels a side)")
    for col in ("what", "per second", "note"):
        rt.add_column(col, justify="right" if col == "per second" else "left")
    rt.add_row("split_order", f"{routing['split']:,.0f}",
               f"parent {routing['qty']:g} (half the depth) → {routing['slices']:.0f} children")
    rt.add_row("sorted(200 merged levels)", f"{routing['sort']:,.0f}", "baseline")
    rt.add_row("ratio split / sort", f"{routing['split'] / routing['sort']:.3f}", "")
    console.print(rt)


if __name__ == "__main__":
    main()
