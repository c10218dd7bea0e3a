"""The per-instrument matching engine: commands in, events out, nothing else.

Why it looks like this:

* **Pure and deterministic.** :meth:`MatchingEngine.process` is a function of the engine
  state and the command: no wall clock (time comes from ``command.ts``), no randomness, no
  iteration in hash order. Replaying a partition rebuilds the same book and emits the same
  events; :meth:`~MatchingEngine.to_snapshot` / :meth:`~MatchingEngine.from_snapshot` let a
  Faust table persist the state, and a restored engine continues exactly as one that never
  stopped.
* **Idempotent.** A repeated ``command_id`` is ignored (nothing re-emitted); a repeated
  ``(account_id, client_order_id)`` is rejected with ``DUPLICATE_CLIENT_ORDER_ID``. Both are
  remembered over a bounded window (a live order's client id as long as it lives).
* **Bad input never raises.** A ``SubmitOrder`` checks its own structure when built
  (:func:`~streams.matching.orders.check_structure`); the engine adds the checks that need
  its state, and type-checks every other field it relies on. Anything wrong becomes
  ``OrderRejected`` / ``CommandRejected`` with a :class:`~streams.matching.codes.Code`; an
  exception out of :meth:`~MatchingEngine.process` means a broken invariant.
* **Fast.** Integer ticks and lots, typed resting-order records, a dict of deques per side
  and sorted key lists (see :mod:`streams.matching.book`), events built with
  ``tuple.__new__``, and the common paths (passive limit add, cancel, the sweep) written
  flat with their state in locals. That costs some repetition; ``benchmarks/matching_core.py``
  is the reason. This module and the book are compiled with mypyc when the project is
  installed (``setup.py``) and run unchanged as Python without the extension; hence the
  ``type(x) is T`` tests (``Py_TYPE`` compiled), the ``Final`` names for classes, codes and
  helpers (C statics compiled, where other globals are dict lookups), and command fields
  read as ``Any`` until checked (a typed read of a junk field would raise when compiled).
  Compiled, an ``int`` local or attribute is unboxed and every use in an event tuple boxes
  it again (a new object above 256): ints that go into several events are held once as
  ``object`` (``_ts``, the clock as events carry it; the sweep's ``b_*`` locals). And
  nothing kept per order is a GC-tracked container where a string does (client-id keys,
  see ``_client_key``): tracked survivors make the collector run, and scan the events a
  batch holds. :meth:`~MatchingEngine.process_many` is the batch entry point an agent
  should use.

Semantics in one place:

* Trades happen at the maker's price; each fill emits ``TradeExecuted``, then the maker's and
  the taker's ``OrderPartiallyFilled``/``OrderFilled``.
* Market orders never trade through their protection price (given, or the best opposite
  price at arrival moved by ``market_protection_bps``); the rest is cancelled
  (``MARKET_REMAINDER``).
* FOK checks the whole quantity is available before the first fill (self-trade prevention
  included); otherwise it is cancelled with ``FOK_NOT_FILLABLE`` and nothing trades.
* Post-only either rejects a crossing order or re-prices it one tick behind the best
  opposite price; an amend that would make it cross is rejected.
* Iceberg: only ``display_qty`` is visible and matched per visit; when it is used up the
  order refreshes from the hidden part and goes to the back of its level.
* Stops fire when the trigger price (last trade or mark) reaches ``stop_price``; a stop that
  would fire on arrival is rejected. Trailing stops follow the last trade at
  ``trailing_offset`` ticks. Stops that fire together run in order-id order, after the
  command that moved the price, and may fire further stops.
* Self-trade prevention uses the taker's mode when maker and taker share an account.
* Halt keeps the book and accepts cancels only (stops fire on resume); expiry (command, or
  the clock passing the instrument's expiry) expires every live order and closes the book.
"""

from __future__ import annotations

from bisect import insort
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from heapq import heapify, heappop, heappush
from typing import Any, Final

from streams.instruments.catalogue import Instrument, TradingStatus
from streams.matching.book import (
    BookSide,
    DepthDelta,
    DepthSnapshot,
    Level,
    OpenOrder,
    RestingOrder,
    TopOfBook,
    new_order,
)
from streams.matching.codes import Code
from streams.matching.events import (
    CommandRejected,
    Event,
    InstrumentStatusChanged,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderTriggered,
    TradeExecuted,
)
from streams.matching.orders import (
    AdvanceTime,
    AmendOrder,
    BlockTrade,
    CancelOrder,
    Command,
    ExpireInstrument,
    HaltInstrument,
    MassCancel,
    OrderType,
    PostOnly,
    ResumeInstrument,
    Side,
    StpMode,
    SubmitOrder,
    TimeInForce,
    TriggerSource,
    UpdateMark,
    command_from_dict,
    command_to_dict,
)
from streams.matching.reduce_only import NoPositionSource, ReduceOnlyPolicy

__all__ = ["SNAPSHOT_FORMAT", "EngineConfig", "MatchingEngine", "MatchingError", "StopOrder"]

#: Version of the :meth:`MatchingEngine.to_snapshot` layout.
SNAPSHOT_FORMAT = 1
_NEVER: Final = 1 << 126

# Enum members bound once: identity tests against module constants are the cheapest checks
# (hashing an Enum member calls Python code, so enums are never used as dict/set keys here).
_BUY: Final = Side.BUY
_SELL: Final = Side.SELL
_LIMIT: Final = OrderType.LIMIT
_MARKET: Final = OrderType.MARKET
_STOP_MARKET: Final = OrderType.STOP_MARKET
_STOP_LIMIT: Final = OrderType.STOP_LIMIT
_TRAILING: Final = OrderType.TRAILING_STOP
_GTC: Final = TimeInForce.GTC
_GTD: Final = TimeInForce.GTD
_IOC: Final = TimeInForce.IOC
_FOK: Final = TimeInForce.FOK
_PO_NONE: Final = PostOnly.NONE
_PO_REJECT: Final = PostOnly.REJECT
_PO_REPRICE: Final = PostOnly.REPRICE
_LAST: Final = TriggerSource.LAST
_MARK: Final = TriggerSource.MARK
_STP_NONE: Final = StpMode.NONE
_STP_NEWEST: Final = StpMode.CANCEL_NEWEST
_STP_OLDEST: Final = StpMode.CANCEL_OLDEST
_TRADING: Final = TradingStatus.TRADING
_HALTED: Final = TradingStatus.HALTED
_EXPIRED: Final = TradingStatus.EXPIRED
# Result codes, event and command classes and helpers bound once as Final names: compiled
# (mypyc) a Final module name is a C static, while any other global is a dict lookup per use.
_CANCELLED_BY_USER: Final[Code] = Code.CANCELLED_BY_USER
_DUPLICATE_CLIENT_ORDER_ID: Final[Code] = Code.DUPLICATE_CLIENT_ORDER_ID
_SELF_TRADE_PREVENTED: Final[Code] = Code.SELF_TRADE_PREVENTED
_IOC_REMAINDER: Final[Code] = Code.IOC_REMAINDER
_FOK_NOT_FILLABLE: Final[Code] = Code.FOK_NOT_FILLABLE
_UNKNOWN_ORDER: Final[Code] = Code.UNKNOWN_ORDER
_ACCEPTED: Final = OrderAccepted
_REJECTED: Final = OrderRejected
_TRIGGERED: Final = OrderTriggered
_PARTIALLY_FILLED: Final = OrderPartiallyFilled
_FILLED: Final = OrderFilled
_TRADE: Final = TradeExecuted
_CANCELLED: Final = OrderCancelled
_EXPIRED_EVENT: Final = OrderExpired
_AMENDED: Final = OrderAmended
_COMMAND_REJECTED: Final = CommandRejected
_STATUS_CHANGED: Final = InstrumentStatusChanged
_SUBMIT: Final = SubmitOrder
_CANCEL: Final = CancelOrder
_AMEND: Final = AmendOrder
_insort: Final = insort
# Events are NamedTuples; tuple.__new__ skips their generated Python-level __new__ (a unit
# test checks every emitted event's arity against its _fields).
_new: Final[Any] = tuple.__new__


