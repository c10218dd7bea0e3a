"""Market data through Kafka and the agents: L2 updates/s, chain re-marks/s, update → mark latency.

Three legs, each with its baseline in the same run:

* **chain marks** (no Kafka) — a 500-option chain re-marked from an index the way the marks
  agent does it (forward, surface vols, Black-76 and Greeks vectorised, Decimal on the premium
  tick, contracts, JSON), against the bare vectorised maths of ``benchmarks/option_marks.py``
  on the same chain: what turning numbers into messages costs.
* **throughput** — pre-encoded L2 deltas (a snapshot, then 2-4 changed levels each, as venues
  send them) for several symbols and venues are produced at once; a real ``strikeflow worker``
  running the market-data agents (fresh group, reading from the latest offsets) validates and
  applies every one, keeps the books in RocksDB and publishes books, feed health and the
  index. Rate = updates / (the last symbol's closing index seen - first update produced).
  Baseline: a raw confluent-kafka consume→produce of the same messages.
* **latency** — L2 updates paced at ``--latency-rate``/s for four underlyings, each with a
  ~500-option chain (``STRIKEFLOW_MARKETDATA__STRIKES_PER_EXPIRY`` etc. set on the worker).
  For every index: produce time of the L2 update that caused it (``causation_id``) → index
  read back; for every chain re-mark: the same update → first and last mark of the chain read
  back. That is the "tick → mark" path: the index is made of book mids, so the market-data
  update that moves a mark is an L2 update (trades make candles).

    python -m benchmarks.marketdata_pipeline [--updates 40000] [--latency-seconds 30]
        [--profile out.txt]   # py-spy (raw, collapsed stacks) of the worker's throughput leg

Runs on a Kafka broker of its own (:mod:`benchmarks.private_kafka`): a live stack's workers
would otherwise run these agents on the benchmark's messages too, and the benchmark would
leave its backlog to them. Other engineers' processes still share the CPU: figures on a busy
machine are lower bounds.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psutil
from confluent_kafka import TopicPartition

from benchmarks.kafka_legs import passthrough
from benchmarks.option_marks import best_seconds
from benchmarks.private_kafka import private_kafka
from infra.settings import Settings, get_settings
from streams.instruments import listing_session
from streams.kafka import make_consumer, make_producer
from streams.marketdata.marks import ChainParams, OptionChain, surface_for
from streams.marketdata.pricing import black76_greeks, forward_from_spot
from streams.worker_process import WorkerProcess
from topics.catalogue import by_name
from topics.contracts import IndexPrice, L2Update

L2 = by_name("md.l2")
MARKS = by_name("md.marks")
VENUES = ("binance", "okx", "bybit")
D = Decimal


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``q`` of them at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- chain marks


def chain_marks(seconds: float) -> dict[str, float]:
    # ~500 options: the venue's 11-12 listed expiries x (22 strikes + the venue's) x C/P
    params = ChainParams(strikes_per_expiry=22)
    now = datetime.now(UTC)
    index = IndexPrice(event_id="BTC:index:1", ts_event=now, underlying="BTC",
                       price=D("91000.5"), venues_used=list(VENUES))
    chain = OptionChain.build("BTC", listing_session(now), index.price, params)
    surface = surface_for("BTC")
    t = (chain.expiry_us - int(now.timestamp() * 1e6)) / (365 * 86_400e6)
    strike, is_call = chain.strike, chain.is_call

    def maths() -> None:
        forward = forward_from_spot(91000.5, t, 0.0, 0.0)
        black76_greeks(forward, strike, t, surface.vol_at_strike(t, strike, forward), 0.0,
                       is_call)

    def messages() -> None:
        for mark in chain.marks(index, surface):
            MARKS.encode(mark)

    return {"size": chain.size, "maths_s": best_seconds(maths, seconds),
            "marks_s": best_seconds(lambda: chain.marks(index, surface), seconds),
            "messages_s": best_seconds(messages, seconds)}


# --------------------------------------------------------------------------- L2 feed


def _book(mid: Decimal, depth: int = 10) -> tuple[list, list]:
    step = D("0.5")
    bids = [(mid - step * (i + 1), D("1.5") + D(i) / 10) for i in range(depth)]
    asks = [(mid + step * (i + 1), D("1.2") + D(i) / 10) for i in range(depth)]
    return bids, asks


class _Venue:
    """A venue's book of one symbol: sizes change, and every few updates it moves a level."""

    def __init__(self, mid: Decimal, rng: random.Random) -> None:
        bids, asks = _book(mid)
        self.bids, self.asks = dict(bids), dict(asks)
        self.rng = rng
        self.seq = 0

    def update(self, n: int) -> tuple[list, list]:
        """The next delta: 1-2 sizes changed, and every 3rd update the book moves a step."""
        bids: dict[Decimal, Decimal] = {}
        asks: dict[Decimal, Decimal] = {}
        for side, out in ((self.bids, bids), (self.asks, asks)):
            price = self.rng.choice(sorted(side)[:5] if side is self.asks
                                    else sorted(side)[-5:])
            out[price] = side[price] = D(self.rng.randint(1, 40)) / 10
        if n % 3 == 0:
            up = self.rng.random() < 0.5
            step = D("0.5")
            if up:  # the best ask is lifted; a new bid level above the best bid
                best = min(self.asks)
                asks[best] = D(0)
                del self.asks[best]
                asks[max(self.asks) + step] = self.asks[max(self.asks) + step] = D(1)
                new = max(self.bids) + step
                bids[new] = self.bids[new] = D(1)
                worst = min(self.bids)
                bids[worst] = D(0)
                del self.bids[worst]
            else:  # the mirror image
                best = max(self.bids)
                bids[best] = D(0)
                del self.bids[best]
                bids[min(self.bids) - step] = self.bids[min(self.bids) - step] = D(1)
                new = min(self.asks) - step
                asks[new] = self.asks[new] = D(1)
                worst = max(self.asks)
                asks[worst] = D(0)
                del self.asks[worst]
        return sorted(bids.items(), reverse=True), sorted(asks.items())


