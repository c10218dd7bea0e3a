"""Throughput and latency of the pure matching core against Python engines from PyPI.

One deterministic stream on one instrument runs through every engine: about 60% passive
limit adds near the mid, 25% cancels of random live orders, 10% marketable limit orders that
usually sweep several price levels, 5% amends (half quantity decreases, half price changes).
Where a passive order lands follows the heavy-tailed placement seen in real books (Bouchaud,
Mezard & Potters 2002: P(distance) ~ distance^-(1+mu), mu ~ 0.6), so most orders sit near
the touch and the book still spans hundreds of levels (``--book deep``, the default);
``--book tight`` uses an exponential placement a few ticks wide instead.

Engines:

* ours: :class:`streams.matching.MatchingEngine` with every feature on (events with
  sequence numbers, command-id and client-order-id deduplication, validation, depth
  tracking); self-trade prevention off so all engines trade exactly the same;
* peers, when installed: ``lightmatchingengine`` (dict of price -> list, ``min``/``max``
  over prices) and ``pyorderbook`` (heap of levels, dict per level). Neither has amend: a
  price change or quantity increase is cancel + new order and a decrease edits the order in
  place, which are our priority semantics. Their order objects are built before timing, like
  our commands, and their trades are counted outside the timed calls, like our events.

The engines must agree on fills and traded volume (checked; exit code 1 otherwise). Each
engine runs the stream ``--repeats`` times on a fresh book for throughput, runs of the
engines interleaved so that noise from other tenants of the machine spreads evenly; the
best run by process CPU time is the headline (least disturbed), the median wall-clock run
is shown beside it. Then each runs once more with ``perf_counter_ns`` around every call for
p50/p99 per op type. The garbage collector stays on, as in production.

``--structures`` instead times the two candidate price-level structures (sorted key list
with bisect, as the book uses, vs. heap with lazy deletion) on the same access pattern.

Run: ``python -m benchmarks.matching_core [--orders N] [--book deep|tight] [--structures]``.
"""

from __future__ import annotations

import argparse
import bisect
import gc
import heapq
import importlib.util
import json
import logging
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streams.matching import (
    AmendOrder,
    CancelOrder,
    MatchingEngine,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    Side,
    StpMode,
    SubmitOrder,
    TradeExecuted,
)
from streams.matching.engine import EngineConfig

__all__ = ["Op", "Result", "generate_stream", "main"]

INSTRUMENT = "BTC-USDT"
ADD, TAKE, CANCEL, AMEND = "add", "take", "cancel", "amend"
OP_KINDS = (ADD, TAKE, CANCEL, AMEND)


@dataclass(frozen=True, slots=True)
class Op:
    """One engine-neutral operation: ``ref`` is the generator's order number. For a
    quantity amend, ``qty`` is how far the new total is below the original quantity
    (negative: above it)."""

    kind: str
    ref: int
    account: int = 0
    is_buy: bool = True
    price: int = 0
    qty: int = 0