def _client_key(account_id: str, client_order_id: str) -> str:
    """Key of ``(account_id, client_order_id)`` in the client-id windows; the length prefix
    makes it unambiguous. A string because the garbage collector does not track strings: a
    tuple key was one tracked allocation kept per order, which set off most young-generation
    collections; those then promoted the events a ``process_many`` batch holds, and enough
    promotions forced full collections (``benchmarks/matching_core.py``, batch=500: one full
    collection of the whole heap per run, ~0.15 s; 284k -> 380k orders/s without it)."""
    return f"{len(account_id)}:{account_id}{client_order_id}"


def _split_client_key(key: str) -> tuple[str, str]:
    """``(account_id, client_order_id)`` back from :func:`_client_key`."""
    size, _, rest = key.partition(":")
    n = int(size)
    return rest[:n], rest[n:]


class MatchingError(Exception):
    """Base error of the matching package: raised for broken invariants or a corrupt
    snapshot, never for bad input (bad input becomes a reject event)."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Static settings of one engine. ``min_qty`` in lots; ``expiry_ts`` in ns; windows in
    number of ids remembered for deduplication (at least that many, at most twice)."""

    instrument_id: str
    min_qty: int = 1
    expiry_ts: int | None = None
    market_protection_bps: int = 500
    command_window: int = 100_000
    client_id_window: int = 100_000
    initial_status: TradingStatus = TradingStatus.TRADING

    @classmethod
    def from_instrument(cls, instrument: Instrument, **overrides: Any) -> EngineConfig:
        """Grid and lifetime from the catalogue entry."""
        base = cls(
            instrument_id=instrument.instrument_id,
            min_qty=instrument.min_lots,
            expiry_ts=instrument.expiry_ns,
            initial_status=instrument.status,
        )
        return replace(base, **overrides)


class StopOrder:
    """An accepted stop waiting for its trigger. ``anchor`` is the best price a trailing
    stop has seen (high for a sell, low for a buy); ``None`` for plain stops."""

    __slots__ = ("anchor", "order_id", "spec", "stop_price")

    def __init__(
        self, order_id: int, spec: SubmitOrder, stop_price: int, anchor: int | None
    ) -> None:
        self.order_id = order_id
        self.spec = spec
        self.stop_price = stop_price
        self.anchor = anchor


