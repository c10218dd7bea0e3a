"""Property tests over random command streams.

Invariants checked after every command: the book is never crossed at rest; every order's
quantity is conserved (filled + resting + cancelled + expired = accepted, amends included);
levels aggregate exactly their live visible orders and icebergs never show more than their
display; FOK is all-or-nothing, IOC/market never rest, post-only never takes; every order
walks the status transition table; sequence numbers are gap-free. Plus: price-time priority
against a naive reference book, replay determinism and snapshot/restore equivalence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.matching import (
    TERMINAL_STATUSES,
    AmendOrder,
    CancelOrder,
    EngineConfig,
    MatchingEngine,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderStatus,
    OrderType,
    PostOnly,
    Side,
    StpMode,
    SubmitOrder,
    TimeInForce,
    TradeExecuted,
    event_to_dict,
    next_status,
)
from tests.unit.streams.matching.harness import IID
from tests.unit.streams.matching.strategies import (
    accounts,
    build_commands,
    command_streams,
    prices,
    qtys,
    random_actions,
    sides,
)

PROPS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_STOPS = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP)


@dataclass
class Tracked:
    """What the events say about one order."""

    side: Side
    order_type: OrderType
    tif: TimeInForce
    price: int | None
    total: int
    post_only: bool
    display: int | None
    status: OrderStatus | None = None
    filled: int = 0
    closed: int = 0
    fills: list[int] = field(default_factory=list)


class Checker:
    """Feeds commands to an engine and checks every invariant after each one."""

    def __init__(self, engine: MatchingEngine | None = None) -> None:
        self.engine = engine or MatchingEngine(EngineConfig(IID))
        self.orders: dict[int, Tracked] = {}
        self.seen_commands: set[str] = set()
        self.last_seq = self.engine.seq
        self.all_events: list[Any] = []

    def run(self, command: Any) -> list[Any]:
        repeated = command.command_id in self.seen_commands
        self.seen_commands.add(command.command_id)
        events = self.engine.process(command)
        if repeated:
            assert events == [], "a repeated command must not emit again"
            return events
        self.all_events.extend(events)
        for ev in events:
            self._apply(command, ev)
        self._check_command_outcome(command, events)
        self._check_book()
        return events

    # -- per event ---------------------------------------------------------------------
    def _apply(self, command: Any, ev: Any) -> None:
        assert len(ev) == len(type(ev)._fields)
        assert ev.seq == self.last_seq + 1, "seq must be gap-free"
        self.last_seq = ev.seq
        assert ev.causation_id == command.command_id
        if isinstance(ev, TradeExecuted):
            maker = self.orders[ev.maker_order_id]
            assert ev.price == maker.price, "trades happen at the maker's price"
            return
        oid = getattr(ev, "order_id", None)
        if isinstance(ev, OrderAccepted):
            assert isinstance(command, SubmitOrder)
            self.orders[ev.order_id] = Tracked(
                ev.side, ev.order_type, ev.time_in_force, ev.price, ev.qty,
                command.post_only is not PostOnly.NONE, command.display_qty,
            )  # fmt: skip
        if oid is None or oid not in self.orders:
            return
        order = self.orders[oid]
        order.status = next_status(order.status, ev)
        if isinstance(ev, OrderAmended):
            order.total = ev.qty
            order.price = ev.price
            assert ev.leaves_qty == order.total - order.filled
        elif isinstance(ev, OrderPartiallyFilled | OrderFilled):
            order.filled += ev.qty
            order.fills.append(ev.qty)
            assert ev.leaves_qty == order.total - order.filled
            assert (ev.leaves_qty == 0) == isinstance(ev, OrderFilled)
            if not ev.is_maker:
                assert not order.post_only, "post-only orders never take"
                if order.price is not None and order.order_type is not OrderType.MARKET:
                    if order.side is Side.BUY:
                        assert ev.price <= order.price
                    else:
                        assert ev.price >= order.price
        elif isinstance(ev, OrderCancelled | OrderExpired):
            order.closed += ev.leaves_qty

    def _check_command_outcome(self, command: Any, events: list[Any]) -> None:
        for ev in events:
            if not isinstance(ev, OrderAccepted) or ev.order_type in _STOPS:
                continue
            order = self.orders[ev.order_id]
            if order.tif is TimeInForce.FOK:
                assert order.status in TERMINAL_STATUSES
                assert order.filled in (0, order.total), "FOK is all or nothing"
            if order.tif in (TimeInForce.IOC, TimeInForce.FOK) or ev.order_type is OrderType.MARKET:
                assert order.status in TERMINAL_STATUSES, "IOC/FOK/market never rest"

    # -- whole book --------------------------------------------------------------------
    def _check_book(self) -> None:
        engine = self.engine
        live: dict[int, int] = {}
        for side in (engine.bids, engine.asks):
            assert side.keys == sorted(side.keys) and len(side.keys) == len(side.levels)
            for price, level in side.iter_levels():
                orders = [o for o in level.orders if o.leaves]
                assert orders and level.count == len(orders)
                assert level.qty == sum(o.visible for o in orders)
                for o in orders:
                    assert o.price == price and o.spec.side is side.side
                    display = o.spec.display_qty
                    assert 0 < o.visible <= o.leaves
                    if display is None:
                        assert o.visible == o.leaves
                    else:
                        assert o.visible <= display, "iceberg shows at most its display"
                    live[o.order_id] = o.leaves
        bid, ask = engine.bids.best_price(), engine.asks.best_price()
        if bid is not None and ask is not None:
            assert bid < ask, "book crossed at rest"
        for stop in engine.open_orders():
            if stop.order_type in {t.value for t in _STOPS} and not stop.visible_qty:
                live[stop.order_id] = stop.leaves_qty
        for oid, order in self.orders.items():
            resting = live.get(oid, 0)
            assert order.total == order.filled + order.closed + resting, "quantity conserved"
            assert (order.status in TERMINAL_STATUSES) == (oid not in live)


@PROPS
@given(command_streams)
def test_invariants_hold_on_random_streams(commands: list[Any]) -> None:
    checker = Checker()
    for command in commands:
        checker.run(command)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(command_streams)
def test_replay_is_deterministic(commands: list[Any]) -> None:
    first = MatchingEngine(EngineConfig(IID)).process_many(commands)
    second = MatchingEngine(EngineConfig(IID)).process_many(commands)
    assert first == second
    assert json.dumps([event_to_dict(e) for e in first]) == json.dumps(
        [event_to_dict(e) for e in second]
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(command_streams, st.data())
def test_snapshot_restore_continues_identically(commands: list[Any], data: Any) -> None:
    split = data.draw(st.integers(0, len(commands)))
    config = EngineConfig(IID, command_window=7, client_id_window=5)
    straight = MatchingEngine(config)
    straight.process_many(commands[:split])
    straight.take_depth_deltas() if data.draw(st.booleans()) else None
    snapshot = json.loads(json.dumps(straight.to_snapshot()))
    restored = MatchingEngine.from_snapshot(snapshot)
    assert restored.to_snapshot() == snapshot
    tail_straight = straight.process_many(commands[split:])
    tail_restored = restored.process_many(commands[split:])
    assert tail_restored == tail_straight
    assert restored.take_depth_deltas() == straight.take_depth_deltas()
    assert restored.to_snapshot() == straight.to_snapshot()


# ------------------------------------------------------------------ price-time priority
class ReferenceBook:
    """A deliberately naive price-time book: a list of resting orders, scanned in full."""

    def __init__(self) -> None:
        self.resting: list[list[Any]] = []  # [oid, side, price, leaves, time, total, filled]
        self.clock = 0

    def _tick(self) -> int:
        self.clock += 1
        return self.clock

    def _match(self, oid: int, side: Side, limit: int | None, leaves: int) -> tuple[list, int]:
        trades = []
        while leaves:
            opposite = [o for o in self.resting if o[1] is not side]
            if side is Side.BUY:
                eligible = [o for o in opposite if limit is None or o[2] <= limit]
                eligible.sort(key=lambda o: (o[2], o[4]))
            else:
                eligible = [o for o in opposite if limit is None or o[2] >= limit]
                eligible.sort(key=lambda o: (-o[2], o[4]))
            if not eligible:
                break
            maker = eligible[0]
            qty = min(leaves, maker[3])
            trades.append((maker[0], oid, maker[2], qty))
            maker[3] -= qty
            maker[6] += qty
            leaves -= qty
            if not maker[3]:
                self.resting.remove(maker)
        return trades, leaves

    def available(self, side: Side, limit: int | None) -> int:
        return sum(
            o[3]
            for o in self.resting
            if o[1] is not side
            and (limit is None or (o[2] <= limit if side is Side.BUY else o[2] >= limit))
        )

    def submit(self, oid: int, c: SubmitOrder) -> list:
        limit = c.protection_price if c.order_type is OrderType.MARKET else c.price
        if c.time_in_force is TimeInForce.FOK and self.available(c.side, limit) < c.qty:
            return []
        trades, leaves = self._match(oid, c.side, limit, c.qty)
        if leaves and c.order_type is OrderType.LIMIT and c.time_in_force is TimeInForce.GTC:
            self.resting.append([oid, c.side, c.price, leaves, self._tick(), c.qty, c.qty - leaves])
        return trades

    def cancel(self, oid: int) -> None:
        self.resting = [o for o in self.resting if o[0] != oid]

    def amend(self, oid: int, price: int, qty: int) -> list:
        order = next(o for o in self.resting if o[0] == oid)
        filled = order[6]
        if price == order[2] and qty < order[5]:
            order[3], order[5] = qty - filled, qty
            return []
        self.cancel(oid)
        trades, leaves = self._match(oid, order[1], price, qty - filled)
        if leaves:
            self.resting.append([oid, order[1], price, leaves, self._tick(), qty, qty - leaves])
        return trades

    def best(self, side: Side) -> int | None:
        found = [o[2] for o in self.resting if o[1] is side]
        if not found:
            return None
        return max(found) if side is Side.BUY else min(found)


reference_action = st.one_of(
    st.tuples(st.just("limit"), sides, prices, qtys, accounts,
              st.sampled_from((TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC,
                               TimeInForce.FOK)),
              st.just(PostOnly.NONE), st.none(), st.just(StpMode.NONE)),
    st.tuples(st.just("market"), sides, qtys, accounts, prices,
              st.sampled_from((TimeInForce.IOC, TimeInForce.FOK)), st.just(StpMode.NONE)),
    st.tuples(st.just("cancel"), st.integers(0, 10_000)),
    st.tuples(st.just("amend"), st.integers(0, 10_000), st.one_of(st.none(), prices),
              st.one_of(st.none(), qtys)),
)  # fmt: skip


def _reference_only(actions: list[tuple]) -> list[tuple]:
    """Keep what the reference book models: no stops, icebergs, post-only or STP."""
    kept = []
    for a in actions:
        if a[0] == "limit" and a[5] is not TimeInForce.GTD:
            kept.append(("limit", *a[1:6], PostOnly.NONE, None, StpMode.NONE))
        elif a[0] == "market" and a[4] is not None:
            kept.append((*a[:6], StpMode.NONE))
        elif a[0] in ("cancel", "amend"):
            kept.append(a)
    return kept


reference_streams = st.one_of(
    st.lists(reference_action, min_size=20, max_size=80),
    st.integers(0, 2**32 - 1).map(lambda seed: _reference_only(random_actions(seed, 160))),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reference_streams)
def test_trades_follow_price_time_priority(actions: list[tuple]) -> None:
    engine = MatchingEngine(EngineConfig(IID))
    reference = ReferenceBook()
    ids: dict[str, int] = {}
    for command in build_commands(actions, with_controls=False):
        events = engine.process(command)
        expected: list = []
        if isinstance(command, SubmitOrder):
            accepted = [e for e in events if isinstance(e, OrderAccepted)]
            if accepted:
                ids[command.client_order_id] = accepted[0].order_id
                expected = reference.submit(accepted[0].order_id, command)
        elif isinstance(command, CancelOrder):
            if any(isinstance(e, OrderCancelled) for e in events):
                reference.cancel(ids[command.client_order_id])
        elif isinstance(command, AmendOrder):
            amended = [e for e in events if isinstance(e, OrderAmended)]
            if amended:
                expected = reference.amend(amended[0].order_id, amended[0].price, amended[0].qty)
        trades = [
            (e.maker_order_id, e.taker_order_id, e.price, e.qty)
            for e in events
            if isinstance(e, TradeExecuted)
        ]
        assert trades == expected
        assert engine.bids.best_price() == reference.best(Side.BUY)
        assert engine.asks.best_price() == reference.best(Side.SELL)
    book = sorted((o.order_id, o.leaves_qty, o.price) for o in engine.open_orders())
    assert book == sorted((o[0], o[3], o[2]) for o in reference.resting)


# ------------------------------------------------------------------ garbage in, rejects out
_junk = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.integers(10**18, 10**19),
    st.floats(allow_nan=True), st.text(max_size=3), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=1), st.integers(), max_size=1),
    st.sampled_from([*Side, *OrderType, *TimeInForce, *PostOnly, *StpMode]),
)  # fmt: skip


@st.composite
def _garbage_command(draw: Any) -> Any:
    from dataclasses import fields as dc_fields

    from streams.matching import COMMAND_TYPES

    cls = draw(st.sampled_from(sorted(COMMAND_TYPES.values(), key=lambda c: c.__name__)))
    kwargs = {}
    for f in dc_fields(cls):
        if not f.init:
            continue
        if f.name == "instrument_id":
            kwargs[f.name] = draw(st.sampled_from([IID, IID, None, 5]))
        elif f.name == "command_id":
            kwargs[f.name] = draw(st.one_of(st.text(max_size=4), _junk))
        else:
            kwargs[f.name] = draw(_junk)
    return cls(**kwargs)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_garbage_command(), min_size=1, max_size=20), command_streams)
def test_garbage_never_raises_and_never_corrupts(junk: list[Any], commands: list[Any]) -> None:
    engine = MatchingEngine(EngineConfig(IID))
    mixed = [c for pair in zip(commands, junk, strict=False) for c in pair] + commands[len(junk) :]
    seq = 0
    for command in mixed:
        for ev in engine.process(command):
            seq += 1
            assert ev.seq == seq
    checker = Checker(MatchingEngine.from_snapshot(json.loads(json.dumps(engine.to_snapshot()))))
    checker._check_book()