def generate_stream(
    n: int,
    seed: int = 7,
    book: str = "deep",
    depth: int = 10_000,
    take_size: tuple[int, int] = (30, 150),
    mid: int = 10_000_000,
    decreases: bool = True,
) -> list[Op]:
    """``depth`` passive adds that build the opening book, then ``n`` mixed operations
    around a slowly drifting mid (prices in ticks). Deterministic for its arguments.

    Cancels and amends target orders that are really live, as clients' do: the generator
    keeps a shadow book (our engine; the stream is then fixed and fed to every engine, whose
    fills are cross-checked) to learn which orders filled. With ``decreases=False`` every
    quantity amend raises the order's total above its previous one (same random draws)
    instead of setting it below the original quantity (where a second amend may also
    raise it).
    """
    rnd = random.Random(seed)
    shadow = MatchingEngine(EngineConfig(INSTRUMENT))
    owner: dict[int, tuple[str, int]] = {}
    live: list[int] = []
    position: dict[int, int] = {}  # ref -> index in live
    ops: list[Op] = []
    next_ref = 0
    originals: dict[int, int] = {}  # ref -> quantity at submission
    totals: dict[int, int] = {}  # ref -> total after its last quantity amend

    def add_live(ref: int) -> None:
        position[ref] = len(live)
        live.append(ref)

    def drop_live(ref: int) -> None:
        i = position.pop(ref)
        last = live.pop()
        if last != ref:
            live[i] = last
            position[last] = i

    for i in range(depth + n):
        if i >= depth and rnd.random() < 0.05:
            mid += rnd.choice((-1, 1))
        x = rnd.random()
        if i < depth or x < 0.60 or len(live) < 50:
            next_ref += 1
            is_buy = rnd.random() < 0.5
            if book == "deep":
                offset = min(2000, int(rnd.paretovariate(0.6)))
            else:
                offset = int(rnd.expovariate(0.15)) + 1
            price = mid - offset if is_buy else mid + offset
            op = Op(ADD, next_ref, rnd.randrange(100), is_buy, price, rnd.randint(1, 100))
        elif x < 0.85:
            op = Op(CANCEL, live[rnd.randrange(len(live))])
        elif x < 0.95:
            next_ref += 1
            is_buy = rnd.random() < 0.5
            price = mid + 3 if is_buy else mid - 3
            op = Op(TAKE, next_ref, rnd.randrange(100), is_buy, price, rnd.randint(*take_size))
        else:
            ref = live[rnd.randrange(len(live))]
            if rnd.random() < 0.5:  # quantity decrease: keeps priority (increase: loses it)
                cut = rnd.randint(1, 40)
                if decreases:
                    op = Op(AMEND, ref, qty=cut)
                else:  # each amend of an order raises its total above the previous one
                    new_total = totals.get(ref, originals[ref]) + cut
                    totals[ref] = new_total
                    op = Op(AMEND, ref, qty=originals[ref] - new_total)
            else:  # price change: loses priority, may cross
                op = Op(AMEND, ref, price=mid + rnd.randint(-12, 12))
        ops.append(op)
        if op.kind is ADD or op.kind is TAKE:
            originals[op.ref] = op.qty
        for ev in shadow.process(command_for(op, i, owner)):
            kind = type(ev)
            if kind is OrderAccepted:
                add_live(int(ev.client_order_id[1:]))
            elif kind is OrderFilled or kind is OrderCancelled:
                ref = int(ev.client_order_id[1:])
                if ref in position:
                    drop_live(ref)
    return ops


@dataclass(slots=True)
class Result:
    name: str
    best_cpu_per_s: float
    median_wall_per_s: float
    fills: int
    volume: int
    latencies: dict[str, list[int]]


def _percentile(sorted_values: list[int], q: float) -> int:
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


class Runner:
    """One engine under test: ``prepare`` builds a fresh book and loads the opening depth
    (untimed), ``run_all`` is the timed throughput loop over the measured operations,
    ``step`` one timed call, ``tally`` counts fills and volume of a call's output
    (untimed)."""

    name = ""

    def __init__(self, ops: list[Op], warmup: int) -> None:
        self.ops = ops
        self.warmup = warmup

    def prepare(self) -> None:
        raise NotImplementedError

    def run_all(self) -> None:
        raise NotImplementedError

    def step(self, i: int) -> Any:
        raise NotImplementedError

    def tally(self, out: Any) -> tuple[int, int]:
        raise NotImplementedError


