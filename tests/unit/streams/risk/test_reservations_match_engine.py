"""Risk's reservations always equal the matching engine's resting orders.

A differential test of the whole order path, pure and in process: each request goes through
pre-trade risk (:meth:`AccountState.decide`); an accepted one through the matching agent's
translation (:func:`to_command`, :func:`encode_event`) into the real
:class:`MatchingEngine` of its instrument; a rejected one becomes risk's ``rejected`` order
event. Every order event is booked (:func:`booking_outputs`) and the account activity that
comes out is applied to risk (:meth:`AccountState.apply`). After every step, for every
account, risk's open orders (client order id, symbol, side, quantity left) must be the
engine's live orders of that account, and never more than ``max_open_orders``: the limit
only holds if risk's view of the book is the book. With the activity held back and delivered
late (as on the real stack, where requests overtake the activity of earlier ones), risk may
hold orders that already left the book, but never misses one that rests.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from streams.instruments import Catalogue
from streams.ledger.booking import booking_outputs
from streams.ledger.fees import FeeSchedule
from streams.listing import venue_catalogue
from streams.matching.engine import MatchingEngine
from streams.matching.translate import (
    Rejection,
    encode_event,
    rejected_before_engine,
    to_command,
    ts_ns,
)
from streams.risk import AccountState, Decision, RiskCode, RiskLimits
from tests.unit.streams.risk.risk_support import FakePrices
from topics.catalogue import by_name
from topics.contracts import (
    AmendOrder,
    CancelOrder,
    FundsTransferred,
    MassCancel,
    OrderEvent,
    SubmitOrder,
)

D = Decimal
T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
CATALOGUE = venue_catalogue()
FEES = FeeSchedule()
EVENTS = by_name("orders.events")
ACCOUNTS = ("acc-1", "acc-2", "acc-3")
SYMBOLS = ("BTC-USDT", "ETH-USDT")
#: symbol -> (mid, price step of the generated orders, quantity step)
MARKETS = {"BTC-USDT": (D(90_000), D("0.5"), D("0.001")),
           "ETH-USDT": (D(3_000), D("0.05"), D("0.01"))}
# Few open orders and a short bucket, so 5008 and 5003 fire; a hair-trigger stop-loss, so
# risk sends its own closing orders (client order ids ``stop-<n>``) straight to matching.
LIMITS = RiskLimits(max_open_orders=3, orders_per_second=2.0, order_burst=4,
                    stop_loss=D("0.00001"))


class Venue:
    """Risk, matching and booking wired as their agents wire them, without Kafka: every
    output is consumed at once, in the order it was produced; or, ``delayed``, the activity
    reaches risk only when :meth:`deliver` says so."""

    def __init__(self, deposits: dict[str, Decimal], *, delayed: bool = False) -> None:
        self.now = T0
        # activity booked but not yet applied, per instrument: each instrument's order events
        # are one partition of orders.events, booked in order; instruments interleave freely
        self.in_flight: dict[str, deque[Any]] | None = (
            {s: deque() for s in SYMBOLS} if delayed else None)
        self.prices = FakePrices(indices={"BTC": D(90_000), "ETH": D(3_000)})
        self.states = {a: AccountState(a) for a in ACCOUNTS}
        self.engines = {s: MatchingEngine.for_instrument(CATALOGUE[s]) for s in SYMBOLS}
        for account, amount in deposits.items():
            self.states[account].apply(FundsTransferred(
                event_id=f"transfer:{account}", ts_event=T0, account=account,
                transfer_id=account, amount=amount, reference="deposit"), self.listed)

    @property
    def listed(self) -> Catalogue:
        """What the venue lists now: risk looks instruments up at the message's time."""
        return CATALOGUE.at(self.now)

    def request(self, request: Any) -> Decision:
        """Through risk; then to matching, or risk's rejection to booking."""
        decision = self.states[request.account].decide(
            request, now_ms=int(self.now.timestamp() * 1000), now=self.now,
            catalogue=self.listed, prices=self.prices, limits=LIMITS, fees=FEES)
        if decision.accepted:
            for command in decision.forwarded():
                self.match(command)
        else:
            self.book(decision.rejection(self.now))
        return decision

    def match(self, cmd: Any) -> None:
        """What the matching agent does with one ``orders.commands`` record."""
        engine, inst, now_ns = self.engines[cmd.symbol], CATALOGUE[cmd.symbol], ts_ns(self.now)
        try:
            command = to_command(cmd, inst, now_ns)
        except Rejection as rejection:
            self.book(rejected_before_engine(cmd, rejection, engine.seq, now_ns))
            return
        ts_init = self.now.isoformat().replace("+00:00", "Z")
        for event in engine.process(command):
            encoded = encode_event(event, inst, ts_init)
            if encoded is not None and encoded[0] == "orders.events":
                self.book(EVENTS.decode(encoded[1]))

    def book(self, event: OrderEvent) -> None:
        """Booking, then the risk agent applying the activity of the account."""
        for topic, _, record in booking_outputs(event):
            if topic != "accounts.activity":
                continue
            if self.in_flight is None:
                self.states[record.account].apply(record, self.listed)
            else:
                self.in_flight[event.symbol].append(record)

    def deliver(self, symbol: str, count: int) -> None:
        """The next ``count`` activity records of one instrument's events reach risk."""
        queue = self.in_flight[symbol] if self.in_flight is not None else deque()
        for _ in range(min(count, len(queue))):
            record = queue.popleft()
            self.states[record.account].apply(record, self.listed)

    def revalue(self) -> None:
        """Risk's timer: stop-loss and liquidation orders go straight to matching."""
        for state in self.states.values():
            for order in state.revalue(self.listed, self.prices, LIMITS, self.now).orders:
                self.match(order.model_copy(update={"reduce_only": False}))

    # -- the two views ----------------------------------------------------------------------
    def risk_view(self, account: str) -> list[tuple[str, str, str, Decimal]]:
        return sorted((coid, r.symbol, r.side, r.qty_left)
                      for coid, r in self.states[account].open_orders.items())

    def engine_view(self, account: str) -> list[tuple[str, str, str, Decimal]]:
        return sorted((o.client_order_id, symbol, o.side.value,
                       CATALOGUE[symbol].lots_to_qty(o.leaves_qty))
                      for symbol, engine in self.engines.items()
                      for o in engine.open_orders() if o.account_id == account)

    def check(self) -> None:
        """Risk's open orders are the engine's; once all activity is in when delayed."""
        in_flight = self.in_flight is not None and any(self.in_flight.values())
        for account in ACCOUNTS:
            held, resting = self.risk_view(account), self.engine_view(account)
            if in_flight:  # risk may be behind, but only ever holds more than rests
                assert {o[:3] for o in resting} <= {o[:3] for o in held}, account
            else:
                assert held == resting, account
            assert len(held) <= LIMITS.max_open_orders