class MatchingEngine:
    """Central limit order book and order lifecycle for one instrument."""

    def __init__(self, config: EngineConfig, reduce_only: ReduceOnlyPolicy | None = None) -> None:
        if config.min_qty < 1 or config.command_window < 1 or config.client_id_window < 1:
            raise MatchingError("min_qty and windows must be >= 1")
        self.config = config
        self.instrument_id = config.instrument_id
        self._min_qty = config.min_qty
        self._protection_bps = config.market_protection_bps
        self._command_window = config.command_window
        self._inst_expiry = config.expiry_ts if config.expiry_ts is not None else _NEVER
        self._reduce_only = reduce_only if reduce_only is not None else NoPositionSource()
        self._status = TradingStatus(config.initial_status)
        self._clock = 0
        # The clock again as the int object events carry: compiled, an ``int`` attribute
        # is boxed afresh (a new object above 256) for every event that includes it.
        self._ts: object = 0
        self._seq = 0
        self._cid = ""
        self._out: list[Event] = []
        self._last_price: int | None = None
        self._mark_price: int | None = None
        self.bids = BookSide(_BUY)
        self.asks = BookSide(_SELL)
        self._orders: dict[int, RestingOrder] = {}
        self._stops: dict[int, StopOrder] = {}
        self._trailing: dict[int, StopOrder] = {}
        self._last_buy: list[tuple[int, int]] = []
        self._last_sell: list[tuple[int, int]] = []
        self._mark_buy: list[tuple[int, int]] = []
        self._mark_sell: list[tuple[int, int]] = []
        self._fired: list[tuple[StopOrder, int, TriggerSource]] = []
        self._expiries: list[tuple[int, int]] = []
        # Command ids and client order ids are remembered in two generations: when the
        # current one reaches its limit it becomes the old one and the previous old one is
        # dropped (client ids of live orders are carried over). Deterministic, O(1) per id,
        # and it snapshots in arrival order. Command ids: a set per generation for the
        # membership test (one table, cheaper than a dict's two) and a list of the same ids
        # in arrival order; client ids: insertion-ordered dicts from _client_key(account,
        # client order id) to the order id (string keys: see _client_key).
        self._seen: set[str] = set()
        self._seen_order: list[str] = []
        self._seen_old: set[str] = set()
        self._seen_old_order: list[str] = []
        self._client_ids: dict[str, int] = {}
        self._client_ids_old: dict[str, int] = {}
        self._client_ids_limit = config.client_id_window
        self._handlers: dict[type, Callable[[Any], None]] = {
            SubmitOrder: self._on_submit,
            CancelOrder: self._on_cancel,
            AmendOrder: self._on_amend,
            MassCancel: self._on_mass_cancel,
            BlockTrade: self._on_block_trade,
            UpdateMark: self._on_mark,
            AdvanceTime: self._on_advance_time,
            HaltInstrument: self._on_halt,
            ResumeInstrument: self._on_resume,
            ExpireInstrument: self._on_expire,
        }
        self._next_deadline = _NEVER
        self._refresh_deadline()

    @classmethod
    def for_instrument(
        cls,
        instrument: Instrument,
        reduce_only: ReduceOnlyPolicy | None = None,
        **overrides: Any,
    ) -> MatchingEngine:
        """Engine configured from a catalogue entry."""
        return cls(EngineConfig.from_instrument(instrument, **overrides), reduce_only)

    # ------------------------------------------------------------------ public API
    @property
    def seq(self) -> int:
        """Sequence number of the last event emitted."""
        return self._seq

    @property
    def clock(self) -> int:
        """Engine time in ns: the largest ``ts`` seen on a command."""
        return self._clock

    @property
    def status(self) -> TradingStatus:
        return self._status

    @property
    def last_price(self) -> int | None:
        return self._last_price

    @property
    def mark_price(self) -> int | None:
        return self._mark_price

    def process(self, command: Command | Any) -> list[Event]:
        """Apply one command; returns the events it caused (empty for a repeated command).
        Anything else is answered with ``CommandRejected(UNKNOWN_COMMAND)``."""
        out: list[Event] = []
        self._out = out
        self._apply(command)
        return out

    def process_many(self, commands: Iterable[Command | Any]) -> list[Event]:
        """Apply commands in order; returns their events in order (what :meth:`process`
        would return for each, concatenated). The batch form is the fast one: a Faust agent
        hands over what ``stream.take`` gave it."""
        out: list[Event] = []
        self._out = out
        apply = self._apply
        for command in commands:
            apply(command)
        return out

    def _apply(self, command: Any) -> None:
        """One command, its events appended to ``self._out``. ``command`` is typed loosely
        on purpose: its fields are checked before they are trusted."""
        cls = type(command)
        # The three order-entry commands skip the table and are called directly (a native
        # call when compiled); the control commands go through it.
        if cls is _SUBMIT or cls is _CANCEL or cls is _AMEND:
            handler = None
        else:
            handler = self._handlers.get(cls)
            if handler is None:
                self._reject_unknown(command)
                return
        cid = command.command_id
        if type(cid) is not str:
            self._cid = repr(cid)
            self._reject_command(command, Code.INVALID_IDENTIFIER)
            return
        # Deduplication: one insert into the current generation tells a new id (the size
        # grows) from one seen in it; the previous generation is then only looked up.
        seen = self._seen
        size = len(seen)
        seen.add(cid)
        if len(seen) == size:
            return
        self._seen_order.append(cid)
        if cid in self._seen_old:
            return
        if size + 1 >= self._command_window:
            self._seen_old = seen
            self._seen_old_order = self._seen_order
            self._seen = set()
            self._seen_order = []
        self._cid = cid
        ts = command.ts
        if type(ts) is not int:
            self._reject_command(command, Code.INVALID_TIMESTAMP)
            return
        if command.instrument_id != self.instrument_id:
            self._reject_command(command, Code.WRONG_INSTRUMENT)
            return
        if ts > self._clock:
            self._clock = ts
            self._ts = ts
            if ts >= self._next_deadline:
                self._run_deadlines()
        if handler is not None:
            handler(command)
        elif cls is _SUBMIT:
            self._on_submit(command)
        elif cls is _CANCEL:
            self._on_cancel(command)
        else:
            self._on_amend(command)

    def top_of_book(self) -> TopOfBook:
        bid, ask = self.bids.best_price(), self.asks.best_price()
        return TopOfBook(
            self.instrument_id,
            self._seq,
            bid,
            self.bids.levels[bid].qty if bid is not None else 0,
            ask,
            self.asks.levels[ask].qty if ask is not None else 0,
        )

    def depth(self, levels: int | None = 10) -> DepthSnapshot:
        """Aggregated visible depth, best ``levels`` per side (all when ``None``)."""
        return DepthSnapshot(
            self.instrument_id, self._seq, self.bids.depth(levels), self.asks.depth(levels)
        )

    def take_depth_deltas(self) -> list[DepthDelta]:
        """Levels changed since the previous call, as absolute states stamped with the current
        ``seq`` (bids first, each side in order of first change). Call once per batch."""
        out: list[DepthDelta] = []
        seq, iid = self._seq, self.instrument_id
        for side in (self.bids, self.asks):
            levels = side.levels
            for price in side.dirty:
                level = levels.get(price)
                if level is None:
                    out.append(DepthDelta(iid, seq, side.side, price, 0, 0))
                else:
                    out.append(DepthDelta(iid, seq, side.side, price, level.qty, level.count))
            side.clear_dirty()
        return out

    def open_orders(self) -> list[OpenOrder]:
        """Live resting orders (bids then asks, priority order) then pending stops (by id)."""
        views = []
        for side in (self.bids, self.asks):
            for o in side.live_orders():
                s = o.spec
                views.append(
                    OpenOrder(
                        o.order_id, s.account_id, s.client_order_id, s.side, s.order_type.value,
                        o.price, s.stop_price, o.qty, o.leaves, o.visible,
                    )
                )  # fmt: skip
        for oid in sorted(self._stops):
            stop = self._stops[oid]
            s = stop.spec
            views.append(
                OpenOrder(
                    oid, s.account_id, s.client_order_id, s.side, s.order_type.value,
                    s.price, stop.stop_price, s.qty, s.qty, 0,
                )
            )  # fmt: skip
        return views

    # ------------------------------------------------------------------ rejects
    def _reject_unknown(self, command: object) -> None:
        cid = getattr(command, "command_id", "")
        self._cid = cid if isinstance(cid, str) else repr(cid)
        self._seq += 1
        self._out.append(
            _new(_COMMAND_REJECTED, (
                self.instrument_id, self._seq, self._cid, self._clock,
                type(command).__name__, None, None, None, Code.UNKNOWN_COMMAND,
            ))
        )  # fmt: skip

    def _reject_command(self, command: Any, code: Code) -> None:
        self._seq += 1
        cls = type(command)  # not narrowing ``command``: its fields may be junk
        if cls is SubmitOrder:
            self._out.append(
                _new(_REJECTED, (
                    self.instrument_id, self._seq, self._cid, self._clock, command.account_id,
                    command.client_order_id, code,
                ))
            )  # fmt: skip
            return
        self._out.append(
            _new(_COMMAND_REJECTED, (
                self.instrument_id, self._seq, self._cid, self._clock,
                type(command).__name__,
                getattr(command, "account_id", None),
                getattr(command, "order_id", None),
                getattr(command, "client_order_id", None),
                code,
            ))
        )  # fmt: skip

    def _reject_block(self, command: Any, code: Code) -> None:
        """A refused block-trade leg: the taker's rejection, then the maker's (same command,
        the maker's account and client order id), so each side's hold is released."""
        self._reject_command(command, code)
        maker, maker_coid = command.maker_account_id, command.maker_client_order_id
        if type(maker) is str and type(maker_coid) is str:
            self._seq += 1
            self._out.append(
                _new(_COMMAND_REJECTED, (
                    self.instrument_id, self._seq, self._cid, self._clock,
                    type(command).__name__, maker, None, maker_coid, code,
                ))
            )  # fmt: skip

    # ------------------------------------------------------------------ submit
    def _check_state(self, c: Any) -> Any:
        """Checks of a structurally valid order that depend on the engine (the structural
        ones ran when the command was built); 0 when it may be accepted."""
        status = self._status
        if status is not _TRADING:
            return Code.INSTRUMENT_HALTED if status is _HALTED else Code.INSTRUMENT_EXPIRED
        min_qty = self._min_qty
        if c.qty < min_qty:
            return Code.INVALID_QUANTITY
        if c.display_qty is not None and c.display_qty < min_qty:
            return Code.INVALID_DISPLAY_QTY
        if c.time_in_force is _GTD and c.expire_ts <= self._clock:  # type: ignore[operator]
            return Code.INVALID_EXPIRE_TIME
        if c.reduce_only:
            allowed = self._reduce_only.reducible_qty(self.instrument_id, c.account_id, c.side)
            if allowed is None:
                return Code.REDUCE_ONLY_UNAVAILABLE
            if c.qty > allowed:
                return Code.REDUCE_ONLY_WOULD_INCREASE
        return 0

    def _on_submit(self, c: SubmitOrder) -> None:
        if c.plain and self._status is _TRADING:
            qty = c.qty
            if qty >= self._min_qty:
                self._submit_plain(c, qty)
                return
        self._submit_checked(c)

    def _submit_plain(self, c: SubmitOrder, qty: int) -> None:
        """Fast path, written out flat: a valid GTC limit order on a trading book (``plain``
        means the structure checks passed, so ``price`` is a positive int)."""
        account = c.account_id
        coid = c.client_order_id
        key = _client_key(account, coid)
        ids = self._client_ids
        oid = self._seq + 1
        # One probe both checks the current generation and claims the id there; the
        # previous generation is only looked up (and the claim undone if it knew the id).
        if ids.setdefault(key, oid) != oid:
            self._reject_command(c, _DUPLICATE_CLIENT_ORDER_ID)
            return
        if key in self._client_ids_old:
            del ids[key]
            self._reject_command(c, _DUPLICATE_CLIENT_ORDER_ID)
            return
        self._seq = oid
        price: int = c.price  # type: ignore[assignment]
        side = c.side
        b_oid: object = oid  # boxed once for both fields (see _sweep)
        self._out.append(
            _new(_ACCEPTED, (
                self.instrument_id, b_oid, self._cid, self._ts, b_oid, account, coid, side,
                _LIMIT, _GTC, price, None, qty,
            ))
        )  # fmt: skip
        if len(ids) >= self._client_ids_limit:
            self._rotate_client_ids()
        order = RestingOrder(qty, qty, price, qty, oid, account, coid, c)
        if side is _BUY:
            opp, own, limit_key, own_key = self.asks, self.bids, -price, price
        else:
            opp, own, limit_key, own_key = self.bids, self.asks, price, -price
        keys = opp.keys
        if keys and keys[-1] >= limit_key:
            self._take_limit(order, opp, limit_key, _GTC)
            if self._stops or self._fired:
                self._run_triggers()
            return
        levels = own.levels
        level = levels.get(price)
        if level is None:
            level = levels[price] = Level()
            _insort(own.keys, own_key)
        level.orders.append(order)
        level.count += 1
        level.qty += qty
        if not level.marked:
            level.marked = True
            own.dirty[price] = None
        self._orders[oid] = order

    def _submit_checked(self, c: Any) -> None:
        """Every other submission: structure verdict, state checks, then by order type."""
        code = c.structure_error or self._check_state(c)
        if code:
            self._reject_command(c, code)  # type: ignore[arg-type]
            return
        key = _client_key(c.account_id, c.client_order_id)
        ids = self._client_ids
        if key in ids or key in self._client_ids_old:
            self._reject_command(c, _DUPLICATE_CLIENT_ORDER_ID)
            return
        ot = c.order_type
        side = c.side
        price = c.price
        stop_price = c.stop_price
        anchor = None
        if ot is _LIMIT:
            if c.post_only is not _PO_NONE:
                if side is _BUY:
                    best = self.asks.best_price()
                    crosses = best is not None and price >= best  # type: ignore[operator]
                    new_price = best - 1 if crosses else price  # type: ignore[operator]
                else:
                    best = self.bids.best_price()
                    crosses = best is not None and price <= best  # type: ignore[operator]
                    new_price = best + 1 if crosses else price  # type: ignore[operator]
                if crosses:
                    if c.post_only is _PO_REJECT or new_price <= 0:  # type: ignore[operator]
                        self._reject_command(c, Code.POST_ONLY_WOULD_TAKE)
                        return
                    price = new_price
        elif ot is not _MARKET:
            if ot is _TRAILING:
                last = self._last_price
                if last is None:
                    self._reject_command(c, Code.NO_REFERENCE_PRICE)
                    return
                anchor = last
                offset = c.trailing_offset
                stop_price = last - offset if side is _SELL else last + offset  # type: ignore[operator]
                if stop_price <= 0:
                    self._reject_command(c, Code.INVALID_TRAILING_OFFSET)
                    return
            else:
                ref = self._last_price if c.trigger is _LAST else self._mark_price
                if ref is not None and (ref >= stop_price if side is _BUY else ref <= stop_price):  # type: ignore[operator]
                    self._reject_command(c, Code.STOP_WOULD_TRIGGER_IMMEDIATELY)
                    return
        # Accepted: the order id is the seq of this event.
        self._seq = oid = self._seq + 1
        qty = c.qty
        tif = c.time_in_force
        self._out.append(
            _new(_ACCEPTED, (
                self.instrument_id, oid, self._cid, self._ts, oid, c.account_id,
                c.client_order_id, side, ot, tif, price, stop_price, qty,
            ))
        )  # fmt: skip
        ids[key] = oid
        if len(ids) >= self._client_ids_limit:
            self._rotate_client_ids()
        if ot is _LIMIT:
            self._run_limit(
                RestingOrder(qty, 0, price, qty, oid, c.account_id, c.client_order_id, c),  # type: ignore[arg-type]
                tif,
            )
        elif ot is _MARKET:
            self._run_market(new_order(oid, c, 0, qty, qty))
        else:
            self._add_stop(StopOrder(oid, c, stop_price, anchor))  # type: ignore[arg-type]
            return
        if self._stops or self._fired:
            self._run_triggers()

    def _rotate_client_ids(self) -> None:
        """Start a new generation; ids of still-live orders are carried over, never lost."""
        orders, stops = self._orders, self._stops
        carried = {
            key: oid for key, oid in self._client_ids_old.items() if oid in orders or oid in stops
        }
        self._client_ids_old = self._client_ids
        self._client_ids = carried
        self._client_ids_limit = len(carried) + self.config.client_id_window

    # ------------------------------------------------------------------ execution
    def _take_limit(
        self, order: RestingOrder, opp: BookSide, limit_key: int, tif: TimeInForce
    ) -> None:
        """A crossing limit order: FOK check, sweep, then rest or cancel the remainder."""
        if tif is _FOK and not self._fillable(opp, limit_key, order.spec, order.leaves):
            self._cancel_taker(order, _FOK_NOT_FILLABLE)
            return
        if self._sweep(order, opp, limit_key) or not order.leaves:
            return
        if tif is _GTC or tif is _GTD:
            self._rest(order)
        else:
            self._cancel_taker(order, _IOC_REMAINDER if tif is _IOC else _FOK_NOT_FILLABLE)

    def _run_limit(self, order: RestingOrder, tif: TimeInForce) -> None:
        """Match a limit order (a fired stop-limit), then rest or cancel the remainder."""
        price = order.price
        if order.side is _BUY:
            opp, limit_key = self.asks, -price
        else:
            opp, limit_key = self.bids, price
        keys = opp.keys
        if keys and keys[-1] >= limit_key:
            self._take_limit(order, opp, limit_key, tif)
        elif tif is _GTC or tif is _GTD:
            self._rest(order)
        else:
            self._cancel_taker(order, _IOC_REMAINDER if tif is _IOC else _FOK_NOT_FILLABLE)

    def _run_market(self, order: RestingOrder) -> None:
        """Match a market (or fired stop-market) order inside its protection price."""
        spec = order.spec
        if spec.side is _BUY:
            opp = self.asks
            best = opp.best_price()
            if best is None:
                self._cancel_taker(order, Code.MARKET_NO_LIQUIDITY)
                return
            prot = spec.protection_price
            if prot is None:
                prot = best + max(1, best * self._protection_bps // 10_000)
            limit_key = -prot
        else:
            opp = self.bids
            best = opp.best_price()
            if best is None:
                self._cancel_taker(order, Code.MARKET_NO_LIQUIDITY)
                return
            prot = spec.protection_price
            if prot is None:
                prot = max(1, best - max(1, best * self._protection_bps // 10_000))
            limit_key = prot
        if opp.keys[-1] < limit_key:
            self._cancel_taker(order, Code.MARKET_REMAINDER)
            return
        if spec.time_in_force is _FOK and not self._fillable(opp, limit_key, spec, order.leaves):
            self._cancel_taker(order, _FOK_NOT_FILLABLE)
            return
        if self._sweep(order, opp, limit_key) or not order.leaves:
            return
        self._cancel_taker(order, Code.MARKET_REMAINDER)

    @staticmethod
    def _fillable(opp: BookSide, limit_key: int, spec: SubmitOrder, need: int) -> bool:
        """Whether ``need`` lots can trade within ``limit_key``: a dry run of :meth:`_sweep`
        on copies, so iceberg refreshes (which go behind later orders, possibly the taker's
        own) and self-trade prevention play out exactly as they would. No side effects."""
        stp = spec.stp
        stp_on = stp is not _STP_NONE
        account = spec.account_id
        levels, sign, keys = opp.levels, opp.sign, opp.keys
        for i in range(len(keys) - 1, -1, -1):
            key = keys[i]
            if key < limit_key:
                break
            queue = deque(
                (o.leaves, o.visible, o.spec.display_qty, o.account_id)
                for o in levels[sign * key].orders
            )
            while queue:
                leaves, visible, display, maker_account = queue.popleft()
                if not leaves:
                    continue
                if stp_on and maker_account == account:
                    if stp is _STP_OLDEST:
                        continue
                    return False
                fill = need if need < visible else visible
                need -= fill
                if not need:
                    return True
                leaves -= fill
                if leaves:  # an iceberg refreshes at the back of the level
                    refreshed = display if display < leaves else leaves  # type: ignore[operator]
                    queue.append((leaves, refreshed, display, maker_account))  # type: ignore[arg-type]
        return False

    def _sweep(self, taker: RestingOrder, opp: BookSide, limit_key: int) -> bool:
        """Trade ``taker`` against ``opp`` while level keys are ``>= limit_key``.

        Updates the taker's leaves; returns True when self-trade prevention cancelled the
        taker (its ``OrderCancelled`` already emitted). The hot loop of the engine, with its
        state in locals.
        """
        out = self._out
        iid = self.instrument_id
        cid = self._cid
        # Ints that go into several events are boxed once (``object`` locals; compiled, each
        # use of an ``int`` in a tuple boxes it again, a new object above 256).
        b_ts = self._ts
        orders = self._orders
        keys = opp.keys
        levels = opp.levels
        sign = opp.sign
        dirty = opp.dirty
        t_oid = taker.order_id
        b_t_oid: object = t_oid
        t_acct = taker.account_id
        t_coid = taker.client_order_id
        spec = taker.spec
        t_side = spec.side
        m_side = _SELL if t_side is _BUY else _BUY
        stp = spec.stp
        stp_on = stp is not _STP_NONE
        leaves = taker.leaves
        seq = self._seq
        first = 0
        price = 0
        killed = False
        while leaves and keys:
            key = keys[-1]
            if key < limit_key:
                break
            price = sign * key
            b_price: object = price
            level = levels[price]
            queue = level.orders
            if not level.marked:
                level.marked = True
                dirty[price] = None
            while leaves and level.count:
                maker = queue[0]
                m_leaves = maker.leaves
                if not m_leaves:
                    queue.popleft()  # dead entry left by a cancel
                    continue
                m_acct = maker.account_id
                if stp_on and m_acct == t_acct:
                    if stp is not _STP_NEWEST:  # oldest or both: the resting order goes
                        queue.popleft()
                        level.count -= 1
                        level.qty -= maker.visible
                        maker.leaves = 0
                        del orders[maker.order_id]
                        seq += 1
                        out.append(
                            _new(_CANCELLED, (
                                iid, seq, cid, b_ts, maker.order_id, m_acct, maker.client_order_id,
                                m_leaves,
                                _SELF_TRADE_PREVENTED,
                            ))
                        )  # fmt: skip
                    if stp is not _STP_OLDEST:  # newest or both: the taker goes
                        killed = True
                        break
                    continue
                if not first:
                    first = price
                visible = maker.visible
                fill = leaves if leaves < visible else visible
                leaves -= fill
                m_leaves -= fill
                visible -= fill
                maker.leaves = m_leaves
                maker.visible = visible
                level.qty -= fill
                seq += 1
                trade_seq: object = seq
                m_oid = maker.order_id
                b_m_oid: object = m_oid
                b_fill: object = fill
                out.append(
                    _new(_TRADE, (
                        iid, trade_seq, cid, b_ts, b_price, b_fill, t_side, b_m_oid, b_t_oid,
                        m_acct, t_acct,
                    ))
                )  # fmt: skip
                seq += 1
                if m_leaves:
                    out.append(
                        _new(_PARTIALLY_FILLED, (
                            iid, seq, cid, b_ts, b_m_oid, m_acct, maker.client_order_id,
                            m_side, trade_seq, b_price, b_fill, m_leaves, True,
                        ))
                    )  # fmt: skip
                    if not visible:  # iceberg refresh: back of the queue
                        queue.popleft()
                        display = maker.spec.display_qty
                        visible = display if display < m_leaves else m_leaves  # type: ignore[assignment, operator]
                        maker.visible = visible
                        level.qty += visible
                        queue.append(maker)
                else:
                    out.append(
                        _new(_FILLED, (
                            iid, seq, cid, b_ts, b_m_oid, m_acct, maker.client_order_id,
                            m_side, trade_seq, b_price, b_fill, 0, True,
                        ))
                    )  # fmt: skip
                    queue.popleft()
                    level.count -= 1
                    del orders[m_oid]
                seq += 1
                out.append(
                    _new(_PARTIALLY_FILLED if leaves else _FILLED, (
                        iid, seq, cid, b_ts, b_t_oid, t_acct, t_coid, t_side, trade_seq,
                        b_price, b_fill, leaves, False,
                    ))
                )  # fmt: skip
            if not level.count:
                del levels[price]
                keys.pop()
            if killed:
                break
        self._seq = seq
        taker.leaves = leaves
        if first:
            self._note_trades(first, price)
        if killed:
            self._cancel_taker(taker, _SELF_TRADE_PREVENTED)
        return killed

    def _cancel_taker(self, order: RestingOrder, code: Code) -> None:
        self._seq += 1
        self._out.append(
            _new(_CANCELLED, (
                self.instrument_id, self._seq, self._cid, self._ts, order.order_id,
                order.account_id, order.client_order_id, order.leaves, code,
            ))
        )  # fmt: skip

    def _rest(self, order: RestingOrder) -> None:
        """Put the unfilled part of a limit order at the back of its level."""
        spec = order.spec
        leaves = order.leaves
        display = spec.display_qty
        visible = leaves if display is None or display >= leaves else display
        order.visible = visible
        price = order.price
        if spec.side is _BUY:
            side = self.bids
            key = price
        else:
            side = self.asks
            key = -price
        levels = side.levels
        level = levels.get(price)
        if level is None:
            level = levels[price] = Level()
            _insort(side.keys, key)
        level.orders.append(order)
        level.count += 1
        level.qty += visible
        if not level.marked:
            level.marked = True
            side.dirty[price] = None
        self._orders[order.order_id] = order
        if spec.time_in_force is _GTD:
            self._push_expiry(spec.expire_ts, order.order_id)  # type: ignore[arg-type]

    def _push_expiry(self, expire_ts: int, order_id: int) -> None:
        heappush(self._expiries, (expire_ts, order_id))
        if expire_ts < self._next_deadline:
            self._next_deadline = expire_ts

    def _unlink(self, order: RestingOrder) -> int:
        """Remove a live resting order from the book; returns its leaves."""
        leaves = order.leaves
        (self.bids if order.side is _BUY else self.asks).unlink(order)
        del self._orders[order.order_id]
        return leaves

    # ------------------------------------------------------------------ stops
    def _add_stop(self, stop: StopOrder) -> None:
        oid = stop.order_id
        spec = stop.spec
        self._stops[oid] = stop
        if spec.order_type is _TRAILING:
            self._trailing[oid] = stop
        else:
            self._push_stop(stop)
        if spec.time_in_force is _GTD:
            self._push_expiry(spec.expire_ts, oid)  # type: ignore[arg-type]

    def _push_stop(self, stop: StopOrder) -> None:
        """Buy stops fire at ``price >= stop``: min-heap on stop. Sell stops fire at
        ``price <= stop``: min-heap on ``-stop``. Cancelled stops are skipped lazily."""
        spec = stop.spec
        on_last = spec.trigger is _LAST
        if spec.side is _BUY:
            heap = self._last_buy if on_last else self._mark_buy
            heappush(heap, (stop.stop_price, stop.order_id))
        else:
            heap = self._last_sell if on_last else self._mark_sell
            heappush(heap, (-stop.stop_price, stop.order_id))

    def _remove_stop(self, oid: int) -> StopOrder:
        stop = self._stops.pop(oid)
        self._trailing.pop(oid, None)
        return stop

    def _note_trades(self, first: int, last: int) -> None:
        """Record a sweep's first and last trade prices; move trailing stops.

        A sweep moves the price monotonically, so ``first``/``last`` bound every price it
        traded at: a sell trailing stop first raises its high to ``first``, fires if the low
        fell ``offset`` below that high, else raises its high to ``last`` (mirror for buys).
        """
        self._last_price = last
        if not self._trailing:
            return
        low, high = (first, last) if first <= last else (last, first)
        fired = []
        for stop in self._trailing.values():
            offset = stop.spec.trailing_offset
            if stop.spec.side is _SELL:
                anchor = max(stop.anchor, first)  # type: ignore[type-var]
                if low <= anchor - offset:  # type: ignore[operator]
                    fired.append((stop, low))
                    continue
                stop.anchor = max(anchor, last)  # type: ignore[type-var]
                stop.stop_price = stop.anchor - offset  # type: ignore[operator]
            else:
                anchor = min(stop.anchor, first)  # type: ignore[type-var]
                if high >= anchor + offset:  # type: ignore[operator]
                    fired.append((stop, high))
                    continue
                stop.anchor = min(anchor, last)  # type: ignore[type-var]
                stop.stop_price = stop.anchor + offset  # type: ignore[operator]
        for stop, price in fired:
            self._remove_stop(stop.order_id)
            self._fired.append((stop, price, _LAST))

    @staticmethod
    def _pop_due(
        heap: list[tuple[int, int]], bound: int, stops: dict[int, StopOrder]
    ) -> list[StopOrder]:
        due = []
        while heap and heap[0][0] <= bound:
            stop = stops.get(heappop(heap)[1])
            if stop is not None:
                due.append(stop)
        return due

    def _collect_fired(self) -> list[tuple[StopOrder, int, TriggerSource]]:
        fired = self._fired
        self._fired = []
        stops = self._stops
        last = self._last_price
        if last is not None:
            for stop in self._pop_due(self._last_buy, last, stops):
                fired.append((stop, last, _LAST))
            for stop in self._pop_due(self._last_sell, -last, stops):
                fired.append((stop, last, _LAST))
        mark = self._mark_price
        if mark is not None:
            for stop in self._pop_due(self._mark_buy, mark, stops):
                fired.append((stop, mark, _MARK))
            for stop in self._pop_due(self._mark_sell, -mark, stops):
                fired.append((stop, mark, _MARK))
        for stop, _, _ in fired:
            stops.pop(stop.order_id, None)
            self._trailing.pop(stop.order_id, None)
        fired.sort(key=lambda item: item[0].order_id)
        return fired

    def _run_triggers(self) -> None:
        """Fire every stop whose trigger is reached, in order-id order, until none is."""
        if self._status is not _TRADING:
            return
        while True:
            fired = self._collect_fired()
            if not fired:
                return
            for stop, price, source in fired:
                spec = stop.spec
                oid = stop.order_id
                self._seq += 1
                self._out.append(
                    _new(_TRIGGERED, (
                        self.instrument_id, self._seq, self._cid, self._clock, oid,
                        spec.account_id, spec.client_order_id, price, source,
                    ))
                )  # fmt: skip
                qty = spec.qty
                if spec.order_type is _STOP_LIMIT:
                    self._run_limit(new_order(oid, spec, spec.price, qty, qty), spec.time_in_force)  # type: ignore[arg-type]
                else:
                    self._run_market(new_order(oid, spec, 0, qty, qty))

    # ------------------------------------------------------------------ time
    def _run_deadlines(self) -> None:
        """Expire GTD orders due by the clock (in time order), then the instrument."""
        clock = self._clock
        heap = self._expiries
        inst_expiry = self._inst_expiry
        while heap and heap[0][0] <= clock and heap[0][0] < inst_expiry:
            oid = heappop(heap)[1]
            order = self._orders.get(oid)
            if order is not None:
                spec = order.spec
                leaves = self._unlink(order)
            elif oid in self._stops:
                spec = self._remove_stop(oid).spec
                leaves = spec.qty
            else:
                continue
            self._seq += 1
            self._out.append(
                _new(_EXPIRED_EVENT, (
                    self.instrument_id, self._seq, self._cid, clock, oid, spec.account_id,
                    spec.client_order_id, leaves, Code.GTD_EXPIRED,
                ))
            )  # fmt: skip
        if clock >= inst_expiry and self._status is not _EXPIRED:
            self._expire_instrument()
        self._refresh_deadline()

    def _refresh_deadline(self) -> None:
        heap = self._expiries
        nxt = heap[0][0] if heap else _NEVER
        if self._status is not _EXPIRED and self._inst_expiry < nxt:
            nxt = self._inst_expiry
        self._next_deadline = nxt

    def _expire_instrument(self) -> None:
        self._set_status(_EXPIRED)
        for oid, spec, leaves in self._remove_all(None, None):
            self._seq += 1
            self._out.append(
                _new(_EXPIRED_EVENT, (
                    self.instrument_id, self._seq, self._cid, self._clock, oid,
                    spec.account_id, spec.client_order_id, leaves, Code.INSTRUMENT_EXPIRED,
                ))
            )  # fmt: skip
        self._expiries.clear()
        self._fired.clear()
        for heap in (self._last_buy, self._last_sell, self._mark_buy, self._mark_sell):
            heap.clear()
        self._refresh_deadline()

    def _remove_all(
        self, account_id: str | None, side: Side | None
    ) -> list[tuple[int, SubmitOrder, int]]:
        """Unlink matching live orders and stops, in order-id order (deterministic)."""
        removed = []
        for oid in sorted([*self._orders, *self._stops]):
            order = self._orders.get(oid)
            spec = order.spec if order is not None else self._stops[oid].spec
            if account_id is not None and spec.account_id != account_id:
                continue
            if side is not None and spec.side is not side:
                continue
            if order is not None:
                removed.append((oid, spec, self._unlink(order)))
            else:
                self._remove_stop(oid)
                removed.append((oid, spec, spec.qty))
        return removed

    def _set_status(self, status: TradingStatus) -> None:
        self._status = status
        self._seq += 1
        self._out.append(
            _new(
                _STATUS_CHANGED,
                (self.instrument_id, self._seq, self._cid, self._clock, status),
            )
        )

    # ------------------------------------------------------------------ cancel / amend
    def _find_live(self, c: Any) -> RestingOrder | StopOrder | Code:
        """The caller's live order (resting record or stop), or a reject code."""
        oid = c.order_id
        coid = c.client_order_id
        if oid is None:
            if coid is None:
                return Code.MISSING_ORDER_REFERENCE
            if type(coid) is not str or type(c.account_id) is not str:
                return Code.INVALID_IDENTIFIER
            key = _client_key(c.account_id, coid)
            oid = self._client_ids.get(key)
            if oid is None:
                oid = self._client_ids_old.get(key)
                if oid is None:
                    return _UNKNOWN_ORDER
        elif type(oid) is not int:
            return Code.INVALID_IDENTIFIER
        order = self._orders.get(oid)
        if order is not None:
            if order.account_id != c.account_id or (
                coid is not None and order.client_order_id != coid
            ):
                return _UNKNOWN_ORDER
            return order
        stop = self._stops.get(oid)
        if stop is None:
            return _UNKNOWN_ORDER
        spec = stop.spec
        if spec.account_id != c.account_id or (coid is not None and spec.client_order_id != coid):
            return _UNKNOWN_ORDER
        return stop

    def _on_cancel(self, c: Any) -> None:
        coid = c.client_order_id
        if c.order_id is None and type(coid) is str and type(c.account_id) is str:
            # Common case inlined: a resting order found by (account, client order id).
            key = _client_key(c.account_id, coid)
            oid = self._client_ids.get(key) or self._client_ids_old.get(key)
            found: Any = self._orders.get(oid) or self._find_live(c)  # type: ignore[arg-type]
        else:
            found = self._find_live(c)
        if type(found) is RestingOrder:
            order: RestingOrder = found  # type: ignore[assignment]
            oid, account, coid, leaves = (
                order.order_id,
                order.account_id,
                order.client_order_id,
                order.leaves,
            )
            # unlink (inlined: cancels are a quarter of the flow)
            side = self.bids if order.side is _BUY else self.asks
            price = order.price
            level = side.levels[price]
            level.count -= 1
            level.qty -= order.visible
            order.leaves = 0
            if not level.marked:
                level.marked = True
                side.dirty[price] = None
            if not level.count:
                side.drop_level(price)
            elif len(level.orders) > 2 * level.count + 8:
                level.compact()
            del self._orders[oid]
        elif type(found) is StopOrder:
            stop: StopOrder = found  # type: ignore[assignment]
            oid = stop.order_id
            self._remove_stop(oid)
            spec = stop.spec
            account, coid, leaves = spec.account_id, spec.client_order_id, spec.qty
        else:
            self._reject_command(c, found)  # type: ignore[arg-type]
            return
        self._seq += 1
        self._out.append(
            _new(_CANCELLED, (
                self.instrument_id, self._seq, self._cid, self._ts, oid, account, coid,
                leaves, _CANCELLED_BY_USER,
            ))
        )  # fmt: skip

    def _on_mass_cancel(self, c: Any) -> None:
        account, side = c.account_id, c.side
        if account is not None and type(account) is not str:
            self._reject_command(c, Code.INVALID_IDENTIFIER)
            return
        if side is not None and type(side) is not Side:
            self._reject_command(c, Code.INVALID_SIDE)
            return
        for oid, spec, leaves in self._remove_all(account, side):
            self._seq += 1
            self._out.append(
                _new(_CANCELLED, (
                    self.instrument_id, self._seq, self._cid, self._clock, oid,
                    spec.account_id, spec.client_order_id, leaves, Code.MASS_CANCELLED,
                ))
            )  # fmt: skip

    def _on_block_trade(self, c: Any) -> None:
        """Execute a trade agreed off the book: a trade and one fill for each side (maker
        first, as in the book), order ids from the engine's sequence like any order's. The
        book and the last price do not move (a block is not the market's price). A refusal
        answers both sides (risk holds each side's part until told)."""
        status = self._status
        if status is not _TRADING:
            code = Code.INSTRUMENT_HALTED if status is _HALTED else Code.INSTRUMENT_EXPIRED
            self._reject_block(c, code)
            return
        side, qty, price = c.side, c.qty, c.price
        taker, maker = c.account_id, c.maker_account_id
        if (
            type(taker) is not str
            or type(maker) is not str
            or type(c.client_order_id) is not str
            or type(c.maker_client_order_id) is not str
        ):
            self._reject_command(c, Code.INVALID_IDENTIFIER)
            return
        if type(side) is not Side:
            self._reject_block(c, Code.INVALID_SIDE)
            return
        if type(qty) is not int or qty <= 0:
            self._reject_block(c, Code.INVALID_QUANTITY)
            return
        if type(price) is not int or price <= 0:
            self._reject_block(c, Code.INVALID_PRICE)
            return
        if taker == maker:
            self._reject_command(c, Code.BLOCK_TRADE_WITH_ITSELF)
            return
        iid, cid, ts = self.instrument_id, self._cid, self._clock
        trade_seq = seq = self._seq + 1
        m_oid, t_oid = seq + 1, seq + 2
        m_side = Side.SELL if side is Side.BUY else Side.BUY
        out = self._out
        out.append(
            _new(_TRADE, (iid, seq, cid, ts, price, qty, side, m_oid, t_oid, maker, taker))
        )  # fmt: skip
        out.append(
            _new(_FILLED, (
                iid, m_oid, cid, ts, m_oid, maker, c.maker_client_order_id, m_side,
                trade_seq, price, qty, 0, True,
            ))
        )  # fmt: skip
        out.append(
            _new(_FILLED, (
                iid, t_oid, cid, ts, t_oid, taker, c.client_order_id, side, trade_seq,
                price, qty, 0, False,
            ))
        )  # fmt: skip
        self._seq = t_oid

    def _on_amend(self, c: Any) -> None:
        status = self._status
        if status is not _TRADING:
            code = Code.INSTRUMENT_HALTED if status is _HALTED else Code.INSTRUMENT_EXPIRED
            self._reject_command(c, code)
            return
        found = self._find_live(c)
        if type(found) is Code:
            self._reject_command(c, found)  # type: ignore[arg-type]
            return
        if type(found) is not RestingOrder:
            self._reject_command(c, Code.ORDER_NOT_AMENDABLE)
            return
        order: RestingOrder = found  # type: ignore[assignment]
        old_price, old_qty, old_leaves = order.price, order.qty, order.leaves
        price = old_price if c.price is None else c.price
        qty = old_qty if c.qty is None else c.qty
        if type(price) is not int or price <= 0:
            self._reject_command(c, Code.INVALID_PRICE)
            return
        if type(qty) is not int or qty < self._min_qty:
            self._reject_command(c, Code.INVALID_QUANTITY)
            return
        filled = old_qty - old_leaves
        if qty <= filled:
            self._reject_command(c, Code.AMEND_QTY_NOT_ABOVE_FILLED)
            return
        if price == old_price and qty == old_qty:
            self._reject_command(c, Code.AMEND_NO_CHANGE)
            return
        spec = order.spec
        leaves = qty - filled
        is_buy = spec.side is _BUY
        if price == old_price and qty < old_qty:
            # A quantity decrease keeps time priority: edit in place.
            side = self.bids if is_buy else self.asks
            visible = order.visible if order.visible <= leaves else leaves
            level = side.levels[price]
            level.qty -= order.visible - visible
            order.visible = visible
            order.leaves = leaves
            order.qty = qty
            if not level.marked:
                level.marked = True
                side.dirty[price] = None
            self._emit_amended(order, True)
            return
        opp = self.asks if is_buy else self.bids
        best = opp.best_price()
        crosses = best is not None and (price >= best if is_buy else price <= best)
        if crosses and spec.post_only is not _PO_NONE:
            self._reject_command(c, Code.POST_ONLY_WOULD_TAKE)
            return
        # A price change or an increase: a fresh queue entry at the back, the old one dies.
        self._unlink(order)
        fresh = new_order(order.order_id, spec, price, qty, leaves)
        self._emit_amended(fresh, False)
        if crosses:
            killed = self._sweep(fresh, opp, -price if is_buy else price)
            if not killed and fresh.leaves:
                self._rest_amended(fresh)
            if self._stops or self._fired:
                self._run_triggers()
            return
        self._rest_amended(fresh)

    def _rest_amended(self, order: RestingOrder) -> None:
        """Rest an amended order; its GTD expiry entry ``(expire_ts, order_id)`` is still
        queued, so it is not pushed again."""
        spec = order.spec
        if spec.time_in_force is not _GTD:
            self._rest(order)
            return
        display = spec.display_qty
        leaves = order.leaves
        order.visible = leaves if display is None or display >= leaves else display
        (self.bids if spec.side is _BUY else self.asks).add(order)
        self._orders[order.order_id] = order

    def _emit_amended(self, order: RestingOrder, priority_kept: bool) -> None:
        self._seq += 1
        self._out.append(
            _new(_AMENDED, (
                self.instrument_id, self._seq, self._cid, self._ts, order.order_id,
                order.account_id, order.client_order_id, order.price, order.qty, order.leaves,
                priority_kept,
            ))
        )  # fmt: skip

    # ------------------------------------------------------------------ control
    def _on_mark(self, c: Any) -> None:
        mark = c.mark_price
        if type(mark) is not int or mark <= 0:
            self._reject_command(c, Code.INVALID_MARK_PRICE)
            return
        self._mark_price = mark
        if self._stops or self._fired:
            self._run_triggers()

    def _on_advance_time(self, c: Any) -> None:
        """The clock already moved in :meth:`process`; nothing else to do."""

    def _on_halt(self, c: Any) -> None:
        if self._status is not _TRADING:
            self._reject_command(c, Code.INVALID_STATUS_TRANSITION)
            return
        self._set_status(_HALTED)

    def _on_resume(self, c: Any) -> None:
        if self._status is not _HALTED:
            self._reject_command(c, Code.INVALID_STATUS_TRANSITION)
            return
        self._set_status(_TRADING)
        if self._stops or self._fired:
            self._run_triggers()

    def _on_expire(self, c: Any) -> None:
        if self._status is _EXPIRED:
            self._reject_command(c, Code.INVALID_STATUS_TRANSITION)
            return
        self._expire_instrument()

    # ------------------------------------------------------------------ snapshots
    def to_snapshot(self) -> dict[str, Any]:
        """The whole state as plain JSON-compatible data (str/int/bool/None/list/dict).

        Restoring it with :meth:`from_snapshot` and continuing gives the same events as
        never stopping. Resting orders are listed per level in queue order; two engines in
        the same state produce equal snapshots.
        """
        book = {}
        for name, side in (("bids", self.bids), ("asks", self.asks)):
            book[name] = [
                [
                    price,
                    [
                        [o.order_id, command_to_dict(o.spec), o.price, o.qty, o.leaves, o.visible]
                        for o in level.orders
                        if o.leaves
                    ],
                ]
                for price, level in side.iter_levels()
            ]
        config = asdict(self.config)
        config["initial_status"] = self.config.initial_status.value
        return {
            "format": SNAPSHOT_FORMAT,
            "config": config,
            "status": self._status.value,
            "clock": self._clock,
            "seq": self._seq,
            "last_price": self._last_price,
            "mark_price": self._mark_price,
            "book": book,
            "stops": [
                [oid, command_to_dict(s.spec), s.stop_price, s.anchor]
                for oid, s in sorted(self._stops.items())
            ],
            "commands": [list(self._seen_old_order), list(self._seen_order)],
            "client_ids": [
                [[*_split_client_key(key), oid] for key, oid in self._client_ids_old.items()],
                [[*_split_client_key(key), oid] for key, oid in self._client_ids.items()],
            ],
            "client_ids_limit": self._client_ids_limit,
            "dirty": {"bids": list(self.bids.dirty), "asks": list(self.asks.dirty)},
        }

    @classmethod
    def from_snapshot(
        cls, snapshot: dict[str, Any], reduce_only: ReduceOnlyPolicy | None = None
    ) -> MatchingEngine:
        """Rebuild an engine from :meth:`to_snapshot` output (raises
        :class:`MatchingError` on a snapshot that breaks the book's invariants)."""
        if snapshot.get("format") != SNAPSHOT_FORMAT:
            raise MatchingError(f"unsupported snapshot format {snapshot.get('format')!r}")
        config_data = dict(snapshot["config"])
        config_data["initial_status"] = TradingStatus(config_data["initial_status"])
        engine = cls(EngineConfig(**config_data), reduce_only)
        engine._status = TradingStatus(snapshot["status"])
        engine._clock = engine._ts = snapshot["clock"]
        engine._seq = snapshot["seq"]
        engine._last_price = snapshot["last_price"]
        engine._mark_price = snapshot["mark_price"]
        expiries = []
        for name, side in (("bids", engine.bids), ("asks", engine.asks)):
            for price, entries in snapshot["book"][name]:
                for oid, spec_data, o_price, qty, leaves, visible in entries:
                    spec = command_from_dict(spec_data)
                    if o_price != price or not 0 < visible <= leaves <= qty:
                        raise MatchingError(f"corrupt resting order {oid} in snapshot")
                    order = new_order(oid, spec, o_price, qty, leaves)  # type: ignore[arg-type]
                    order.visible = visible
                    side.add(order)
                    engine._orders[oid] = order
                    if spec.time_in_force is _GTD:  # type: ignore[union-attr]
                        expiries.append((spec.expire_ts, oid))  # type: ignore[union-attr]
            side.clear_dirty()
        for oid, spec_data, stop_price, anchor in snapshot["stops"]:
            spec = command_from_dict(spec_data)
            stop = StopOrder(oid, spec, stop_price, anchor)  # type: ignore[arg-type]
            engine._stops[oid] = stop
            if spec.order_type is _TRAILING:  # type: ignore[union-attr]
                engine._trailing[oid] = stop
            else:
                engine._push_stop(stop)
            if spec.time_in_force is _GTD:  # type: ignore[union-attr]
                expiries.append((spec.expire_ts, oid))  # type: ignore[union-attr]
        heapify(expiries)
        engine._expiries = expiries  # type: ignore[assignment]
        engine._refresh_deadline()
        old_commands, commands = snapshot["commands"]
        engine._seen_old, engine._seen_old_order = set(old_commands), list(old_commands)
        engine._seen, engine._seen_order = set(commands), list(commands)
        old_ids, ids = snapshot["client_ids"]
        engine._client_ids_old = {_client_key(a, c): oid for a, c, oid in old_ids}
        engine._client_ids = {_client_key(a, c): oid for a, c, oid in ids}
        engine._client_ids_limit = snapshot["client_ids_limit"]
        for name, side in (("bids", engine.bids), ("asks", engine.asks)):
            side.dirty = dict.fromkeys(snapshot["dirty"][name])
        return engine