# ---------------------------------------------------------------------------- ours
def command_for(op: Op, i: int, owner: dict[int, tuple[str, int]]) -> Any:
    """Our command for op number ``i``; cancels and amends use the client order id."""
    cid = f"c{i}"
    if op.kind is ADD or op.kind is TAKE:
        account = f"acct{op.account}"
        owner[op.ref] = (account, op.qty)
        return SubmitOrder(
            command_id=cid, instrument_id=INSTRUMENT, account_id=account,
            client_order_id=f"o{op.ref}", side=Side.BUY if op.is_buy else Side.SELL,
            qty=op.qty, price=op.price, stp=StpMode.NONE, ts=i,
        )  # fmt: skip
    account, original = owner[op.ref]
    if op.kind is CANCEL:
        return CancelOrder(command_id=cid, instrument_id=INSTRUMENT, account_id=account,
                           client_order_id=f"o{op.ref}", ts=i)  # fmt: skip
    return AmendOrder(
        command_id=cid, instrument_id=INSTRUMENT, account_id=account,
        client_order_id=f"o{op.ref}", price=op.price or None,
        qty=max(1, original - op.qty) if op.qty else None, ts=i,
    )  # fmt: skip


def build_commands(ops: list[Op]) -> list[Any]:
    """Our commands for the whole stream."""
    owner: dict[int, tuple[str, int]] = {}
    return [command_for(op, i, owner) for i, op in enumerate(ops)]


class Ours(Runner):
    name = "strikeflow"

    def __init__(self, ops: list[Op], warmup: int) -> None:
        super().__init__(ops, warmup)
        start = time.perf_counter_ns()
        self.commands = build_commands(ops)
        self.build_ns_per_op = (time.perf_counter_ns() - start) / max(1, len(ops))

    def prepare(self) -> None:
        self.engine = MatchingEngine(EngineConfig(INSTRUMENT))
        self.process = self.engine.process
        for command in self.commands[: self.warmup]:
            self.process(command)

    def run_all(self) -> None:
        process = self.process
        for command in self.commands[self.warmup :]:
            process(command)

    def step(self, i: int) -> Any:
        return self.process(self.commands[i])

    def tally(self, out: Any) -> tuple[int, int]:
        trades = [e.qty for e in out if e.__class__ is TradeExecuted]
        return len(trades), sum(trades)


class OursBatched(Ours):
    """The same engine fed the way a Faust agent feeds it: ``process_many`` on batches."""

    batch = 500
    name = f"strikeflow batch={batch}"

    def __init__(self, ours: Ours) -> None:  # share the commands already built
        self.__dict__.update(ours.__dict__)

    def run_all(self) -> None:
        process_many = self.engine.process_many
        commands, size = self.commands, self.batch
        for start in range(self.warmup, len(commands), size):
            process_many(commands[start : start + size])


# ---------------------------------------------------------------------------- peers
class Peer(Runner):
    """Gives a peer engine our amend semantics with the calls it has.

    ``totals`` is each order's current total quantity (ours calls it ``qty``), so a quantity
    amend computes the same new leaves as ours: a decrease edits the order in place (keeps
    priority), an increase or a price change is cancel + new order (back of the queue).
    """

    module = ""
    #: False when the engine cannot decrease an order's quantity in place (it re-queues it)
    keeps_priority_on_decrease = True

    def __init__(self, ops: list[Op], warmup: int) -> None:
        super().__init__(ops, warmup)
        self.originals = {op.ref: op.qty for op in ops if op.kind is ADD or op.kind is TAKE}

    @classmethod
    def available(cls) -> bool:
        return importlib.util.find_spec(cls.module) is not None

    def prepare(self) -> None:
        self.totals: dict[int, int] = {}
        self.setup()
        for op in self.ops[: self.warmup]:
            self.run(op)

    def setup(self) -> None:
        """Fresh engine state."""
        raise NotImplementedError

    # engine-specific primitives
    def submit(self, ref: int, price: int, qty: int, is_buy: bool) -> Any:
        raise NotImplementedError

    def cancel(self, ref: int) -> bool:
        raise NotImplementedError

    def live(self, ref: int) -> tuple[int, int, bool] | None:
        """(leaves, price, is_buy) of a live order, else None."""
        raise NotImplementedError

    def reduce(self, ref: int, leaves: int) -> None:
        raise NotImplementedError

    def run(self, op: Op) -> Any:
        kind = op.kind
        if kind is ADD or kind is TAKE:
            return self.submit(op.ref, op.price, op.qty, op.is_buy)
        if kind is CANCEL:
            self.cancel(op.ref)
            return None
        state = self.live(op.ref)
        if state is None:
            return None
        leaves, price, is_buy = state
        if op.qty:
            total = self.totals.get(op.ref) or self.originals[op.ref]
            filled = total - leaves
            new_total = max(1, self.originals[op.ref] - op.qty)
            if new_total <= filled or new_total == total:
                return None
            self.totals[op.ref] = new_total
            if new_total < total:
                self.reduce(op.ref, new_total - filled)
            elif self.cancel(op.ref):
                return self.submit(op.ref, price, new_total - filled, is_buy)
        elif op.price != price and self.cancel(op.ref):
            return self.submit(op.ref, op.price, leaves, is_buy)
        return None

    def run_all(self) -> None:
        run = self.run
        for op in self.ops[self.warmup :]:
            run(op)

    def step(self, i: int) -> Any:
        return self.run(self.ops[i])


