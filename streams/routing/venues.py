"""The venues a parent order's children go to, behind settlement's :class:`VenueAdapter`.

Why a subclass of :class:`~streams.settlement.venue.SimulatedVenue`: it keeps the same
idempotency (the child key is the client order id, an order seen before is answered with its
original fill) and the same SQLite ledger outside the worker, and adds what routing needs
that a hedge does not:

* **its own book**: each venue fills against *its* ladder from ``md.book`` (the source of the
  same name), not the consolidated book;
* **immediate-or-cancel**: what the book cannot fill is not an error but a smaller fill,
  possibly zero (recorded too, so a re-send is answered the same);
* **partial liquidity**: ``fill_ratio`` of the displayed depth is really there (others take
  the rest first), which is what makes later rounds necessary;
* **latency**: half before the venue takes the order, half before the answer comes back, so a
  worker killed in between finds the order taken and must not trade it again.

Blocking (SQLite and the simulated round trip): the agent calls it off the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path

from streams.settlement.venue import Book, SimulatedVenue, VenueError, VenueFill

__all__ = ["OWN_VENUE", "RoutingVenue", "ioc_fill"]

#: StrikeFlow's own book as a routing venue (``md.book`` source ``venue``)
OWN_VENUE = "strikeflow"
_PRICE = Decimal("0.00000001")


def ioc_fill(book: Book, side: str, qty: Decimal, lot: Decimal,
             fill_ratio: Decimal = Decimal(1)) -> tuple[Decimal, Decimal | None]:
    """(filled qty on the lot grid, exact average price or None) of an IOC market order of
    ``qty`` against ``fill_ratio`` of each level the order takes."""
    bids, asks = book
    levels = asks if side == "buy" else bids
    depth = sum((size * fill_ratio for _, size in levels), Decimal(0))
    filled = (min(qty, depth) / lot).to_integral_value(ROUND_DOWN) * lot
    if filled <= 0:
        return Decimal(0), None
    left, cost = filled, Decimal(0)
    for price, size in levels:
        take = min(left, size * fill_ratio)
        cost += take * price
        left -= take
        if left <= 0:
            break
    return filled, cost / filled


class RoutingVenue(SimulatedVenue):
    """A simulated venue with its own book, fee, lot, latency and partial fills (IOC)."""

    def __init__(self, path: Path, book: Callable[[str], Book | None], *, name: str,
                 fee_rate: Decimal, lot_size: Decimal, latency_s: float = 0.0,
                 fill_ratio: Decimal = Decimal(1), failure_rate: float = 0.0) -> None:
        super().__init__(path, book, name=name, fee_rate=fee_rate, failure_rate=failure_rate)
        self.lot_size = lot_size
        self.latency_s = latency_s
        self.fill_ratio = fill_ratio

    def place_market_order(self, *, client_order_id: str, symbol: str, side: str,
                           qty: Decimal) -> VenueFill:
        placed = self.find_order(client_order_id)
        if placed is not None:
            return placed  # idempotent: the venue remembers the client order id
        time.sleep(self.latency_s / 2)  # the request on its way
        if self.failure_rate and self._random.random() < self.failure_rate:
            raise VenueError(f"{self.name} refused the order (injected failure)")
        book = self.book(symbol)
        if book is None:
            raise VenueError(f"{self.name} has no book for {symbol}")
        bids, asks = book
        tops = [levels[0][0] for levels in (bids, asks) if levels]
        if not tops:
            raise VenueError(f"{self.name}: the {symbol} book is empty")
        mid = sum(tops, Decimal(0)) / len(tops)
        filled, avg = ioc_fill(book, side, qty, self.lot_size, self.fill_ratio)
        price = Decimal(0) if avg is None else avg.quantize(_PRICE, ROUND_HALF_UP)
        fee = (filled * price * self.fee_rate).quantize(_PRICE, ROUND_HALF_UP)
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO orders (client_order_id, symbol, side, qty, avg_price, "
                "reference_price, fee) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (client_order_id, symbol, side, str(filled), str(price), str(mid), str(fee)))
        time.sleep(self.latency_s / 2)  # the answer on its way back
        answer = self.find_order(client_order_id)
        assert answer is not None, "just recorded"
        return answer
