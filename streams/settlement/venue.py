"""The venue adapter: how the house hedges on an external exchange.

:class:`VenueAdapter` is the seam. Its two calls map one to one onto a real exchange client
such as ccxt: ``place_market_order`` is ``create_order(symbol, "market", side, amount,
params={"clientOrderId": client_order_id})`` and ``find_order`` is ``fetch_order`` by client
order id. The **client order id is the idempotency key**: a venue that has seen it returns the
original order instead of trading again, which is what makes "never hedge twice" hold across
crashes and retries.

:class:`SimulatedVenue` fills market orders against the consolidated book of the venues we
watch (walking the levels, plus configurable impact), charges a taker fee, and keeps its
orders in SQLite under the data dir — outside the worker, as a real venue would — so a worker
killed mid-hedge finds its order there after a restart.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Protocol

__all__ = ["Book", "SimulatedVenue", "VenueAdapter", "VenueError", "VenueFill"]

Book = tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]  # bids, asks


class VenueError(Exception):
    """The venue did not take the order (down, no liquidity, refused): try again later."""


@dataclass(frozen=True, slots=True)
class VenueFill:
    venue: str
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    avg_price: Decimal
    reference_price: Decimal  # the book's mid when the order was placed
    fee: Decimal

    @property
    def slippage_bps(self) -> Decimal:
        sign = 1 if self.side == "buy" else -1
        return ((self.avg_price / self.reference_price - 1) * 10_000 * sign).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP)


class VenueAdapter(Protocol):
    name: str

    def place_market_order(self, *, client_order_id: str, symbol: str, side: str,
                           qty: Decimal) -> VenueFill:
        """Trade now, or return the order already placed under ``client_order_id``."""
        ...

    def find_order(self, client_order_id: str) -> VenueFill | None: ...


_PRICE = Decimal("0.00000001")


def walk_book(book: Book, side: str, qty: Decimal) -> tuple[Decimal, Decimal]:
    """(average price, mid) of a market order of ``qty`` taking the book's levels."""
    bids, asks = book
    if not bids or not asks:
        raise VenueError("the book is one-sided")
    mid = (bids[0][0] + asks[0][0]) / 2
    left, cost = qty, Decimal(0)
    for price, size in asks if side == "buy" else bids:
        take = min(left, size)
        cost += take * price
        left -= take
        if left <= 0:
            break
    if left > 0:
        raise VenueError(f"not enough liquidity for {qty}: {left} left")
    return cost / qty, mid


class SimulatedVenue:
    def __init__(self, path: Path, book: Callable[[str], Book | None], *,
                 name: str = "simulated", fee_rate: Decimal = Decimal("0.001"),
                 slippage_bps: Decimal = Decimal(0), failure_rate: float = 0.0) -> None:
        self.name = name
        self.book = book
        self.fee_rate = fee_rate
        self.slippage = slippage_bps / 10_000
        self.failure_rate = failure_rate
        self._random = random.Random()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("""CREATE TABLE IF NOT EXISTS orders (
            client_order_id TEXT PRIMARY KEY, symbol TEXT, side TEXT, qty TEXT,
            avg_price TEXT, reference_price TEXT, fee TEXT,
            placed_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))""")

    def find_order(self, client_order_id: str) -> VenueFill | None:
        with self._lock:
            row = self._db.execute(
                "SELECT client_order_id, symbol, side, qty, avg_price, reference_price, fee "
                "FROM orders WHERE client_order_id = ?", (client_order_id,)).fetchone()
        if row is None:
            return None
        cid, symbol, side, qty, avg, ref, fee = row
        return VenueFill(self.name, cid, symbol, side, Decimal(qty), Decimal(avg), Decimal(ref),
                         Decimal(fee))

    def place_market_order(self, *, client_order_id: str, symbol: str, side: str,
                           qty: Decimal) -> VenueFill:
        placed = self.find_order(client_order_id)
        if placed is not None:
            return placed  # idempotent: the venue remembers the client order id
        if self.failure_rate and self._random.random() < self.failure_rate:
            raise VenueError("simulated venue refused the order (injected failure)")
        book = self.book(symbol)
        if book is None:
            raise VenueError(f"no book for {symbol} yet")
        avg, mid = walk_book(book, side, qty)
        impact = 1 + self.slippage if side == "buy" else 1 - self.slippage
        avg = (avg * impact).quantize(_PRICE, rounding=ROUND_HALF_UP)
        fee = (qty * avg * self.fee_rate).quantize(_PRICE, rounding=ROUND_HALF_UP)
        fill = VenueFill(self.name, client_order_id, symbol, side, qty, avg, mid, fee)
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO orders (client_order_id, symbol, side, qty, avg_price, "
                "reference_price, fee) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (client_order_id, symbol, side, str(qty), str(avg), str(mid), str(fee)))
        return self.find_order(client_order_id) or fill

    def orders(self) -> list[VenueFill]:
        with self._lock:
            ids = [r[0] for r in self._db.execute("SELECT client_order_id FROM orders")]
        return [f for f in (self.find_order(i) for i in ids) if f is not None]

    def count(self, client_order_id_prefix: str = "") -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM orders WHERE client_order_id LIKE ?",
                                    (client_order_id_prefix + "%",)).fetchone()[0]
