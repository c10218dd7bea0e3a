"""Split one parent order across venues at the lowest all-in cost (price plus taker fee).

Why a walk by *fee-adjusted* price: a venue quoting 100 000 with a 10 bps taker fee costs a
buyer 100 100, more than a venue quoting 100 050 with 2 bps. The walk merges every venue's
levels ordered by ``price * (1 + fee)`` for a buy (ascending) or ``price * (1 - fee)`` for a
sell (descending) and takes the best first.

Lot sizes are honoured *during* the walk, not only after it: a venue is offered to the walk
one whole lot at a time (a lot that straddles two levels is priced at its average), so every
child lands on its venue's lot grid and liquidity a rounded-down venue could not use goes to
the next-best venue in the same split instead of being left over. When all venues share one
lot size this greedy is optimal (each venue's marginal lot cost only rises as it walks its
book); with different lot sizes the exact problem is a knapsack, and the greedy is a good,
deterministic answer, not a proven optimum.

The limit price applies to the **raw** venue price, as an exchange limit would: a buy never
takes a level above it, a sell never one below it, whatever the fees. Ties (same adjusted
price) go to the venue whose name sorts first, so the same books give the same children on
every worker and every replay.

Pure: no clock, no I/O. Money is exact Decimal; only the reported averages and fees are
rounded (to the 1e-8 grid the venues quote on).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from streams.ledger.fees import to_usdt

__all__ = [
    "PRICE_GRID",
    "Book",
    "ChildSlice",
    "Level",
    "RoutingError",
    "Side",
    "Split",
    "consolidated_mid",
    "split_order",
]

Side = Literal["buy", "sell"]
Level = tuple[Decimal, Decimal]  # price, qty
#: bids, asks; best first (the shape of :data:`streams.settlement.venue.Book`)
Book = tuple[Sequence[Level], Sequence[Level]]
PRICE_GRID = Decimal("0.00000001")
_ZERO = Decimal(0)


class RoutingError(ValueError):
    """Routing input or a routing record that cannot be right (an unsorted book, a float
    price, a missing fee rate, a fill larger than its child): never guess with money."""


@dataclass(frozen=True, slots=True)
class ChildSlice:
    """What to send to one venue: ``qty`` on the venue's lot grid, and what it should cost.

    ``notional`` is exact (sum of level price x qty taken); ``expected_avg_price`` and
    ``expected_fee`` are rounded half up to the 1e-8 grid for display and reports.
    ``worst_price`` is the last (worst) level the walk took on this venue: the limit price
    that protects the child where a venue takes limit orders (our own book).
    """

    venue: str
    qty: Decimal
    expected_avg_price: Decimal
    expected_fee: Decimal
    notional: Decimal
    worst_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Split:
    """The children of one routing round (sorted by venue) and what could not be placed."""

    side: Side
    slices: tuple[ChildSlice, ...]
    remainder: Decimal

    @property
    def qty(self) -> Decimal:
        return sum((s.qty for s in self.slices), _ZERO)

    @property
    def notional(self) -> Decimal:
        return sum((s.notional for s in self.slices), _ZERO)


def _check_decimal(value: object, what: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise RoutingError(f"{what} must be a finite Decimal, got {value!r}")
    return value


def _levels(venue: str, side: Side, book: Book, limit: Decimal | None) -> list[Level]:
    """The side a ``side`` order takes, validated, zero levels dropped, cut at the limit."""
    bids, asks = book
    levels = asks if side == "buy" else bids
    out: list[Level] = []
    previous: Decimal | None = None
    for price, qty in levels:
        _check_decimal(price, f"{venue} price")
        _check_decimal(qty, f"{venue} qty")
        if price <= 0 or qty < 0:
            raise RoutingError(f"{venue}: level ({price}, {qty}) is not a price and a size")
        if previous is not None and (price < previous if side == "buy" else price > previous):
            raise RoutingError(f"{venue}: {'asks' if side == 'buy' else 'bids'} not best first")
        previous = price
        if limit is not None and (price > limit if side == "buy" else price < limit):
            break  # sorted: every later level is beyond the limit too
        if qty > 0:
            out.append((price, qty))
    return out


class _Venue:
    """One venue's side of the book as the walk consumes it, a lot at a time."""

    __slots__ = ("cost", "factor", "fee", "i", "levels", "lot", "name", "taken", "used",
                 "worst")

    def __init__(self, name: str, side: Side, levels: list[Level], lot: Decimal,
                 fee: Decimal) -> None:
        self.name, self.levels, self.lot, self.fee = name, levels, lot, fee
        self.factor = 1 + fee if side == "buy" else 1 - fee
        self.i, self.used = 0, _ZERO  # level index, qty already taken from that level
        self.taken, self.cost = _ZERO, _ZERO
        self.worst: Decimal | None = None  # the last level price taken

    def offer(self) -> tuple[Decimal, Decimal] | None:
        """(fee-adjusted price per unit of the next lot, whole lots at that price), or None."""
        if self.i >= len(self.levels):
            return None
        price, size = self.levels[self.i]
        in_level = (size - self.used) // self.lot
        if in_level >= 1:
            return price * self.factor, in_level
        walked = self._walk(self.lot)
        if walked is None:
            return None
        return walked[0] * self.factor / self.lot, Decimal(1)

    def _walk(self, qty: Decimal) -> tuple[Decimal, int, Decimal, Decimal] | None:
        """(notional, level index, used, last price taken) after taking ``qty``; None if the
        book is too thin."""
        i, used, notional, left = self.i, self.used, _ZERO, qty
        last = _ZERO
        while left > 0:
            if i >= len(self.levels):
                return None
            price, size = self.levels[i]
            take = min(left, size - used)
            notional += take * price
            left -= take
            used += take
            last = price
            if used == size:
                i, used = i + 1, _ZERO
        return notional, i, used, last

    def take(self, lots: Decimal) -> None:
        qty = lots * self.lot
        walked = self._walk(qty)
        assert walked is not None, "offer() promised this depth"
        notional, self.i, self.used, self.worst = walked
        self.taken += qty
        self.cost += notional


