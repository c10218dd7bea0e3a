"""Settlements per second through the acceptance state machine (``start`` + ``advance``)
with the simulated venue, against the venue's own raw ``place_market_order`` rate.

Each settlement is one simplified-option order (calls and puts on BTC and ETH, strikes
around the money, 0.1..5 contracts, seeded): ``start`` prices the hedge (Black-76 delta,
rounded to the lot), ``advance`` takes it pending → hedging → hedged → booked — the hedge
placed on :class:`~streams.settlement.venue.SimulatedVenue` (a market order walking a fixed
five-level book, its order kept in SQLite in a temporary directory, as the worker keeps it
under its data dir) and the outputs built: four results, the hedge fill and eight ledger
entries, all contracts validated on construction. The record's JSON round trip (what the
agent stores after every step) is included.

Why the raw venue call is the baseline: the venue is the part a settlement cannot do
without (one durable order per hedge, looked up first so a retry never trades twice); the
ratio says how much the state machine costs on top of it. Both run the same number of orders
against their own fresh SQLite file in the same temporary directory, interleaved, ``--repeats``
times; the best run by wall time is the headline (the venue's commit waits on the disk, so
CPU time alone would flatter it), the median run and the best CPU time beside it.
Per-order latency (``perf_counter_ns`` around start + advance + store) is taken over every
run of the state machine, p50 and p99.

Run: ``.venv/bin/python -m benchmarks.settlements [--orders N] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from streams.settlement.hedging import hedge_for_option_sale
from streams.settlement.machine import Settlement, advance, start
from streams.settlement.venue import Book, SimulatedVenue
from topics.contracts.cdc import OptionOrderEvent, option_order_event_id

__all__ = ["book_for", "build_orders", "main"]

D = Decimal
ORDERED_AT = datetime(2026, 1, 5, 12, tzinfo=UTC)
INDEX = {"BTC": D(100_000), "ETH": D(3500)}


def book_for(symbol: str) -> Book:
    """Five levels a side around the index, deep enough for any hedge here."""
    index = INDEX[symbol.split("-")[0]]
    tick = index / 100_000
    bids = [(index - tick * (1 + 2 * i), D(20 + 10 * i)) for i in range(5)]
    asks = [(index + tick * (1 + 2 * i), D(20 + 10 * i)) for i in range(5)]
    return bids, asks


def build_orders(n: int, seed: int) -> list[OptionOrderEvent]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        underlying = rnd.choice(("BTC", "ETH"))
        index = INDEX[underlying]
        step = D(5000) if underlying == "BTC" else D(100)
        strike = (index / step + rnd.randint(-2, 2)) * step
        option_type = rnd.choice(("call", "put"))
        contracts = D(rnd.randint(10, 500)) / 100
        expiry = ORDERED_AT + timedelta(days=rnd.choice((4, 11, 25, 53)))
        price = (index * D("0.03")).quantize(D("0.01"))
        premium = price * contracts
        fee = (premium * D("0.0005")).quantize(D("0.00000001"))
        order_id = uuid.UUID(int=seed * 10_000_000 + i)
        letter = "C" if option_type == "call" else "P"
        out.append(OptionOrderEvent(
            event_id=option_order_event_id(order_id, "open"), ts_event=ORDERED_AT,
            order_id=order_id, account=f"acc-{i % 500}", client_order_id=f"co-{i}",
            product=f"{underlying}-{expiry:%Y%m%d}-{strike}-{letter}", underlying=underlying,
            strike=strike, expiry=expiry, option_type=option_type, contract_size=D(1),
            side="buy", contracts=contracts, underlying_price=index, iv=D("0.55"),
            price=price, premium=premium, fee=fee, total=premium + fee, status="open",
            ordered_at=ORDERED_AT, source="stream"))
    return out


def _venue(path: Path) -> SimulatedVenue:
    return SimulatedVenue(path, book_for, fee_rate=D("0.001"), slippage_bps=D(2))


def run_machine(orders: list[OptionOrderEvent], path: Path,
                latencies: list[int]) -> tuple[float, float, int]:
    """(wall, CPU) seconds to settle every order, and the outputs; appends per-order
    nanoseconds to ``latencies``."""
    venue = _venue(path)
    now_s = ORDERED_AT.timestamp() + 1
    outputs = 0
    clock = time.perf_counter_ns
    begin, cpu = time.perf_counter(), time.process_time()
    for event in orders:
        t0 = clock()
        record = start(event, partition=0)
        out = advance(record, venue, now_s, retry_initial_s=0.2, retry_max_s=10.0)
        stored = json.dumps(record.to_json())
        latencies.append(clock() - t0)
        outputs += len(out)
        if record.state != "booked" or Settlement.from_json(json.loads(stored)) != record:
            raise SystemExit(f"order {record.order_id} ended {record.state}: {record.reason}")
    return time.perf_counter() - begin, time.process_time() - cpu, outputs


def run_venue(hedges: list[tuple[str, str, str, Decimal]], path: Path) -> tuple[float, float]:
    """(wall, CPU) seconds to place the same hedges straight on a fresh venue."""
    venue = _venue(path)
    begin, cpu = time.perf_counter(), time.process_time()
    for client_order_id, symbol, side, qty in hedges:
        venue.place_market_order(client_order_id=client_order_id, symbol=symbol, side=side,
                                 qty=qty)
    return time.perf_counter() - begin, time.process_time() - cpu


def _percentile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)

    orders = build_orders(args.orders, args.seed)
    hedges = []
    for event in orders:
        h = hedge_for_option_sale(
            underlying=event.underlying, option_type=event.option_type, strike=event.strike,
            expiry=event.expiry, underlying_price=event.underlying_price, iv=event.iv,
            contracts=event.contracts, contract_size=event.contract_size, at=event.ordered_at)
        hedges.append((f"hedge:{event.order_id}", h.symbol, h.side, h.qty))
    unhedged = sum(qty == 0 for *_, qty in hedges)
    hedges = [h for h in hedges if h[3] > 0]  # the machine places no order for these either

    machine_s, venue_s, machine_cpu, venue_cpu, latencies = [], [], [], [], []
    outputs = 0
    with tempfile.TemporaryDirectory(prefix="strikeflow-settlements-") as tmp:
        print(f"StrikeFlow settlements benchmark: {len(orders)} option orders "
              f"({len(hedges)} hedged, {unhedged} with nothing to hedge), seed {args.seed}; "
              f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
              f"venue files in {tempfile.gettempdir()}")
        for run in range(args.repeats):  # interleaved, fresh SQLite files each run
            wall, cpu = run_venue(hedges, Path(tmp) / f"venue-{run}.sqlite")
            venue_s.append(wall)
            venue_cpu.append(cpu)
            wall, cpu, outputs = run_machine(orders, Path(tmp) / f"machine-{run}.sqlite",
                                             latencies)
            machine_s.append(wall)
            machine_cpu.append(cpu)

    base = len(hedges) / min(venue_s)
    rate = len(orders) / min(machine_s)
    print(f"  outputs per settlement: {outputs / len(orders):.1f} (results, hedge fill, "
          "ledger entries)")
    print()
    print(f"  {'orders/s, ' + str(args.repeats) + ' runs':<40}{'best wall':>11}"
          f"{'median wall':>13}{'best CPU':>11}")
    for name, n, wall, cpu in (
            ("baseline: venue place_market_order", len(hedges), venue_s, venue_cpu),
            ("settlements: start + advance + store", len(orders), machine_s, machine_cpu)):
        print(f"  {name:<40}{n / min(wall):>11,.0f}{n / statistics.median(wall):>13,.0f}"
              f"{n / min(cpu):>11,.0f}")
    print()
    print(f"  per-order latency of the state machine over {len(latencies)} settlements: "
          f"p50 {_percentile(latencies, 0.50) / 1e6:.2f} ms, "
          f"p99 {_percentile(latencies, 0.99) / 1e6:.2f} ms, "
          f"max {max(latencies) / 1e6:.2f} ms")
    cpu_ratio = (len(orders) / min(machine_cpu)) / (len(hedges) / min(venue_cpu))
    print(f"  => settlements run at {rate / base:.2f}x the raw venue order rate by wall time "
          f"(the venue's commits wait on the disk), {cpu_ratio:.2f}x by CPU time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