class LightMatchingEngine(Peer):
    """``lightmatchingengine``: dict of price -> list of orders, ``min``/``max`` over all
    prices on every add."""

    name = module = "lightmatchingengine"

    def setup(self) -> None:
        from lightmatchingengine.lightmatchingengine import LightMatchingEngine as Engine

        self.engine = Engine()
        self.orders: dict[int, Any] = {}

    def submit(self, ref: int, price: int, qty: int, is_buy: bool) -> Any:
        order, trades = self.engine.add_order(INSTRUMENT, price, qty, 1 if is_buy else 2)
        self.orders[ref] = order
        return order.order_id, trades

    def tally(self, out: Any) -> tuple[int, int]:
        if out is None:
            return 0, 0
        taker_id, trades = out  # one aggressor record per level, then one per passive order
        passive = [t.trade_qty for t in trades if t.order_id != taker_id]
        return len(passive), sum(passive)

    def cancel(self, ref: int) -> bool:
        try:
            return self.engine.cancel_order(self.orders[ref].order_id, INSTRUMENT) is not None
        except AssertionError:  # its id map keeps filled orders whose level is gone
            return False

    def live(self, ref: int) -> tuple[int, int, bool] | None:
        order = self.orders[ref]
        if order.leaves_qty <= 0:
            return None
        return order.leaves_qty, order.price, order.side == 1

    def reduce(self, ref: int, leaves: int) -> None:
        self.orders[ref].leaves_qty = leaves


class PyOrderBook(Peer):
    """``pyorderbook``: heap of price levels, insertion-ordered dict per level, Decimal
    prices, uuid order ids."""

    name = module = "pyorderbook"

    def setup(self) -> None:
        import pyorderbook

        logging.getLogger("pyorderbook").setLevel(logging.WARNING)
        self.lib = pyorderbook
        self.book = pyorderbook.Book()
        bid, ask = pyorderbook.Side.BID, pyorderbook.Side.ASK
        self.prebuilt = {
            op.ref: pyorderbook.Order(bid if op.is_buy else ask, INSTRUMENT, op.price, op.qty)
            for op in self.ops
            if op.kind is ADD or op.kind is TAKE
        }
        self.orders: dict[int, Any] = {}

    def submit(self, ref: int, price: int, qty: int, is_buy: bool) -> Any:
        order = self.prebuilt.pop(ref, None)
        if order is None:  # a re-entered (amended) order
            side = self.lib.Side.BID if is_buy else self.lib.Side.ASK
            order = self.lib.Order(side, INSTRUMENT, price, qty)
        self.orders[ref] = order
        return self.book.match(order).trades

    def tally(self, out: Any) -> tuple[int, int]:
        return (len(out), sum(t.fill_quantity for t in out)) if out else (0, 0)

    def cancel(self, ref: int) -> bool:
        order = self.orders[ref]
        if self.book.get_order(order.id) is None:
            return False
        self.book.cancel(order)
        return True

    def live(self, ref: int) -> tuple[int, int, bool] | None:
        order = self.orders[ref]
        if self.book.get_order(order.id) is None:
            return None
        return order.quantity, int(order.price), order.side is self.lib.Side.BID

    def reduce(self, ref: int, leaves: int) -> None:
        self.orders[ref].quantity = leaves