# -- defect 1, smallest case ------------------------------------------------------------------
def _buy(command_id: str, coid: str, symbol: str = "BTC-USDT", qty: str = "0.1",
         price: str = "90000") -> SubmitOrder:
    return SubmitOrder(command_id=command_id, ts_sent=T0, account="acc-1", symbol=symbol,
                       client_order_id=coid, side="buy", order_type="limit", qty=D(qty),
                       price=D(price))


def test_a_rejected_reuse_of_a_client_order_id_keeps_the_live_order_reserved() -> None:
    venue = Venue({"acc-1": D(10_000)})
    assert venue.request(_buy("c1", "b1")).accepted  # holds 9000 + 4.5 fee
    assert venue.request(_buy("c2", "b2")).code is RiskCode.INSUFFICIENT_FUNDS
    reuse = _buy("c3", "b1", symbol="ETH-USDT", qty="1", price="3000")
    assert venue.request(reuse).code is RiskCode.DUPLICATE_CLIENT_ORDER_ID
    assert venue.states["acc-1"].reserved() == D("9004.5")  # b1 still rests, still held
    assert venue.request(_buy("c4", "b2")).code is RiskCode.INSUFFICIENT_FUNDS
    assert venue.engine_view("acc-1") == [("b1", "BTC-USDT", "buy", D("0.1"))]
    venue.check()


