"""A market simulator: BTC and ETH trades and L2 books from several venues.

Each underlying follows a geometric random walk; every venue quotes it with its own small,
mean-reverting basis and numbers its trades 1, 2, 3 … as real venues do. ``speed`` scales event
time against wall time (10 = ten simulated seconds per second) so candles close quickly in a
demo; ``duplicate_rate`` and ``invalid_every`` inject the faults the pipeline must absorb.
Everything is seeded: the same arguments produce the same ticks.

**L2 books coherent with the trades** (``l2=True``): before each trade the venue re-quotes a
one-tick-wide book of ``depth`` levels a side around its price, published as a delta (the
difference from its previous book) with the venue's next sequence number — or as a snapshot,
the first time and every ``snapshot_every`` updates, as venues that resend their book do. The
trade then prints *at the touch*: a buy at the best ask, a sell at the best bid, for no more
than the size shown there, and that size is taken out of the book (the next delta shows it).
The books draw from their own random stream, so the trades are the same with or without them.
``gap_every`` drops a delta now and then (a lost message: consumers must resynchronise), and
``rogue_venue`` quotes ``rogue_bps`` away from the others (an outlier the index must exclude).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from streams.marketdata.feeds import RawPayload, publish_feed
from topics.contracts import L2Update, Tick

__all__ = ["SimulatorConfig", "SimulatorFeed", "generate_market", "generate_ticks", "publish"]

UNDERLYINGS = {"BTC": (Decimal("91000"), Decimal("0.1")), "ETH": (Decimal("3200"), Decimal("0.01"))}
VENUES = ("binance", "okx", "bybit", "deribit")
_LEVEL_SIZE = {"BTC": (Decimal("0.0001"), 0.4), "ETH": (Decimal("0.001"), 4.0)}
Levels = list[tuple[Decimal, Decimal]]


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
    l2: bool = False  # also publish L2 books on md.l2, coherent with the trades
    depth: int = 10
    snapshot_every: int = 100  # a venue resends its whole book every N of its L2 updates
    gap_every: int = 0  # drop one L2 delta in N (0 = never): the book must resync
    rogue_venue: str | None = None
    rogue_bps: float = 150.0
    # The two assets' names: BTC-like and ETH-like. Tests rename them to stay apart from
    # whatever else publishes BTC-USDT on a shared broker.
    assets: tuple[str, str] = ("BTC", "ETH")


class _VenueBook:
    """A simulated venue's book: re-quoted around a centre, diffed into deltas."""

    def __init__(self, tick: Decimal, lot: Decimal, scale: float, rng: random.Random) -> None:
        self.tick, self.lot, self.scale, self.rng = tick, lot, scale, rng
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.seq = 0
        self.updates = 0

    def _size(self, at_least: Decimal) -> Decimal:
        size = Decimal(str(self.scale * self.rng.lognormvariate(0.0, 0.8))).quantize(self.lot)
        return max(size, at_least + self.lot)

    def _side(self, old: dict[Decimal, Decimal], prices: list[Decimal],
              touch_min: Decimal) -> dict[Decimal, Decimal]:
        side = {}
        for price in prices:
            size = old.get(price)
            if size is None or self.rng.random() < 0.05:  # a new level, or its size changed
                size = self._size(Decimal(0))
            side[price] = size
        side[prices[0]] = max(side[prices[0]], touch_min + self.lot)  # room for the trade
        return side

    def requote(self, bid: Decimal, depth: int, touch_min: Decimal) -> tuple[Levels, Levels]:
        """Quote ``depth`` levels a side with best bid ``bid``; return the (bids, asks) delta."""
        ask = bid + self.tick
        new_bids = self._side(self.bids, [bid - i * self.tick for i in range(depth)], touch_min)
        new_asks = self._side(self.asks, [ask + i * self.tick for i in range(depth)], touch_min)
        delta = (_diff(self.bids, new_bids, reverse=True), _diff(self.asks, new_asks))
        self.bids, self.asks = new_bids, new_asks
        return delta

    def take(self, price: Decimal, qty: Decimal) -> None:
        """A trade took ``qty`` at ``price``: the next delta shows the smaller level."""
        for side in (self.bids, self.asks):
            if price in side:
                side[price] -= qty


def _diff(old: dict[Decimal, Decimal], new: dict[Decimal, Decimal],
          reverse: bool = False) -> Levels:
    out = {p: Decimal(0) for p in old if p not in new}
    out |= {p: q for p, q in new.items() if old.get(p) != q}
    return sorted(out.items(), reverse=reverse)


def default_start(cfg: SimulatorConfig, now: datetime | None = None) -> datetime:
    """Event time that ends at the wall clock when the run does: sped-up event time covers the
    recent past, never the future (the candle agent refuses ticks ahead of the venue clock)."""
    now = now or datetime.now(UTC)
    return now - timedelta(seconds=cfg.count / cfg.rate * max(cfg.speed - 1, 0.0))