class _AkhilBook(Peer):
    """The two order books by Akhil4n share one API: a ``SortedDict`` of levels per side,
    an ``OrderedDict`` per level, str order ids from a global counter, and a ``trade_log``
    list that every fill appends to (a ``Trade`` dataclass stamped with ``datetime.now``).
    A quantity decrease edits ``remaining_quantity`` in place (keeps priority)."""

    lib: Any

    def setup(self) -> None:
        lib = self.lib = self.load()
        self.book = lib.OrderBook()
        bid, ask = lib.OrderSide.BID, lib.OrderSide.ASK
        self.prebuilt = {
            op.ref: self.new(bid if op.is_buy else ask, op.price, op.qty)
            for op in self.ops
            if op.kind is ADD or op.kind is TAKE
        }
        self.orders: dict[int, Any] = {}

    def load(self) -> Any:
        raise NotImplementedError

    def new(self, side: Any, price: int, qty: int) -> Any:
        raise NotImplementedError

    def submit(self, ref: int, price: int, qty: int, is_buy: bool) -> Any:
        order = self.prebuilt.pop(ref, None)
        if order is None:  # a re-entered (amended) order
            lib = self.lib
            order = self.new(lib.OrderSide.BID if is_buy else lib.OrderSide.ASK, price, qty)
        self.orders[ref] = order
        log = self.book.trade_log
        start = len(log)
        self.book.add_limit_order(order)
        return start

    def tally(self, out: Any) -> tuple[int, int]:
        if out is None:
            return 0, 0
        trades = [t.quantity_filled for t in self.book.trade_log[out:]]
        return len(trades), sum(trades)

    def cancel(self, ref: int) -> bool:
        return bool(self.book.cancel_order(self.orders[ref].order_id))

    def live(self, ref: int) -> tuple[int, int, bool] | None:
        order = self.orders[ref]
        if order.order_id not in self.book.orders:
            return None
        return order.remaining_quantity, order.price, order.side is self.lib.OrderSide.BID

    def reduce(self, ref: int, leaves: int) -> None:
        self.orders[ref].remaining_quantity = leaves


class CythonOrderBook(_AkhilBook):
    """``cython-orderbook``: the same design compiled with Cython (``cdef class`` orders
    and levels; the book itself stays a Python class)."""

    name = "cython-orderbook"
    module = "cython_orderbook"

    def load(self) -> Any:
        import cython_orderbook

        return cython_orderbook

    def new(self, side: Any, price: int, qty: int) -> Any:
        return self.lib.Order(side, qty, price)


class AkhilOrderBook(_AkhilBook):
    """``akhil4n-orderbook``: one pure-Python file installed as the top-level module
    ``orderbook`` (dataclass orders)."""

    name = "akhil4n-orderbook"
    module = "orderbook"

    @classmethod
    def available(cls) -> bool:  # ``orderbook`` is a common name: check it is this one
        spec = importlib.util.find_spec(cls.module)
        if spec is None or spec.origin is None:
            return False
        with open(spec.origin, encoding="utf-8") as f:
            return "class OrderBook" in (text := f.read()) and "trade_log" in text

    def load(self) -> Any:
        import orderbook

        return orderbook

    def new(self, side: Any, price: int, qty: int) -> Any:
        return self.lib.Order(side, price, qty)


