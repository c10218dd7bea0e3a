"""The price-time order book: integer ticks and lots, one FIFO queue per price level.

Layout, chosen by measurement (``benchmarks/matching_core.py`` drives it):

* each side keeps ``levels: dict[price, Level]`` and ``keys``, a sorted ``list`` of level
  keys with the best level at the *end* (bids: ``key = price``; asks: ``key = -price``), so
  the best price is ``keys[-1]``, removing an exhausted best level is ``keys.pop()`` and a
  new level is one ``bisect.insort`` (a C memmove, cheap even for thousands of levels).
  ``python -m benchmarks.matching_core --structures`` times it against a heap with lazy
  deletion on the book's access pattern: the sorted list measured 2x faster here (about
  250 vs 600 ns/op), and it also gives N-level depth without sorting;
* each level is a ``collections.deque`` of resting orders in time priority. Cancels are
  O(1): the order is marked dead (``leaves == 0``) and skipped when it reaches the front;
  the deque is compacted when dead entries outnumber live ones. ``Level.qty`` and
  ``Level.count`` always describe live, *visible* quantity, which is what depth shows;
* a resting order is a :class:`RestingOrder` with typed fields. Interpreted, CPython 3.11
  builds a list faster than a slotted object; but this module and the engine are compiled
  with mypyc (``setup.py``), where a typed class is a C struct whose fields the matching
  loop reads and writes without boxing or indexing, which is what it does most;
* ``dirty`` remembers which prices changed since the last depth-delta read, in change order;
  ``Level.marked`` says the level's price is already in it, so the common change (a level
  that changed before since the last read) skips the dict store. A level is marked only
  while its price is in ``dirty``: clear ``dirty`` with :meth:`BookSide.clear_dirty`.

The matching loop lives in :mod:`streams.matching.engine`, which reads these structures
directly.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass
from typing import Final, NamedTuple

from streams.matching.orders import Side, SubmitOrder

# Bound once as Final names: compiled (mypyc), a Final module name is a C static while any
# other global is a dict lookup per use.
_insort: Final = insort
_bisect_left: Final = bisect_left
_deque: Final = deque

__all__ = [
    "BookSide",
    "DepthDelta",
    "DepthLevel",
    "DepthSnapshot",
    "Level",
    "OpenOrder",
    "RestingOrder",
    "TopOfBook",
    "new_order",
]


class RestingOrder:
    """One order in the book (or a taker being matched): the mutable state the engine
    keeps beside the immutable ``SubmitOrder`` it came from.

    * ``leaves``: remaining quantity in lots; 0 marks a dead queue entry;
    * ``visible``: displayed part of ``leaves`` (iceberg); equals ``leaves`` for plain orders;
    * ``price``: working price in ticks (differs from ``spec.price`` after a re-price or amend);
    * ``qty``: total quantity including fills (differs from ``spec.qty`` after an amend);
    * ``order_id``: engine order id (the seq of its ``OrderAccepted``);
    * ``account_id`` / ``client_order_id`` / ``side``: copied from the spec for the
      self-trade check, events and unlinking (so a cancel does not touch the spec).

    A typed class rather than a list: compiled (mypyc), its fields are C struct members
    read and written without boxing, which is what the matching loop does most.
    """

    __slots__ = (
        "account_id",
        "client_order_id",
        "leaves",
        "order_id",
        "price",
        "qty",
        "side",
        "spec",
        "visible",
    )

    def __init__(
        self,
        leaves: int,
        visible: int,
        price: int,
        qty: int,
        order_id: int,
        account_id: str,
        client_order_id: str,
        spec: SubmitOrder,
    ) -> None:
        self.leaves = leaves
        self.visible = visible
        self.price = price
        self.qty = qty
        self.order_id = order_id
        self.account_id = account_id
        self.client_order_id = client_order_id
        self.spec = spec
        self.side: Side = spec.side


def new_order(order_id: int, spec: SubmitOrder, price: int, qty: int, leaves: int) -> RestingOrder:
    """A resting order record with nothing displayed yet (``visible`` is set on resting)."""
    return RestingOrder(
        leaves, 0, price, qty, order_id, spec.account_id, spec.client_order_id, spec
    )


class Level:
    """One price level: FIFO of orders plus live visible quantity and live order count;
    ``marked`` when its price is in its side's ``dirty``."""

    __slots__ = ("count", "marked", "orders", "qty")

    def __init__(self) -> None:
        self.qty = 0
        self.count = 0
        self.marked = False
        self.orders: deque[RestingOrder] = _deque()

    def compact(self) -> None:
        """Drop dead entries, keeping priority order of the live ones."""
        self.orders = _deque(o for o in self.orders if o.leaves)