def split_order(side: Side, qty: Decimal, books: Mapping[str, Book],
                fee_rates: Mapping[str, Decimal], lot_sizes: Mapping[str, Decimal], *,
                limit_price: Decimal | None = None) -> Split:
    """The cheapest allocation of ``qty`` over ``books`` (see the module docstring).

    Every venue in ``books`` needs a fee rate and a lot size; venues only in the fee or lot
    tables are ignored (no book, no route). Raises :class:`RoutingError` on bad input.
    """
    if side not in ("buy", "sell"):
        raise RoutingError(f"side must be buy or sell, got {side!r}")
    _check_decimal(qty, "qty")
    if qty <= 0:
        raise RoutingError(f"qty must be positive, got {qty}")
    if limit_price is not None and _check_decimal(limit_price, "limit price") <= 0:
        raise RoutingError(f"limit price must be positive, got {limit_price}")
    venues: list[_Venue] = []
    for name in sorted(books):
        if name not in fee_rates or name not in lot_sizes:
            raise RoutingError(f"venue {name!r} has a book but no fee rate or lot size")
        fee = _check_decimal(fee_rates[name], f"{name} fee rate")
        lot = _check_decimal(lot_sizes[name], f"{name} lot size")
        if not 0 <= fee < 1 or lot <= 0:
            raise RoutingError(f"venue {name!r}: fee rate {fee} or lot size {lot} out of range")
        venues.append(_Venue(name, side, _levels(name, side, books[name], limit_price), lot, fee))

    remaining = qty
    while True:
        best: tuple[tuple[Decimal, str], _Venue, Decimal] | None = None
        for v in venues:  # sorted by name: ties keep the first
            if v.lot > remaining:
                continue
            offer = v.offer()
            if offer is None:
                continue
            unit, lots = offer
            rank = (unit if side == "buy" else -unit, v.name)
            if best is None or rank < best[0]:
                best = (rank, v, lots)
        if best is None:
            break
        _, v, lots = best
        lots = min(lots, remaining // v.lot)
        v.take(lots)
        remaining -= lots * v.lot

    slices = tuple(
        ChildSlice(venue=v.name, qty=v.taken,
                   expected_avg_price=(v.cost / v.taken).quantize(PRICE_GRID, ROUND_HALF_UP),
                   expected_fee=to_usdt(v.cost * v.fee), notional=v.cost,
                   worst_price=v.worst)
        for v in venues if v.taken > 0)
    return Split(side=side, slices=slices, remainder=remaining)


def consolidated_mid(books: Mapping[str, Book]) -> Decimal | None:
    """Mid of the best bid and best ask over all venues: the parent's arrival price.

    None while either side is empty everywhere (no fair reference yet).
    """
    bids = [b[0][0] for b, _ in books.values() if b]
    asks = [a[0][0] for _, a in books.values() if a]
    if not bids or not asks:
        return None
    return (max(bids) + min(asks)) / 2