class LiquiBook(Peer):
    """``liquibook``: the C++ LiquiBook (``DepthOrderBook`` of ``SimpleOrder``) through its
    SWIG wrapper; fills come back through a Python ``OrderListener`` (a C++ -> Python call
    per fill, which updates both orders as the library's example does).

    Its ``replace`` always removes the order and adds it again at the back of its level,
    even for a pure quantity decrease, and the API gives no handle on the resting tracker
    to shrink it in place; so a priority-keeping decrease is not expressible and a stream
    with decreases gives (slightly) different fills. ``--no-decreases`` makes every
    quantity amend an increase, on which all engines agree."""

    name = module = "liquibook"
    keeps_priority_on_decrease = False

    def setup(self) -> None:
        import liquibook

        class Listener(liquibook.OrderListener):  # type: ignore[misc, name-defined]
            def __init__(self) -> None:
                liquibook.OrderListener.__init__(self)
                self.fills: list[int] = []
                self.cancelled = False

            def on_accept(self, order: Any) -> None:
                pass

            def on_reject(self, order: Any, reason: Any) -> None:
                pass

            def on_fill(self, passive: Any, aggressive: Any, qty: int, cost: int) -> None:
                passive.fill(qty, cost, 0)
                aggressive.fill(qty, cost, 0)
                self.fills.append(qty)

            def on_cancel(self, order: Any) -> None:
                self.cancelled = True

            def on_cancel_reject(self, order: Any, reason: Any) -> None:
                pass

            def on_replace(self, order: Any, size_delta: int, new_price: int) -> None:
                pass

            def on_replace_reject(self, order: Any, reason: Any) -> None:
                pass

        self.lib = liquibook
        self.listener = Listener()
        self.book = liquibook.DepthOrderBook()
        self.book.set_order_listener(self.listener)
        self.prebuilt = {
            op.ref: liquibook.SimpleOrder(op.is_buy, op.price, op.qty)
            for op in self.ops
            if op.kind is ADD or op.kind is TAKE
        }
        self.orders: dict[int, Any] = {}
        self.dead: set[int] = set()
        self.cut: dict[int, int] = {}

    def submit(self, ref: int, price: int, qty: int, is_buy: bool) -> Any:
        order = self.prebuilt.pop(ref, None)
        if order is None:  # a re-entered (amended) order
            order = self.lib.SimpleOrder(is_buy, price, qty)
        self.orders[ref] = order
        self.dead.discard(ref)
        self.cut.pop(ref, None)
        fills = self.listener.fills
        start = len(fills)
        self.book.add(order)
        return start

    def tally(self, out: Any) -> tuple[int, int]:
        if out is None:
            return 0, 0
        fills = self.listener.fills[out:]
        return len(fills), sum(fills)

    def cancel(self, ref: int) -> bool:
        if ref in self.dead:
            return False
        listener = self.listener
        listener.cancelled = False
        self.book.cancel(self.orders[ref])
        self.dead.add(ref)
        return listener.cancelled

    def live(self, ref: int) -> tuple[int, int, bool] | None:
        if ref in self.dead:
            return None
        order = self.orders[ref]
        leaves = order.open_qty() - self.cut.get(ref, 0)
        if leaves <= 0:
            return None
        return leaves, order.price(), order.is_buy()

    def reduce(self, ref: int, leaves: int) -> None:
        # Re-queued by the library (see the class docstring). The SimpleOrder's own
        # quantities do not follow a replace, so the cut is kept here.
        order = self.orders[ref]
        current = order.open_qty() - self.cut.get(ref, 0)
        self.book.replace(order, leaves - current, 0)
        self.cut[ref] = self.cut.get(ref, 0) + current - leaves


PEERS: dict[str, type[Peer]] = {
    "lightmatchingengine": LightMatchingEngine,
    "pyorderbook": PyOrderBook,
    "akhil4n-orderbook": AkhilOrderBook,
    "cython-orderbook": CythonOrderBook,
    "liquibook": LiquiBook,
}


# ---------------------------------------------------------------------------- measure
def _throughput(runner: Runner, n: int) -> tuple[float, float]:
    runner.prepare()
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    runner.run_all()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return n / wall, n / cpu


def _latencies(runner: Runner) -> tuple[dict[str, list[int]], int, int]:
    runner.prepare()
    gc.collect()
    latencies: dict[str, list[int]] = {k: [] for k in OP_KINDS}
    fills = volume = 0
    clock, step, tally, ops = time.perf_counter_ns, runner.step, runner.tally, runner.ops
    for i in range(runner.warmup, len(ops)):
        op = ops[i]
        t0 = clock()
        out = step(i)
        t1 = clock()
        latencies[op.kind].append(t1 - t0)
        n, v = tally(out)
        fills += n
        volume += v
    return latencies, fills, volume


