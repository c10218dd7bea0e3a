"""Simulated order flow: a realistic, deterministic mix of order commands on the wire contracts.

About 55 % limit orders a few ticks around the mid (some IOC and FOK), 20 % cancels of resting
orders, 15 % marketable market orders with a protection price, 10 % amends; three accounts,
so self-trade prevention has work too. Used by ``strikeflow simulate-orders``, the demo, the
differential tests and the benchmarks.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from topics.contracts import orders as wire

__all__ = ["ACCOUNTS", "MIDS", "generate_commands", "publish_orders", "venue_order_flow"]

ACCOUNTS = ("acc-a", "acc-b", "acc-c")


def generate_commands(symbols: list[str], n: int, seed: int, start: datetime | None = None,
                      mid: Decimal = Decimal(90_000), step: timedelta = timedelta(milliseconds=1),
                      prefix: str = "", accounts: tuple[str, ...] = ACCOUNTS
                      ) -> Iterator[wire.SubmitOrder | wire.CancelOrder | wire.AmendOrder]:
    """``n`` commands over ``symbols``; ``prefix`` keeps ids unique across runs."""
    rng = random.Random(seed)
    start = start or datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    resting: dict[str, list[tuple[str, str]]] = {s: [] for s in symbols}
    for i in range(n):
        symbol = rng.choice(symbols)
        account = rng.choice(accounts)
        common = {"command_id": f"{prefix}{symbol}:c{i}", "ts_sent": start + step * i,
                  "account": account, "symbol": symbol}
        roll = rng.random()
        live = resting[symbol]
        if roll < 0.55 or not live:
            side = rng.choice(["buy", "sell"])
            offset = rng.randint(1, 40) * (-1 if side == "buy" else 1)
            tif = rng.choice(["GTC"] * 8 + ["IOC", "FOK"])
            cid = f"{prefix}o{i}"
            yield wire.SubmitOrder(**common, client_order_id=cid, side=side, order_type="limit",
                                   time_in_force=tif, qty=Decimal(rng.randint(1, 50)) / 1000,
                                   price=mid + offset + Decimal("0.5"))
            if tif == "GTC":
                live.append((account, cid))
        elif roll < 0.75:
            acc, cid = live.pop(rng.randrange(len(live)))
            yield wire.CancelOrder(**(common | {"account": acc}), client_order_id=cid)
        elif roll < 0.9:
            side = rng.choice(["buy", "sell"])
            protection = mid + (300 if side == "buy" else -300)
            yield wire.SubmitOrder(**common, client_order_id=f"{prefix}m{i}", side=side,
                                   order_type="market", qty=Decimal(rng.randint(1, 80)) / 1000,
                                   protection_price=protection)
        else:
            acc, cid = rng.choice(live)
            yield wire.AmendOrder(**(common | {"account": acc}), client_order_id=cid,
                                  new_qty=Decimal(rng.randint(1, 50)) / 1000)


MIDS = {"BTC-USDT": Decimal(91_000), "ETH-USDT": Decimal(3_200)}


def venue_order_flow(n: int, seed: int, rate: float) -> list[wire.SubmitOrder | wire.CancelOrder |
                                                            wire.AmendOrder]:
    """``n`` commands for the listed spot books, time-stamped from now at ``rate`` per second."""
    from itertools import zip_longest

    step = timedelta(seconds=1 / rate)
    start = datetime.now(UTC)
    run = f"sim{int(start.timestamp())}"
    # client order ids are unique per account across books and runs: the book is in the prefix
    flows = [list(generate_commands([symbol], n // len(MIDS), seed + k, start, mid, step,
                                    f"{run}-{symbol.split('-')[0].lower()}-"))
             for k, (symbol, mid) in enumerate(MIDS.items())]
    return [c for pair in zip_longest(*flows) for c in pair if c is not None]


def publish_orders(producer: Any, commands: list[Any], rate: float,
                   progress: Callable[[dict[str, int]], None] | None = None,
                   topic: str = "orders.commands") -> dict[str, int]:
    """Publish at ``rate`` per second to ``orders.commands`` (keyed by instrument, straight
    to matching) or ``orders.requests`` (keyed by account, through pre-trade risk)."""
    import time

    from topics.catalogue import by_name

    spec = by_name(topic)
    by_account = topic == "orders.requests"
    sent = {"orders": 0}
    t0 = time.monotonic()
    for n, cmd in enumerate(commands):
        key = cmd.account if by_account else cmd.symbol
        producer.produce(spec.name, key=key.encode(), value=spec.encode(cmd))
        producer.poll(0)
        sent["orders"] += 1
        if (ahead := (n + 1) / rate - (time.monotonic() - t0)) > 0.002:
            time.sleep(ahead)
        if progress is not None and n % 200 == 0:
            progress(sent)
    producer.flush(30)
    return sent