# -- the differential property ----------------------------------------------------------------
ORDER_TYPES = ("limit", "limit", "limit", "market", "stop", "stop_limit", "trailing_stop")
TIFS = ("GTC", "GTC", "IOC", "FOK", "GTD")
POST_ONLY = ("no", "no", "no", "reject", "reprice")
STP = ("cancel_newest", "cancel_oldest", "cancel_both", "none")
# few, so they are reused (matching refuses one again on the same book), but more than the
# open-order limit; one is the name of risk's own first closing order
CLIENT_IDS = ("o1", "o2", "o3", "o4", "o5", "o6", "stop-1")

accounts = st.sampled_from(ACCOUNTS)
symbols = st.sampled_from(SYMBOLS)
client_ids = st.sampled_from(CLIENT_IDS)
offsets = st.integers(-6, 6)
lots = st.integers(1, 5)
submit_op = st.tuples(
    st.just("submit"), accounts, symbols, client_ids, st.sampled_from(("buy", "sell")),
    st.sampled_from(ORDER_TYPES), offsets, offsets, lots, st.sampled_from(TIFS),
    st.sampled_from(POST_ONLY), st.one_of(st.none(), st.none(), st.integers(1, 4)),
    st.sampled_from(STP), st.integers(-1, 4), st.sampled_from((False,) * 7 + (True,)),
    st.integers(0, 19),
)  # fmt: skip
# an order named outright, or the n-th live order of the account (as its owner sees them)
targets = st.one_of(st.tuples(symbols, client_ids), st.integers(0, 5))
cancel_op = st.tuples(st.just("cancel"), accounts, targets)
amend_op = st.tuples(st.just("amend"), accounts, targets, st.one_of(st.none(), lots),
                     st.one_of(st.none(), offsets), st.integers(0, 19))
mass_op = st.tuples(st.just("mass_cancel"), accounts, symbols)
revalue_op = st.tuples(st.just("revalue"))
OPS = {"submit": submit_op, "cancel": cancel_op, "amend": amend_op, "mass_cancel": mass_op,
       "revalue": revalue_op}
step = st.tuples(
    st.sampled_from(("submit",) * 8 + ("cancel",) * 2 + ("amend",) * 3
                    + ("mass_cancel", "revalue", "revalue"))
    .flatmap(OPS.__getitem__),
    st.integers(0, 1500),  # milliseconds before it
)


def _off_grid(value: Decimal, grid: Decimal, draw: int) -> Decimal:
    """One draw in twenty is off the instrument's grid: matching refuses it before the
    engine."""
    return value + grid / 2 if draw == 0 else value


def _target(venue: Venue, account: str, target: tuple[str, str] | int) -> tuple[str, str]:
    """``(symbol, client order id)`` of the order a cancel or an amend is for."""
    if isinstance(target, tuple):
        return target
    live = venue.engine_view(account)
    return (live[target % len(live)][1], live[target % len(live)][0]) if live \
        else (SYMBOLS[0], CLIENT_IDS[0])