def measure(runners: list[Runner], measured: int, repeats: int) -> list[Result]:
    """Throughput runs interleaved across engines (noise hits all alike), then latency."""
    wall: dict[str, list[float]] = {r.name: [] for r in runners}
    cpu: dict[str, list[float]] = {r.name: [] for r in runners}
    for _ in range(repeats):
        for runner in runners:
            w, c = _throughput(runner, measured)
            wall[runner.name].append(w)
            cpu[runner.name].append(c)
    results = []
    for runner in runners:
        if isinstance(runner, OursBatched):  # same calls as Ours, per command
            latencies, fills, volume = results[0].latencies, results[0].fills, results[0].volume
        else:
            latencies, fills, volume = _latencies(runner)
        results.append(
            Result(runner.name, max(cpu[runner.name]), statistics.median(wall[runner.name]),
                   fills, volume, latencies)
        )  # fmt: skip
    return results


def compare_level_structures(n: int = 300_000, seed: int = 1) -> dict[str, float]:
    """ns/op of the two candidate structures for a side's price levels under the book's
    access pattern (new levels placed like the stream's orders, random level deletions,
    best-level pops, best-price reads): a sorted key list with bisect (what the book uses)
    and a heap with lazy deletion."""
    rnd = random.Random(seed)
    pattern = []
    for _ in range(n):
        x = rnd.random()
        kind = "add" if x < 0.45 else "del" if x < 0.75 else "pop" if x < 0.85 else "best"
        pattern.append((kind, min(2000, int(rnd.paretovariate(0.6))), rnd.random()))

    def sorted_list() -> None:
        keys: list[int] = []
        live: set[int] = set()
        for kind, price, r in pattern:
            if kind == "add":
                if price not in live:
                    live.add(price)
                    bisect.insort(keys, -price)  # best level at the end
            elif kind == "del" and keys:
                key = keys[int(r * len(keys))]
                del keys[bisect.bisect_left(keys, key)]
                live.discard(-key)
            elif kind == "pop" and keys:
                live.discard(-keys.pop())
            elif kind == "best":
                _ = keys[-1] if keys else None

    def lazy_heap() -> None:
        heap: list[int] = []
        live: set[int] = set()
        members: list[int] = []  # to pick a random live level, as the sorted variant does
        for kind, price, r in pattern:
            if kind == "add":
                if price not in live:
                    live.add(price)
                    heapq.heappush(heap, price)
                    members.append(price)
            elif kind == "del" and members:
                live.discard(members[int(r * len(members))])
            elif kind in ("pop", "best"):
                while heap and heap[0] not in live:
                    heapq.heappop(heap)
                if kind == "pop" and heap:
                    live.discard(heapq.heappop(heap))
            if len(members) > 4 * len(live) + 64:
                members = [m for m in members if m in live]

    timings = {}
    for name, fn in (("sorted list + bisect", sorted_list), ("heap + lazy deletion", lazy_heap)):
        best = min(_cpu_time(fn) for _ in range(3))
        timings[name] = best / n * 1e9
    return timings