def generate_market(cfg: SimulatorConfig) -> Iterator[Tick | L2Update | RawPayload]:
    """Yield ``cfg.count`` trades, with their L2 updates when ``cfg.l2``, deterministically."""
    rng = random.Random(cfg.seed)
    book_rng = random.Random(cfg.seed + 1_000_003)  # books must not change the trades
    step_s = cfg.speed / cfg.rate  # event-time seconds between ticks
    start = cfg.start or default_start(cfg)
    sigma = cfg.annual_vol * math.sqrt(step_s / (365 * 86_400))
    spec = {name: UNDERLYINGS[model] for name, model in zip(cfg.assets, UNDERLYINGS,
                                                             strict=True)}
    sizes = {name: _LEVEL_SIZE[model] for name, model in zip(cfg.assets, UNDERLYINGS,
                                                             strict=True)}
    mid = {u: float(p) for u, (p, _) in spec.items()}
    basis = {(u, v): 0.0 for u in spec for v in VENUES}
    # Venues number trades (and book updates) contiguously and never reuse a number: start
    # where this run's start time puts us, so a later run continues above an earlier one.
    first_id = int(start.timestamp()) * 1000
    trade_ids = {(u, v): first_id for u in spec for v in VENUES}
    books = {(u, v): _VenueBook(spec[u][1], *sizes[u], book_rng)
             for u in spec for v in VENUES}
    for book in books.values():
        book.seq = first_id
    last: Tick | None = None
    for n in range(cfg.count):
        if cfg.invalid_every and n and n % cfg.invalid_every == 0:
            symbol = f"{cfg.assets[0]}-USDT"
            yield RawPayload("md.ticks", symbol.encode(), json.dumps(
                {"venue": "binance", "symbol": symbol, "price": "-1"}).encode())
            continue
        if last is not None and rng.random() < cfg.duplicate_rate:
            yield last
            continue
        underlying = cfg.assets[0] if rng.random() < 0.6 else cfg.assets[1]
        venue = rng.choice(VENUES)
        mid[underlying] *= math.exp(sigma * rng.gauss(0, 1) * 8)
        key = (underlying, venue)
        basis[key] = 0.9 * basis[key] + rng.gauss(0, 0.0002)
        qty = Decimal(str(round(rng.lognormvariate(-3.0, 1.2), 4))) or Decimal("0.0001")
        side = "buy" if rng.random() < 0.5 else "sell"
        rogue = cfg.rogue_bps / 10_000 if venue == cfg.rogue_venue else 0.0
        tick_size = spec[underlying][1]
        centre = Decimal(str(mid[underlying] * (1 + basis[key] + rogue)))
        bid = (centre / tick_size).to_integral_value(ROUND_FLOOR) * tick_size
        price = bid + tick_size if side == "buy" else bid  # a trade prints at the touch
        symbol = f"{underlying}-USDT"
        ts = start + timedelta(seconds=n * step_s)
        if cfg.l2:
            yield from _requote(cfg, books[key], venue, symbol, ts, bid, qty)
            books[key].take(price, qty)
        trade_ids[key] += 1
        last = Tick(
            event_id=f"{venue}:{symbol}:{trade_ids[key]}", ts_event=ts,
            venue=venue, symbol=symbol, trade_id=trade_ids[key],
            price=price, qty=qty, side=side,
        )
        yield last


def _requote(cfg: SimulatorConfig, book: _VenueBook, venue: str, symbol: str, ts: datetime,
             bid: Decimal, qty: Decimal) -> Iterator[L2Update]:
    bids, asks = book.requote(bid, cfg.depth, qty)
    book.seq += 1
    snapshot = book.updates % max(1, cfg.snapshot_every) == 0
    book.updates += 1
    if snapshot:
        bids = sorted(book.bids.items(), reverse=True)
        asks = sorted(book.asks.items())
    elif cfg.gap_every and book.updates % cfg.gap_every == 0:
        return  # this delta is lost on the way: the next one reveals the gap
    elif not bids and not asks:
        book.seq -= 1  # nothing changed: venues send no empty delta
        return
    yield L2Update(event_id=f"{venue}:{symbol}:l2:{book.seq}", ts_event=ts, venue=venue,
                   symbol=symbol, seq=book.seq, snapshot=snapshot, bids=bids, asks=asks)


def generate_ticks(cfg: SimulatorConfig) -> Iterator[Tick | bytes]:
    """Yield ``cfg.count`` ticks (and, when asked, raw invalid payloads), deterministically."""
    for item in generate_market(replace(cfg, l2=False)):
        if isinstance(item, RawPayload):
            yield item.value
        elif isinstance(item, Tick):
            yield item


@dataclass(frozen=True)
class SimulatorFeed:
    """The simulator as a feed adapter (:class:`~streams.marketdata.feeds.FeedAdapter`)."""

    cfg: SimulatorConfig
    name: str = "simulator"

    def events(self) -> Iterator[Tick | L2Update | RawPayload]:
        return generate_market(self.cfg)


def publish(producer: object, cfg: SimulatorConfig,
            progress: Callable[[dict[str, int]], object] | None = None) -> dict[str, int]:
    """Publish at ``cfg.rate`` ticks/s (bounded by ``cfg.count``); returns counts.

    Counts: ``ticks``, ``duplicates``, ``invalid`` and, with ``cfg.l2``, ``l2`` updates.
    """
    return publish_feed(producer, SimulatorFeed(cfg), speed=cfg.speed, progress=progress)
