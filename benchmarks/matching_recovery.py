"""Seconds from restarting a SIGKILLed matching worker to processing orders again.

A worker running only the matching agent takes ``--resting`` non-crossing GTC orders spread
over ``--instruments`` books (snapshots as configured), is SIGKILLed, and restarted; we time
the restart until Faust reports ready, and until a new order on every book has its execution
report. The baseline, in the same run, is the same for a worker with no state at all.

    python -m benchmarks.matching_recovery [--resting 100000] [--instruments 10]
"""

from __future__ import annotations

import argparse
import json
import random
import string
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from benchmarks.kafka_legs import drain, produce, watch_from_end
from benchmarks.private_kafka import private_kafka
from infra.settings import Settings, get_settings
from streams.worker_process import WorkerProcess
from topics.catalogue import by_name
from topics.contracts import orders as wire

COMMANDS = by_name("orders.commands")


def _orders(symbols: list[str], n: int, tag: str) -> list[tuple[bytes, bytes, str]]:
    start = datetime.now(UTC)
    out = []
    for i in range(n):
        symbol = symbols[i % len(symbols)]
        side = "buy" if i % 2 else "sell"
        ticks = 1 + (i // len(symbols)) % 500
        price = Decimal(90_000) + (ticks if side == "sell" else -ticks)
        cmd = wire.SubmitOrder(command_id=f"{tag}:{i}", ts_sent=start + timedelta(microseconds=i),
                               account=f"acc-{i % 50}", symbol=symbol,
                               client_order_id=f"{tag}-{i}", side=side, order_type="limit",
                               qty=Decimal("0.001"), price=price)
        out.append((symbol.encode(), COMMANDS.encode(cmd), cmd.command_id))
    return out


def _time_to_processing(settings: Settings, worker: WorkerProcess, symbols: list[str],
                        tag: str) -> tuple[float, float]:
    """(restart → ready, restart → a report for a new order on every book), in seconds."""
    t0 = time.monotonic()
    worker.start(timeout_s=300)
    ready = time.monotonic() - t0
    watch = watch_from_end(settings, ["orders.events"])
    probes = _orders(symbols, len(symbols), tag)
    seen: set[str] = set()
    produce(settings, COMMANDS.name, probes)
    drain(watch, lambda m: seen.add(json.loads(m.value())["causation_id"]),
          lambda: len(seen & {p[2] for p in probes}) == len(probes), timeout_s=300)
    watch.close()
    return ready, time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resting", type=int, default=100_000)
    parser.add_argument("--instruments", type=int, default=10)
    args = parser.parse_args()
    with private_kafka(get_settings()) as settings:  # its own broker: runs beside a stack
        _bench(settings, args)


def _bench(settings: Settings, args: argparse.Namespace) -> None:
    rng = random.Random()
    bases = ["RC" + "".join(rng.choice(string.ascii_uppercase) for _ in range(6))
             for _ in range(args.instruments)]
    symbols = [f"{b}-USDT" for b in bases]
    env = {"STRIKEFLOW_WORKER__AGENTS": '["streams.matching"]',
           "STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES": json.dumps(bases)}
    tag = uuid.uuid4().hex[:6]

    fresh = WorkerProcess(settings, f"bench-rec-fresh-{tag}", 16193, offset_reset="latest",
                          env=env)
    base_ready, base_total = _time_to_processing(settings, fresh, symbols, f"{tag}-f")
    fresh.stop()

    worker = WorkerProcess(settings, f"bench-rec-{tag}", 16192, offset_reset="latest", env=env)
    worker.start(timeout_s=300)
    watch = watch_from_end(settings, ["orders.events"])
    print(f"loading {args.resting:,} resting orders over {args.instruments} books …")
    items = _orders(symbols, args.resting, f"{tag}-r")
    wanted = {i[2] for i in items}
    seen: set[str] = set()
    t_load = time.monotonic()
    produce(settings, COMMANDS.name, items)
    drain(watch, lambda m: seen.add(json.loads(m.value())["causation_id"]),
          lambda: len(seen & wanted) == len(wanted), timeout_s=1800)
    watch.close()
    print(f"  loaded in {time.monotonic() - t_load:.1f}s; waiting for a snapshot, then kill -9")
    time.sleep(get_settings().matching.snapshot_every_s + 2)
    worker.kill()
    ready, total = _time_to_processing(settings, worker, symbols, f"{tag}-p")
    worker.stop()
    print(f"  restart → ready {ready:.1f}s, → processing on every book {total:.1f}s "
          f"(goal < 5 s)")
    print(f"  baseline, a worker with no state: ready {base_ready:.1f}s, processing "
          f"{base_total:.1f}s")
    print(f"  recovery cost of {args.resting:,} resting orders: {total - base_total:+.1f}s "
          f"(ratio {total / base_total:.2f})")


if __name__ == "__main__":
    main()