def _feed(underlyings: list[str], per_symbol: int, start: datetime, gap_ms: float
          ) -> list[tuple[bytes, bytes, str, float]]:
    """(key, value, event_id, event seconds) per update, interleaved across symbols: a
    snapshot per venue, then deltas of 2-4 levels (what venues send)."""
    rng = random.Random(7)
    out = []
    # mids near 1 900: a strike step of 50 (2.6%), so 50 strikes stay positive (500 options)
    books = {(u, v): _Venue(D(1900 + 20 * n), rng) for n, u in enumerate(underlyings)
             for v in VENUES}
    for n in range(per_symbol):
        for u in underlyings:
            symbol = f"{u}-USDT"
            venue = VENUES[n % len(VENUES)]
            book = books[(u, venue)]
            book.seq += 1
            secs = n * gap_ms / 1000
            ts = start + timedelta(seconds=secs)
            if book.seq == 1:
                bids = sorted(book.bids.items(), reverse=True)
                asks = sorted(book.asks.items())
            else:
                bids, asks = book.update(n // len(VENUES))
            update = L2Update(event_id=f"{venue}:{symbol}:l2:{book.seq}", ts_event=ts,
                              venue=venue, symbol=symbol, seq=book.seq,
                              snapshot=book.seq == 1, bids=bids, asks=asks)
            out.append((symbol.encode(), L2.encode(update), update.event_id, secs))
    return out


def _closers(underlyings: list[str], start: datetime, after_s: float, per_symbol: int
             ) -> list[tuple[bytes, bytes, str, float]]:
    """A snapshot per symbol and venue far later, at a new mid: its index closes the run."""
    out = []
    for n, u in enumerate(underlyings):
        symbol = f"{u}-USDT"
        for venue in VENUES:
            seq = per_symbol  # above any delta's sequence: a fresh snapshot
            bids, asks = _book(D(5000 + 100 * n))
            update = L2Update(event_id=f"{venue}:{symbol}:close", ts_event=start + timedelta(
                seconds=after_s), venue=venue, symbol=symbol, seq=seq, snapshot=True,
                bids=bids, asks=asks)
            out.append((symbol.encode(), L2.encode(update), update.event_id, after_s))
    return out


def _end_offsets(settings: Settings, topics: tuple[str, ...]) -> list[TopicPartition]:
    consumer = make_consumer(settings, f"bench-offsets-{uuid.uuid4().hex[:6]}")
    out = []
    for topic in topics:
        for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            out.append(TopicPartition(topic, p, high))
    consumer.close()
    return out


def _produce(settings: Settings, payloads: list[tuple[bytes, bytes, str, float]],
             rate: float | None = None) -> dict[str, float]:
    producer = make_producer(settings)
    # connected (login, metadata) before the first send time is taken: the benchmark's own
    # client connecting is not the pipeline's latency (it made the first chains ~0.6 s late)
    producer.list_topics(L2.name, timeout=10)
    sent_at: dict[str, float] = {}
    t0 = time.monotonic()
    for n, (key, value, event_id, _) in enumerate(payloads):
        if rate and (ahead := n / rate - (time.monotonic() - t0)) > 0.001:
            time.sleep(ahead)
        sent_at[event_id] = time.time()
        while True:
            try:
                producer.produce(L2.name, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(60)
    return sent_at


def _worker(settings: Settings, env: dict[str, str] | None = None) -> WorkerProcess:
    only_marketdata = {"STRIKEFLOW_WORKER__AGENTS": '["streams.marketdata"]'}
    worker = WorkerProcess(settings, f"bench-md-{uuid.uuid4().hex[:6]}", _free_port(),
                           offset_reset="latest", env=only_marketdata | (env or {}))
    worker.start()
    time.sleep(2)  # the consumer resolves "latest" on its first fetch
    return worker


def _cpu_s(worker: WorkerProcess) -> float:
    """CPU seconds the worker used so far (user + system, all its threads)."""
    assert worker.proc is not None
    times = psutil.Process(worker.proc.pid).cpu_times()
    return float(times.user + times.system)


def _py_spy(worker: WorkerProcess, out: str) -> subprocess.Popen[bytes]:
    """py-spy sampling the worker (collapsed stacks, one line per stack with its count)."""
    assert worker.proc is not None
    spy = f"{sys.prefix}/bin/py-spy"
    return subprocess.Popen([spy, "record", "--pid", str(worker.proc.pid), "--format", "raw",
                             "--rate", "200", "--output", out, "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def throughput(settings: Settings, updates: int, symbols: int,
               profile: str | None = None) -> dict[str, float]:
    underlyings = [f"B{uuid.uuid4().hex[:5].upper()}{i}" for i in range(symbols)]
    per_symbol = updates // symbols
    start = datetime.now(UTC)
    payloads = _feed(underlyings, per_symbol, start, gap_ms=5.0)
    payloads += _closers(underlyings, start, per_symbol * 0.005 + 10, per_symbol)
    worker = _worker(settings)
    watch = make_consumer(settings, f"bench-watch-{uuid.uuid4().hex[:6]}")
    watch.assign(_end_offsets(settings, ("md.index",)))
    starts = _end_offsets(settings, ("md.l2",))
    closers = {eid for _, _, eid, _ in payloads if eid.endswith(":close")}
    spy = _py_spy(worker, profile) if profile else None
    cpu0 = _cpu_s(worker)
    try:
        t0 = time.time()
        _produce(settings, payloads)
        produced_s = time.time() - t0
        wanted, done = set(underlyings), set()
        t_last = t0
        deadline = time.monotonic() + 600
        while done != wanted and time.monotonic() < deadline:
            for msg in watch.consume(500, 0.01):
                if msg.error():
                    continue
                index = json.loads(msg.value())
                if index["underlying"] in wanted and index["causation_id"] in closers:
                    done.add(index["underlying"])
                    t_last = max(t_last, time.time())
        cpu = _cpu_s(worker) - cpu0
    finally:
        watch.close()
        if spy is not None:
            spy.send_signal(2)  # SIGINT: py-spy writes what it sampled
            spy.wait(30)
        worker.stop()
    if done != wanted:
        raise SystemExit(f"only {len(done)}/{len(wanted)} symbols closed: see {worker.log}")
    return {"updates": len(payloads), "produce_s": produced_s, "elapsed_s": t_last - t0,
            "cpu_us": 1e6 * cpu / len(payloads),
            "rate": len(payloads) / (t_last - t0), "starts": starts}  # type: ignore[dict-item]


def latency(settings: Settings, rate: float, seconds: float) -> dict[str, float]:
    env = {"STRIKEFLOW_MARKETDATA__STRIKES_PER_EXPIRY": "22"}  # x 11-12 listed expiries
    underlyings = [f"L{uuid.uuid4().hex[:5].upper()}{i}" for i in range(4)]
    per_symbol = int(rate * seconds / len(underlyings))
    # event time spaced like wall time, so the index's rate bound is the live one
    payloads = _feed(underlyings, per_symbol, datetime.now(UTC),
                     gap_ms=1000 * len(underlyings) / rate)
    worker = _worker(settings, env)
    watch = make_consumer(settings, f"bench-watch-{uuid.uuid4().hex[:6]}")
    watch.assign(_end_offsets(settings, ("md.index", "md.marks")))
    watch.consume(1, 1.0)  # connected and fetching before the feed starts (nothing there yet)
    wanted = set(underlyings)
    indexes: dict[str, tuple[float, str]] = {}  # index id -> (read at, causing L2 update)
    chains: dict[str, list[float]] = {}  # index id -> read times of its marks
    sent: dict[str, float] = {}
    feeder = threading.Thread(target=lambda: sent.update(_produce(settings, payloads, rate)))
    try:
        feeder.start()
        last_seen = time.monotonic()
        deadline = last_seen + seconds + 120
        # until the feed is done and nothing came back for 5 s (the agents have caught up)
        while (feeder.is_alive() or time.monotonic() - last_seen < 5) \
                and time.monotonic() < deadline:
            # a short timeout: consume() waits until the batch is full or the time is up,
            # and every wait would count as latency
            for msg in watch.consume(1000, 0.005):
                if msg.error():
                    continue
                now = time.time()
                body = json.loads(msg.value())
                if msg.topic() == "md.index" and body["underlying"] in wanted:
                    indexes[body["event_id"]] = (now, body["causation_id"])
                elif msg.topic() == "md.marks" and body["symbol"].split("-")[0] in wanted:
                    chains.setdefault(body["causation_id"], []).append(now)
                else:
                    continue
                last_seen = time.monotonic()
        feeder.join()
    finally:
        watch.close()
        worker.stop()
    index_ms = [1000 * (at - sent[cause]) for at, cause in indexes.values() if cause in sent]
    size: dict[str, int] = {}  # the chain size of each underlying
    for cause, reads in chains.items():
        u = cause.split(":")[0]
        size[u] = max(size.get(u, 0), len(reads))
    complete = {i: v for i, v in chains.items()
                if len(v) == size[i.split(":")[0]] and i in indexes}
    first_ms = [1000 * (min(v) - sent[indexes[i][1]]) for i, v in complete.items()]
    last_ms = [1000 * (max(v) - sent[indexes[i][1]]) for i, v in complete.items()]
    if not first_ms:
        raise SystemExit(f"no marks came back: see {worker.log}")
    return {"updates": len(payloads), "indexes": len(index_ms), "chains": len(complete),
            "chain_size": min(size.values(), default=0),
            "index_p50": statistics.median(index_ms), "index_p99": _pct(index_ms, 0.99),
            "first_p50": statistics.median(first_ms), "first_p99": _pct(first_ms, 0.99),
            "last_p50": statistics.median(last_ms), "last_p99": _pct(last_ms, 0.99),
            "remarks_per_s": len(complete) / seconds,
            # (seconds into the run, ms) of each chain's last mark: where the slow ones are
            "series": sorted((sent[indexes[i][1]] - min(sent.values()), ms)
                             for i, ms in zip(complete, last_ms, strict=True))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=40_000)
    parser.add_argument("--symbols", type=int, default=4)
    parser.add_argument("--latency-rate", type=float, default=400.0,
                        help="L2 updates/s of the paced run that measures latency")
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    parser.add_argument("--budget", type=float, default=0.5, help="seconds per pure figure")
    parser.add_argument("--profile", help="py-spy the worker of the throughput leg into this "
                        "file (raw collapsed stacks)")
    args = parser.parse_args()
    with private_kafka(get_settings()) as settings:
        run(settings, args)


def run(settings: Settings, args: argparse.Namespace) -> None:

    pure = chain_marks(args.budget)
    print(f"chain marks: a {pure['size']:.0f}-option chain, no Kafka")
    print(f"  vectorised maths only  {pure['maths_s'] * 1e3:7.2f} ms  "
          f"({1 / pure['maths_s']:6.0f} chains/s)   [benchmarks/option_marks.py]")
    print(f"  marks (Decimal, contracts) {pure['marks_s'] * 1e3:7.2f} ms  "
          f"({1 / pure['marks_s']:6.0f} chains/s)")
    print(f"  + JSON for Kafka       {pure['messages_s'] * 1e3:7.2f} ms  "
          f"({1 / pure['messages_s']:6.0f} chains/s, "
          f"{pure['size'] / pure['messages_s']:,.0f} marks/s)")

    result = throughput(settings, args.updates, args.symbols, args.profile)
    base = passthrough(settings, L2.name, result.pop("starts"),  # type: ignore[arg-type]
                       int(result["updates"]), L2.partitions)
    print(f"throughput: {result['updates']:.0f} L2 updates over {args.symbols} symbols x "
          f"{len(VENUES)} venues, produced at once ({result['produce_s']:.2f}s), then drained")
    print(f"  pipeline  {result['rate']:10,.0f} updates/s (last index "
          f"{result['elapsed_s']:.2f}s after the first update)")
    print(f"  worker CPU {result['cpu_us']:7.0f} us an update (at most "
          f"{1e6 / result['cpu_us']:,.0f} updates/s on a core of its own)")
    print(f"  baseline  {base:10,.0f} msg/s     (confluent-kafka consume→produce, same messages)")
    print(f"  ratio pipeline/baseline: {result['rate'] / base:.3f}")

    lat = latency(settings, args.latency_rate, args.latency_seconds)
    print(f"latency: {lat['updates']:.0f} L2 updates paced at {args.latency_rate:,.0f}/s, "
          f"4 underlyings x {lat['chain_size']:.0f}-option chains")
    print(f"  L2 update → index       p50 {lat['index_p50']:6.0f} ms  p99 "
          f"{lat['index_p99']:6.0f} ms  ({lat['indexes']:.0f} indexes)")
    print(f"  L2 update → first mark  p50 {lat['first_p50']:6.0f} ms  p99 "
          f"{lat['first_p99']:6.0f} ms  ({lat['chains']:.0f} chain re-marks, "
          f"{lat['remarks_per_s']:.1f}/s: at most 1/s per chain by design)")
    print(f"  L2 update → whole chain p50 {lat['last_p50']:6.0f} ms  p99 {lat['last_p99']:6.0f} ms")


if __name__ == "__main__":
    main()
