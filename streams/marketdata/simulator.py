"""A market simulator: BTC and ETH trades from several venues, published to ``md.ticks``.

Each underlying follows a geometric random walk; every venue quotes it with its own small,
mean-reverting basis and numbers its trades 1, 2, 3 … as real venues do. ``speed`` scales event
time against wall time (10 = ten simulated seconds per second) so candles close quickly in a
demo; ``duplicate_rate`` and ``invalid_every`` inject the faults the pipeline must absorb.
Everything is seeded: the same arguments produce the same ticks.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from topics.catalogue import by_name
from topics.contracts import Tick

__all__ = ["SimulatorConfig", "generate_ticks", "publish"]

UNDERLYINGS = {"BTC": (Decimal("91000"), Decimal("0.1")), "ETH": (Decimal("3200"), Decimal("0.01"))}
VENUES = ("binance", "okx", "bybit", "deribit")


@dataclass(frozen=True)
class SimulatorConfig:
    rate: float = 200.0  # ticks per second of wall time
    count: int = 10_000
    speed: float = 1.0
    seed: int = 7
    start: datetime | None = None
    duplicate_rate: float = 0.0
    invalid_every: int = 0
    annual_vol: float = 0.6


def generate_ticks(cfg: SimulatorConfig) -> Iterator[Tick | bytes]:
    """Yield ``cfg.count`` ticks (and, when asked, raw invalid payloads), deterministically."""
    rng = random.Random(cfg.seed)
    start = cfg.start or datetime.now(UTC)
    step_s = cfg.speed / cfg.rate  # event-time seconds between ticks
    sigma = cfg.annual_vol * math.sqrt(step_s / (365 * 86_400))
    mid = {u: float(p) for u, (p, _) in UNDERLYINGS.items()}
    basis = {(u, v): 0.0 for u in UNDERLYINGS for v in VENUES}
    # Venues number trades contiguously and never reuse a number: start where this run's
    # start time puts us, so a later run continues above an earlier one.
    first_id = int(start.timestamp()) * 1000
    trade_ids = {(u, v): first_id for u in UNDERLYINGS for v in VENUES}
    last: Tick | None = None
    for n in range(cfg.count):
        if cfg.invalid_every and n and n % cfg.invalid_every == 0:
            yield json.dumps({"venue": "binance", "symbol": "BTC-USDT", "price": "-1"}).encode()
            continue
        if last is not None and rng.random() < cfg.duplicate_rate:
            yield last
            continue
        underlying = "BTC" if rng.random() < 0.6 else "ETH"
        venue = rng.choice(VENUES)
        mid[underlying] *= math.exp(sigma * rng.gauss(0, 1) * 8)
        key = (underlying, venue)
        basis[key] = 0.9 * basis[key] + rng.gauss(0, 0.0002)
        tick_size = UNDERLYINGS[underlying][1]
        price = Decimal(str(mid[underlying] * (1 + basis[key]))).quantize(tick_size)
        qty = Decimal(str(round(rng.lognormvariate(-3.0, 1.2), 4))) or Decimal("0.0001")
        trade_ids[key] += 1
        ts = start + timedelta(seconds=n * step_s)
        last = Tick(
            event_id=f"{venue}:{underlying}-USDT:{trade_ids[key]}", ts_event=ts,
            venue=venue, symbol=f"{underlying}-USDT", trade_id=trade_ids[key],
            price=price, qty=qty, side="buy" if rng.random() < 0.5 else "sell",
        )
        yield last


def publish(producer: object, cfg: SimulatorConfig,
            progress: object = None) -> dict[str, int]:
    """Publish at ``cfg.rate`` ticks/s (bounded by ``cfg.count``); returns counts."""
    spec = by_name("md.ticks")
    sent = {"ticks": 0, "duplicates": 0, "invalid": 0}
    seen: set[str] = set()
    t0 = time.monotonic()
    for n, item in enumerate(generate_ticks(cfg)):
        if isinstance(item, bytes):
            producer.produce(spec.name, key=b"BTC-USDT", value=item)  # type: ignore[attr-defined]
            sent["invalid"] += 1
        else:
            kind = "duplicates" if item.event_id in seen else "ticks"
            seen.add(item.event_id)
            producer.produce(spec.name, key=item.symbol.encode(),  # type: ignore[attr-defined]
                             value=spec.encode(item),
                             timestamp=int(item.ts_event.timestamp() * 1000))
            sent[kind] += 1
        producer.poll(0)  # type: ignore[attr-defined]
        ahead = (n + 1) / cfg.rate - (time.monotonic() - t0)
        if ahead > 0.002:
            time.sleep(ahead)
        if progress is not None and n % 500 == 0:
            progress(sent)  # type: ignore[operator]
    producer.flush(30)  # type: ignore[attr-defined]
    return sent