class BookSide:
    """Bids or asks. ``sign`` maps a price to its sort key (``key = sign * price``)."""

    __slots__ = ("dirty", "keys", "levels", "side", "sign")

    def __init__(self, side: Side) -> None:
        self.side = side
        self.sign = 1 if side is Side.BUY else -1
        self.levels: dict[int, Level] = {}
        self.keys: list[int] = []
        self.dirty: dict[int, None] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def best_price(self) -> int | None:
        keys = self.keys
        return self.sign * keys[-1] if keys else None

    def add(self, order: RestingOrder) -> None:
        """Append ``order`` at the back of its price level (creating the level)."""
        price = order.price
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = Level()
            _insort(self.keys, self.sign * price)
        level.orders.append(order)
        level.count += 1
        level.qty += order.visible
        if not level.marked:
            level.marked = True
            self.dirty[price] = None

    def unlink(self, order: RestingOrder) -> None:
        """Remove a live order from its level (it stays in the deque as a dead entry)."""
        price = order.price
        level = self.levels[price]
        level.count -= 1
        level.qty -= order.visible
        order.leaves = 0
        if not level.marked:
            level.marked = True
            self.dirty[price] = None
        if not level.count:
            self.drop_level(price)
        elif len(level.orders) > 2 * level.count + 8:
            level.compact()

    def clear_dirty(self) -> None:
        """Forget the changed prices (unmarking their levels)."""
        levels = self.levels
        for price in self.dirty:
            level = levels.get(price)
            if level is not None:
                level.marked = False
        self.dirty.clear()

    def drop_level(self, price: int) -> None:
        del self.levels[price]
        keys = self.keys
        del keys[_bisect_left(keys, self.sign * price)]

    def iter_levels(self) -> list[tuple[int, Level]]:
        """Levels best first."""
        sign, levels = self.sign, self.levels
        return [(sign * key, levels[sign * key]) for key in reversed(self.keys)]

    def depth(self, n: int | None = None) -> list[DepthLevel]:
        """Aggregated visible quantity of the best ``n`` levels (all when ``None``)."""
        keys = self.keys
        chosen = keys if n is None else keys[-n:] if n > 0 else []
        sign, levels = self.sign, self.levels
        out = []
        for key in reversed(chosen):
            level = levels[sign * key]
            out.append(DepthLevel(sign * key, level.qty, level.count))
        return out

    def live_orders(self) -> list[RestingOrder]:
        """Live orders in priority order (best price first, then time)."""
        return [o for _, level in self.iter_levels() for o in level.orders if o.leaves]


class DepthLevel(NamedTuple):
    price: int
    qty: int
    count: int  # type: ignore[assignment]


@dataclass(slots=True)
class TopOfBook:
    """Best bid and ask (``None`` when a side is empty) as of event ``seq``."""

    instrument_id: str
    seq: int
    bid_price: int | None
    bid_qty: int
    ask_price: int | None
    ask_qty: int


@dataclass(slots=True)
class DepthSnapshot:
    """Best ``n`` aggregated levels per side (best first) as of event ``seq``."""

    instrument_id: str
    seq: int
    bids: list[DepthLevel]
    asks: list[DepthLevel]


@dataclass(slots=True)
class DepthDelta:
    """New absolute state of one level as of event ``seq``; ``qty == count == 0`` means the
    level is gone. Absolute values make deltas idempotent: apply those with ``seq`` above
    the snapshot's."""

    instrument_id: str
    seq: int
    side: Side
    price: int
    qty: int
    count: int


@dataclass(slots=True)
class OpenOrder:
    """Read-only view of a live order (for queries and tests)."""

    order_id: int
    account_id: str
    client_order_id: str
    side: Side
    order_type: str
    price: int | None
    stop_price: int | None
    qty: int
    leaves_qty: int
    visible_qty: int
