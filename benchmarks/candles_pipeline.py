"""Ticks through Kafka and the candle agent, against a raw consume→produce passthrough.

Both legs move the same pre-encoded ticks over the same broker in the same run:

* **baseline** — one confluent-kafka consumer reads them from ``md.ticks`` and produces each
  to a scratch topic: the floor of what any Kafka-to-Kafka stage costs here;
* **pipeline** — a real ``strikeflow worker`` (fresh consumer group, reading from the latest
  offsets) validates every tick, updates the candles in its RocksDB table and publishes them.

Throughput is ticks / (last closing candle seen - first tick produced). Latency is, for each
candle update, the candle's creation time minus the produce time of the tick that last changed
it (``causation_id``); it includes the agent's batching window (0.25 s).

    python -m benchmarks.candles_pipeline [--ticks 50000] [--symbols 8]

Runs on a Kafka broker of its own (:mod:`benchmarks.private_kafka`), started and deleted by the run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from benchmarks.kafka_legs import end_offsets, passthrough, produce, watch_from_end
from benchmarks.private_kafka import private_kafka
from infra.settings import Settings, get_settings
from streams.worker_process import WorkerProcess
from topics.catalogue import by_name
from topics.contracts import Tick

TICKS = by_name("md.ticks")


START = datetime(2026, 1, 1, tzinfo=UTC)


def _last_window(n: int) -> datetime:
    """The window of the last data tick: its final candle closes the run for a symbol."""
    last = START + timedelta(milliseconds=10 * (n - 1))
    return last.replace(second=0, microsecond=0)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _payloads(n: int, symbols: list[str]) -> list[tuple[bytes, bytes, str]]:
    """``n`` ticks spread over the symbols, 10 ms of event time apart, then a closing tick."""
    start = START
    out = []
    for i in range(n):
        sym = symbols[i % len(symbols)]
        tick = Tick(event_id=f"bench:{sym}:{i}", ts_event=start + timedelta(milliseconds=10 * i),
                    venue="bench", symbol=sym, trade_id=i, price=Decimal(1000 + i % 97),
                    qty=Decimal("0.5"), side="buy")
        out.append((sym.encode(), TICKS.encode(tick), tick.event_id))
    end = start + timedelta(milliseconds=10 * n, minutes=2)
    for j, sym in enumerate(symbols):  # moves every watermark past the last window
        tick = Tick(event_id=f"bench:{sym}:close", ts_event=end, venue="bench", symbol=sym,
                    trade_id=n + j, price=Decimal(1000), qty=Decimal(1), side="sell")
        out.append((sym.encode(), TICKS.encode(tick), tick.event_id))
    return out


def pipeline(settings: Settings, n: int, symbols: int,
             rate: float | None = None) -> dict[str, float]:
    names = [f"B{uuid.uuid4().hex[:5].upper()}{i}-USDT" for i in range(symbols)]
    payloads = _payloads(n, names)
    worker = WorkerProcess(settings, f"bench-{uuid.uuid4().hex[:6]}", 16190,
                           offset_reset="latest")
    worker.start()
    watch = watch_from_end(settings, ["md.candles"])
    starts = end_offsets(settings, TICKS.name)
    try:
        t0 = time.time()
        sent_at = produce(settings, TICKS.name, payloads, rate)
        produced_s = time.time() - t0
        wanted = set(names)
        last_window = _last_window(n)
        closed: set[str] = set()
        latencies: list[float] = []
        t_last = t0
        deadline = time.monotonic() + 600
        while closed != wanted and time.monotonic() < deadline:
            for msg in watch.consume(500, 0.5):
                if msg.error() or msg.key().decode() not in wanted:
                    continue
                candle = json.loads(msg.value())
                made = _utc(candle["ts_init"]).timestamp()
                if candle["causation_id"] in sent_at:
                    latencies.append(made - sent_at[candle["causation_id"]])
                t_last = max(t_last, made)
                if candle["final"] and _utc(candle["window_start"]) >= last_window:
                    closed.add(msg.key().decode())
    finally:
        watch.close()
        worker.stop()
    if closed != wanted:
        raise SystemExit(f"only {len(closed)}/{len(wanted)} symbols closed: see {worker.log}")
    latencies.sort()
    return {
        "ticks": len(payloads), "produce_s": produced_s, "elapsed_s": t_last - t0,
        "rate": len(payloads) / (t_last - t0),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "updates": len(latencies), "starts": starts,  # type: ignore[dict-item]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=50_000)
    parser.add_argument("--symbols", type=int, default=8)
    parser.add_argument("--latency-rate", type=float, default=1000.0,
                        help="ticks/s of the paced run that measures latency")
    parser.add_argument("--latency-seconds", type=float, default=15.0)
    args = parser.parse_args()
    with private_kafka(get_settings()) as settings:  # its own broker: runs beside a stack
        _bench(settings, args)


def _bench(settings: Settings, args: argparse.Namespace) -> None:
    print(f"candle pipeline benchmark: {args.ticks} ticks over {args.symbols} symbols")
    result = pipeline(settings, args.ticks, args.symbols)
    base = passthrough(settings, TICKS.name, result.pop("starts"), int(result["ticks"]),
                       TICKS.partitions)
    print(f"  throughput: all ticks produced at once ({result['produce_s']:.2f}s), then drained")
    print(f"    pipeline  {result['rate']:10,.0f} ticks/s   (last candle "
          f"{result['elapsed_s']:.2f}s after the first tick; {result['updates']:.0f} updates)")
    print(f"    baseline  {base:10,.0f} msg/s     (confluent-kafka consume→produce, same ticks)")
    print(f"    ratio pipeline/baseline: {result['rate'] / base:.3f}")
    paced_n = int(args.latency_rate * args.latency_seconds)
    paced = pipeline(settings, paced_n, args.symbols, rate=args.latency_rate)
    paced.pop("starts")
    print(f"  latency: {paced_n} ticks paced at {args.latency_rate:,.0f}/s")
    print(f"    tick→candle p50 {paced['p50_ms']:.0f} ms, p99 {paced['p99_ms']:.0f} ms "
          f"(includes the agent's 250 ms batching window)")


if __name__ == "__main__":
    main()