def _submit(n: int, venue: Venue, account: str, symbol: str, coid: str, side: str,
            order_type: str, offset: int, trigger_offset: int, qty_steps: int, tif: str,
            post_only: str, display: int | None, stp: str, expire_s: int, reduce_only: bool,
            grid_draw: int) -> SubmitOrder:
    now = venue.now
    mid, price_step, qty_step = MARKETS[symbol]
    inst = CATALOGUE[symbol]
    price = _off_grid(mid + offset * price_step, inst.tick_size, grid_draw)
    qty = _off_grid(qty_steps * qty_step, inst.lot_size, grid_draw - 1)
    resting_limit = order_type in ("limit", "stop_limit") and tif not in ("IOC", "FOK")
    if grid_draw != 2:  # mostly combinations the engine takes; sometimes any
        post_only = post_only if resting_limit and order_type == "limit" else "no"
        display = display if resting_limit else None
    return SubmitOrder(
        command_id=f"cmd-{n}", ts_sent=now, account=account, symbol=symbol,
        client_order_id=coid, side=side, order_type=order_type, qty=qty,
        price=price if order_type in ("limit", "stop_limit") else None,
        trigger_price=(mid + trigger_offset * price_step
                       if order_type in ("stop", "stop_limit") else None),
        trail_ticks=abs(trigger_offset) * 50 + 1 if order_type == "trailing_stop" else None,
        time_in_force=tif, expire_at=now + timedelta(seconds=expire_s) if tif == "GTD" else None,
        post_only=post_only, reduce_only=reduce_only,
        display_qty=display * qty_step if display is not None else None, stp=stp)


def _amend(n: int, venue: Venue, account: str, target: tuple[str, str] | int,
           qty_steps: int | None, offset: int | None, grid_draw: int) -> AmendOrder:
    symbol, coid = _target(venue, account, target)
    mid, price_step, qty_step = MARKETS[symbol]
    tick = CATALOGUE[symbol].tick_size
    return AmendOrder(
        command_id=f"cmd-{n}", ts_sent=venue.now, account=account, symbol=symbol,
        client_order_id=coid,
        new_qty=qty_steps * qty_step if qty_steps is not None else None,
        new_price=(_off_grid(mid + offset * price_step, tick, grid_draw)
                   if offset is not None else None))


_BUILDERS: dict[str, Callable[..., Any]] = {
    "submit": _submit,
    "amend": _amend,
    "cancel": lambda n, venue, account, target: CancelOrder(
        command_id=f"cmd-{n}", ts_sent=venue.now, account=account,
        **dict(zip(("symbol", "client_order_id"), _target(venue, account, target),
                   strict=True))),
    "mass_cancel": lambda n, venue, account, symbol: MassCancel(
        command_id=f"cmd-{n}", ts_sent=venue.now, account=account, symbol=symbol),
}


def run(venue: Venue, steps: list[tuple[tuple[Any, ...], int]]) -> None:
    """Each step after its wait; both views compared after every step."""
    for n, ((kind, *args), wait_ms) in enumerate(steps):
        venue.now += timedelta(milliseconds=wait_ms)
        if kind == "revalue":
            venue.revalue()
        elif kind == "deliver":
            venue.deliver(*args)
        else:
            try:
                request = _BUILDERS[kind](n, venue, *args)
            except ValidationError:
                continue  # refused at the boundary: risk never sees it
            venue.request(request)
        venue.check()


cash = st.lists(st.sampled_from((500, 2_000, 20_000)), min_size=3, max_size=3)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=20, max_size=80), cash)
def test_risk_open_orders_are_the_engine_resting_orders(
        steps: list[tuple[tuple[Any, ...], int]], cash: list[int]) -> None:
    run(Venue({a: D(c) for a, c in zip(ACCOUNTS, cash, strict=True)}), steps)


deliver_op = st.tuples(st.just("deliver"), symbols, st.integers(1, 8))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(step, step, st.tuples(deliver_op, st.just(0))), min_size=20,
                max_size=80), cash)
def test_with_activity_in_flight_risk_holds_at_least_what_rests(
        steps: list[tuple[tuple[Any, ...], int]], cash: list[int]) -> None:
    """As on the real stack: requests overtake the activity of earlier ones. Risk may hold
    orders that left the book, never miss one that rests; once all is in, they are equal."""
    venue = Venue({a: D(c) for a, c in zip(ACCOUNTS, cash, strict=True)}, delayed=True)
    run(venue, steps)
    for symbol in SYMBOLS:
        venue.deliver(symbol, 10**6)
    venue.check()
