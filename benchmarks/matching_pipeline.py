"""Orders through Kafka and the matching agent, against a raw passthrough of the same orders.

* **throughput** — N commands produced at once; a real worker running only the matching agent
  (fresh group, from the latest offsets) drains them; orders/s = N / (time until the last
  command's first ``orders.events`` message is seen, from the first produce). The baseline moves the
  same N messages with a bare confluent-kafka consume→produce loop, in the same run.
* **latency** — commands paced at ``--rate``/s; for each, the time from handing it to the
  producer to reading its first execution report (same process, same clock).

    python -m benchmarks.matching_pipeline [--orders 30000] [--rate 5000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import string
import time
import uuid

from benchmarks.kafka_legs import drain, end_offsets, passthrough, produce, watch_from_end
from benchmarks.private_kafka import private_kafka
from infra.settings import Settings, get_settings
from streams.matching.orderflow import generate_commands
from streams.worker_process import WorkerProcess
from topics.catalogue import by_name

COMMANDS = by_name("orders.commands")


def _run(settings: Settings, n: int, rate: float | None, instruments: int) -> dict[str, float]:
    rng = random.Random()
    bases = ["BM" + "".join(rng.choice(string.ascii_uppercase) for _ in range(6))
             for _ in range(instruments)]
    symbols = [f"{b}-USDT" for b in bases]
    items = [(c.symbol.encode(), COMMANDS.encode(c), c.command_id)
             for c in generate_commands(symbols, n, seed=5, prefix=uuid.uuid4().hex[:6])]
    worker = WorkerProcess(settings, f"bench-match-{uuid.uuid4().hex[:6]}", 16191,
                           offset_reset="latest",
                           env={"STRIKEFLOW_WORKER__AGENTS": '["streams.matching"]',
                                "STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES": json.dumps(bases)})
    worker.start()
    watch = watch_from_end(settings, ["orders.events"])
    starts = end_offsets(settings, COMMANDS.name)
    first_seen: dict[str, float] = {}

    def on_message(msg: object) -> None:
        cause = json.loads(msg.value())["causation_id"]  # type: ignore[attr-defined]
        first_seen.setdefault(cause, time.time())

    try:
        t0 = time.time()
        sent_at = produce(settings, COMMANDS.name, items, rate)
        produced_s = time.time() - t0
        ok = drain(watch, on_message, lambda: len(first_seen) >= n, timeout_s=600)
    finally:
        watch.close()
        worker.stop()
    if not ok:
        raise SystemExit(f"saw reports for {len(first_seen)}/{n} commands; see {worker.log}")
    lat = sorted(first_seen[c] - sent_at[c] for c in sent_at)
    return {"n": n, "produce_s": produced_s, "elapsed_s": max(first_seen.values()) - t0,
            "rate": n / (max(first_seen.values()) - t0),
            "p50_ms": 1000 * statistics.median(lat), "p99_ms": 1000 * lat[int(0.99 * (n - 1))],
            "starts": starts}  # type: ignore[dict-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=30_000)
    parser.add_argument("--instruments", type=int, default=6)
    parser.add_argument("--rate", type=float, default=5000.0, help="paced rate for latency")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    args = parser.parse_args()
    with private_kafka(get_settings()) as settings:  # its own broker: runs beside a stack
        _bench(settings, args)


def _bench(settings: Settings, args: argparse.Namespace) -> None:
    print(f"matching pipeline benchmark: {args.orders} orders over {args.instruments} instruments")
    burst = _run(settings, args.orders, None, args.instruments)
    base = passthrough(settings, COMMANDS.name, burst.pop("starts"), args.orders,  # type: ignore[arg-type]
                       COMMANDS.partitions)
    print(f"  throughput (all produced in {burst['produce_s']:.2f}s, then drained):")
    print(f"    pipeline  {burst['rate']:10,.0f} orders/s  (last report "
          f"{burst['elapsed_s']:.2f}s after the first order)")
    print(f"    baseline  {base:10,.0f} msg/s     (confluent-kafka consume→produce, same orders)")
    print(f"    ratio pipeline/baseline: {burst['rate'] / base:.3f}")
    paced_n = int(args.rate * args.latency_seconds)
    paced = _run(settings, paced_n, args.rate, args.instruments)
    print(f"  latency, {paced_n} orders paced at {args.rate:,.0f}/s "
          f"(achieved {paced_n / paced['produce_s']:,.0f}/s):")
    print(f"    order produced → first execution report: p50 {paced['p50_ms']:.1f} ms, "
          f"p99 {paced['p99_ms']:.1f} ms")


if __name__ == "__main__":
    main()