def _cpu_time(fn: Callable[[], None]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000, help="operations in the stream")
    parser.add_argument("--book", choices=("deep", "tight"), default="deep")
    parser.add_argument("--depth", type=int, default=10_000, help="orders in the opening book")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5, help="throughput runs per engine")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma list, '' for none")
    parser.add_argument(
        "--no-decreases",
        action="store_true",
        help="every quantity amend raises the order's total (every engine can do that alike)",
    )
    parser.add_argument(
        "--structures",
        action="store_true",
        help="only compare price-level structures (sorted list vs heap)",
    )
    args = parser.parse_args(argv)
    if args.structures:
        for name, ns in compare_level_structures().items():
            print(f"{name:<24}{ns:>8,.0f} ns/op")
        return 0

    ops = generate_stream(
        args.orders, args.seed, args.book, args.depth, decreases=not args.no_decreases
    )
    measured = ops[args.depth :]
    mix = ", ".join(f"{k} {sum(op.kind is k for op in measured) / len(measured):.0%}"
                    for k in OP_KINDS)  # fmt: skip
    print(f"stream: {len(measured)} ops ({mix}) on a {args.book} book opened with "
          f"{args.depth} orders, seed {args.seed}"
          f"{', quantity amends are increases' if args.no_decreases else ''}")  # fmt: skip
    print(f"ours: {compiled_status()}")
    ours = Ours(ops, args.depth)
    runners: list[Runner] = [ours, OursBatched(ours)]
    for name in filter(None, args.peers.split(",")):
        if PEERS[name].available():
            runners.append(PEERS[name](ops, args.depth))
        else:
            print(f"{name}: not installed, skipped")
    results = measure(runners, len(measured), args.repeats)
    book = ours.engine  # the book the latency pass left behind
    resting = len(book.open_orders())
    print(f"book at the end: {len(book.bids)} bid / {len(book.asks)} ask levels, "
          f"{resting} orders; building our commands (outside the engine): "
          f"{ours.build_ns_per_op:,.0f} ns/op")  # fmt: skip
    snapshot = book.to_snapshot()
    book_bytes = len(json.dumps(snapshot["book"], separators=(",", ":")))
    print(f"state: {book_bytes / max(1, resting):,.0f} snapshot bytes per resting order "
          f"(JSON, the order's command included); whole snapshot with the dedup windows "
          f"{len(json.dumps(snapshot, separators=(',', ':'))) / 1e6:.1f} MB")  # fmt: skip

    print(f"\n{'orders/s':<22}{'best (cpu)':>13}{'median (wall)':>15}{'fills':>9}{'volume':>11}")
    for r in results:
        print(f"{r.name:<22}{r.best_cpu_per_s:>13,.0f}{r.median_wall_per_s:>15,.0f}"
              f"{r.fills:>9}{r.volume:>11}")  # fmt: skip
    header = "".join(f"{k + ' p50':>11}{k + ' p99':>11}" for k in OP_KINDS)
    print(f"\n{'latency (ns)':<22}{header}")
    for r in results:
        if r.name.startswith("strikeflow batch"):
            continue
        cells = ""
        for k in OP_KINDS:
            values = sorted(r.latencies[k])
            cells += f"{_percentile(values, 0.5):>11,}{_percentile(values, 0.99):>11,}"
        print(f"{r.name:<22}{cells}")

    ok = True
    print()
    has_decreases = any(op.kind is AMEND and op.qty > 0 for op in measured)
    peers = {type(r).name: type(r) for r in runners[2:]}
    for r in results[2:]:
        same = (r.fills, r.volume) == (results[0].fills, results[0].volume)
        verdict = "yes" if same else "NO"
        if not same and has_decreases and not peers[r.name].keeps_priority_on_decrease:
            verdict = "no: it re-queues quantity decreases (see --no-decreases)"
        else:
            ok &= same
        for mine in results[:2]:
            print(f"{mine.name}/{r.name}: {mine.best_cpu_per_s / r.best_cpu_per_s:.2f}x best cpu,"
                  f" {mine.median_wall_per_s / r.median_wall_per_s:.2f}x median wall"
                  f" (same fills and volume: {verdict})")  # fmt: skip
    return 0 if ok else 1


def compiled_status() -> str:
    """Which of our matching modules run compiled (mypyc extension) vs as Python source."""
    import streams.matching.book
    import streams.matching.engine

    parts = []
    for module in (streams.matching.engine, streams.matching.book):
        path = module.__file__ or ""
        kind = "compiled" if path.endswith((".so", ".pyd")) else "pure Python"
        parts.append(f"{module.__name__.rsplit('.', 1)[-1]} {kind}")
    return ", ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
