"""The state machine of one block RFQ. Pure: no Faust, no Kafka, no wall clock.

An agent keyed by RFQ id keeps one :class:`RfqState` per RFQ (``to_record`` in RocksDB) and
calls one method per command, in partition order, passing the venue's time ``now_ms``:

* :meth:`RfqState.open` — the taker asks for quotes on 1..4 legs;
* :meth:`RfqState.quote` / :meth:`RfqState.cancel_quote` — makers quote the bid or the ask
  of the whole structure (the latest quote of a maker on a side replaces the previous one);
* :meth:`RfqState.accept` — the taker trades a given quote, or the best live one on a side,
  within an optional limit: the result is one :class:`~streams.rfq.values.BlockTrade`, not
  traded yet but *clearing*: risk must first hold what each side needs of it;
* :meth:`RfqState.clear` — risk's answer for one side: once both sides are held the trade is
  accepted (it goes to matching); a refused side reopens the RFQ and both holds are released;
* :meth:`RfqState.cancel` — the taker withdraws the RFQ;
* :meth:`RfqState.expire` — on a timer: an open RFQ past its expiry becomes expired. Any
  other command arriving after the expiry expires it first, so the timer only makes the
  expiry visible sooner; it never decides anything.

Statuses follow :data:`TRANSITIONS`: ``new -> open -> clearing -> accepted``, ``clearing ->
open`` (a side refused), ``open -> expired | cancelled``; accepted, expired and cancelled are
final. A clearing RFQ does not expire: the taker accepted in time.

Each method returns an :class:`Outcome`: the refusal code (``None`` when
the command took effect) and the events it produced, each with a deterministic id. A command
id seen before gets the very same outcome back (flagged ``replayed``) and changes nothing,
so a crash between storing the state and publishing the events is healed by the replay.
Refusals are events too (:class:`QuoteRefused`, :class:`RfqRefused`): the sender learns why.

**Time.** The venue's clock never runs backwards here: a command's time is
``max(now_ms, latest time seen)``, so nothing is accepted after an expiry was observed even if
commands arrive with out-of-order times. A quote is good while ``now < valid_until_ms``
(``created + quote ttl``, never past the RFQ's expiry); the RFQ is open while
``now < expires_ms``. A quote past its valid-until is ignored (accepting it by id says
``QUOTE_EXPIRED``) until its maker replaces or cancels it; all quotes go when the RFQ closes.

**Size.** The state keeps at most one quote per maker and side, but also every event it
produced (to answer replays with them) and every quote id used: an RFQ lives minutes and takes
tens of commands, so the record stays small; a maker re-quoting thousands of times would
grow it (a cap on commands per RFQ is not done yet).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, Inexact, InvalidOperation, Overflow
from enum import StrEnum
from typing import Any, TypeVar

from streams.rfq.codes import RfqCode, RfqError
from streams.rfq.events import (
    QuoteAdded,
    QuoteCancelled,
    QuoteRefused,
    QuoteReplaced,
    RfqAccepted,
    RfqCancelled,
    RfqClearing,
    RfqEvent,
    RfqExpired,
    RfqNotCleared,
    RfqOpened,
    RfqRefused,
    event_from_record,
)
from streams.rfq.pricing import EXACT, adjusting_leg, ratios_reduced, split_net_price
from streams.rfq.values import (
    QUOTE_SIDES,
    TAKER_SIDES,
    BlockTrade,
    Leg,
    LegFill,
    Quote,
    leg_sign,
    opposite,
    quote_side_for,
)

__all__ = [
    "RECORD_VERSION",
    "TRANSITIONS",
    "Outcome",
    "RfqConfig",
    "RfqSpec",
    "RfqState",
    "RfqStatus",
    "trade_id_for",
]

_E = TypeVar("_E", bound=RfqEvent)
RECORD_VERSION = 2  # 2: clearing (version 1 records read as never cleared)


class RfqStatus(StrEnum):
    NEW = "new"  # nothing opened under this id yet (a refused open leaves it new)
    OPEN = "open"
    CLEARING = "clearing"  # a quote accepted, risk holding both sides before it trades
    ACCEPTED = "accepted"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


#: (status, trigger) -> next status; anything else is an invariant broken.
TRANSITIONS: dict[tuple[RfqStatus, str], RfqStatus] = {
    (RfqStatus.NEW, "open"): RfqStatus.OPEN,
    (RfqStatus.OPEN, "accept"): RfqStatus.CLEARING,
    (RfqStatus.CLEARING, "cleared"): RfqStatus.ACCEPTED,
    (RfqStatus.CLEARING, "not_cleared"): RfqStatus.OPEN,
    (RfqStatus.OPEN, "expire"): RfqStatus.EXPIRED,
    (RfqStatus.OPEN, "cancel"): RfqStatus.CANCELLED,
}

_CLOSED = {
    RfqStatus.NEW: RfqCode.UNKNOWN_RFQ,
    RfqStatus.EXPIRED: RfqCode.RFQ_EXPIRED,
    RfqStatus.ACCEPTED: RfqCode.RFQ_ALREADY_ACCEPTED,
    RfqStatus.CANCELLED: RfqCode.RFQ_CANCELLED,
    RfqStatus.CLEARING: RfqCode.RFQ_CLEARING,
}


def trade_id_for(rfq_id: str) -> str:
    """The one trade an RFQ can make."""
    return f"rfq:{rfq_id}"


@dataclass(frozen=True, slots=True)
class RfqConfig:
    """Venue settings an RFQ is opened with (copied into it: later changes do not move the
    expiry of RFQs already open)."""

    ttl_ms: int = 300_000
    quote_ttl_ms: int = 60_000
    max_legs: int = 4

    def __post_init__(self) -> None:
        for name in ("ttl_ms", "quote_ttl_ms", "max_legs"):
            value = getattr(self, name)
            if type(value) is not int or value <= 0:
                raise ValueError(f"{name} must be a positive int, not {value!r}")


@dataclass(frozen=True, slots=True)
class RfqSpec:
    """What the taker asked for, fixed at opening."""

    taker: str
    legs: tuple[Leg, ...]
    amount: Decimal
    one_sided: str | None
    created_ms: int
    expires_ms: int
    quote_ttl_ms: int

    def to_record(self) -> dict[str, Any]:
        return {"taker": self.taker, "legs": [leg.to_record() for leg in self.legs],
                "amount": str(self.amount), "one_sided": self.one_sided,
                "created_ms": self.created_ms, "expires_ms": self.expires_ms,
                "quote_ttl_ms": self.quote_ttl_ms}

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> RfqSpec:
        return cls(data["taker"], tuple(Leg.from_record(leg) for leg in data["legs"]),
                   Decimal(data["amount"]), data["one_sided"], data["created_ms"],
                   data["expires_ms"], data["quote_ttl_ms"])


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command did: ``code`` ``None`` if it took effect, else why it was refused."""

    code: RfqCode | None
    events: tuple[RfqEvent, ...] = ()
    replayed: bool = False

    @property
    def ok(self) -> bool:
        return self.code is None

    def _first(self, kind: type[_E]) -> _E | None:
        return next((e for e in self.events if isinstance(e, kind)), None)

    @property
    def trade(self) -> BlockTrade | None:
        """The block trade to execute: both sides cleared."""
        accepted = self._first(RfqAccepted)
        return accepted.trade if accepted is not None else None

    @property
    def to_clear(self) -> RfqClearing | None:
        """The block trade whose two sides risk must hold before it trades."""
        return self._first(RfqClearing)

    @property
    def to_release(self) -> RfqNotCleared | None:
        """A clearing that failed: both sides' holds are released."""
        return self._first(RfqNotCleared)


def _ident(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _time_ok(value: object) -> bool:
    return type(value) is int and value >= 0


def _finite(value: object) -> bool:
    return isinstance(value, Decimal) and value.is_finite()


def _positive(value: object) -> bool:
    return _finite(value) and value > 0  # type: ignore[operator]


def _text(value: object) -> str:
    return value if isinstance(value, str) else ("" if value is None else repr(value))


@dataclass
class RfqState:
    rfq_id: str
    status: RfqStatus = RfqStatus.NEW
    spec: RfqSpec | None = None
    #: live quotes by (maker, side): one per maker and side, the latest
    quotes: dict[tuple[str, str], Quote] = field(default_factory=dict)
    quote_ids: set[str] = field(default_factory=set)  # every quote id ever used here
    trade: BlockTrade | None = None
    #: the accept command being cleared (it names the holds), and each side's answer so far:
    #: account -> 0 held, else the risk code
    attempt: str | None = None
    cleared: dict[str, int] = field(default_factory=dict)
    seq: int = 0  # of the last event
    clock_ms: int = 0  # latest venue time seen
    #: command id -> (code or 0, seq of its first event, number of events)
    applied: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    log: list[RfqEvent] = field(default_factory=list)  # log[n - 1] is event n

    # -- queries ------------------------------------------------------------------------------
    def live_quotes(self, now_ms: int) -> list[Quote]:
        """Quotes good at ``now_ms``, in the order they were made."""
        if self.status is not RfqStatus.OPEN:
            return []
        return sorted((q for q in self.quotes.values() if q.live_at(now_ms)),
                      key=lambda q: q.seq)

    def best_quote(self, taker_side: str, now_ms: int) -> Quote | None:
        """The quote a taker on ``taker_side`` gets: lowest ask to buy, highest bid to sell;
        among equal prices the earliest."""
        want = quote_side_for(taker_side)
        live = [q for q in self.live_quotes(now_ms) if q.side == want]
        if not live:
            return None
        if taker_side == "buy":
            return min(live, key=lambda q: (q.price, q.seq))
        return min(live, key=lambda q: (-q.price, q.seq))

    # -- commands -----------------------------------------------------------------------------
    def open(self, command_id: str, *, taker: str, legs: Sequence[Leg], amount: Decimal,
             now_ms: int, config: RfqConfig, one_sided: str | None = None) -> Outcome:
        """Open the RFQ: quotes are welcome until ``now_ms + config.ttl_ms``."""

        def body(now: int) -> RfqCode | None:
            code = self._check_open(taker, legs, amount, one_sided, config)
            if code is not None:
                return self._refuse_taker(command_id, now, taker, "open", code)
            spec = RfqSpec(taker, tuple(legs), amount, one_sided, now, now + config.ttl_ms,
                           config.quote_ttl_ms)
            self._move("open")
            self.spec = spec
            self._emit(RfqOpened, command_id, now, taker=taker, legs=spec.legs, amount=amount,
                       one_sided=one_sided, expires_ms=spec.expires_ms,
                       quote_ttl_ms=spec.quote_ttl_ms)
            return None

        return self._run(command_id, now_ms, body, lambda now, code: self._refuse_taker(
            command_id, now, taker, "open", code))

    def quote(self, command_id: str, *, quote_id: str, maker: str, side: str, price: Decimal,
              amount: Decimal, now_ms: int) -> Outcome:
        """Add a maker's quote on ``side`` (bid/ask), replacing its previous one there."""

        def refuse(now: int, code: RfqCode) -> RfqCode:
            return self._refuse_maker(command_id, now, maker, quote_id, "quote", code)

        def body(now: int) -> RfqCode | None:
            code = self._gate(command_id, now)
            if code is not None:
                return refuse(now, code)
            code = self._check_quote(quote_id, maker, side, price, amount)
            if code is not None:
                return refuse(now, code)
            spec = self._spec()
            new = Quote(quote_id, maker, side, price, amount, now,
                        min(now + spec.quote_ttl_ms, spec.expires_ms), self.seq + 1)
            old = self.quotes.get((maker, side))
            self.quotes[(maker, side)] = new
            self.quote_ids.add(quote_id)
            if old is None:
                self._emit(QuoteAdded, command_id, now, quote=new)
            else:
                self._emit(QuoteReplaced, command_id, now, quote=new,
                           replaced_quote_id=old.quote_id)
            return None

        return self._run(command_id, now_ms, body, refuse)

    def cancel_quote(self, command_id: str, *, maker: str, quote_id: str, now_ms: int
                     ) -> Outcome:
        """Withdraw a maker's live quote."""

        def refuse(now: int, code: RfqCode) -> RfqCode:
            return self._refuse_maker(command_id, now, maker, quote_id, "cancel_quote", code)

        def body(now: int) -> RfqCode | None:
            code = self._gate(command_id, now)
            if code is not None:
                return refuse(now, code)
            if not _ident(maker) or not _ident(quote_id):
                return refuse(now, RfqCode.INVALID_IDENTIFIER)
            found = next((q for q in self.quotes.values()
                          if q.quote_id == quote_id and q.maker == maker), None)
            if found is None:  # someone else's quote is "not found" too: ids do not leak
                return refuse(now, RfqCode.QUOTE_NOT_FOUND)
            del self.quotes[(found.maker, found.side)]
            self._emit(QuoteCancelled, command_id, now, quote_id=quote_id, maker=maker,
                       side=found.side)
            return None

        return self._run(command_id, now_ms, body, refuse)

    def accept(self, command_id: str, *, account: str, side: str, now_ms: int,
               marks: Mapping[str, Decimal], quote_id: str | None = None,
               limit_price: Decimal | None = None,
               tradable: Callable[[BlockTrade], RfqCode | None] | None = None) -> Outcome:
        """The taker trades ``side`` (buy/sell) of the structure: against ``quote_id``, or the
        best live quote if ``None``; never at a price worse than ``limit_price`` (a buyer's
        most, a seller's least). ``marks`` (symbol -> USDT) price the legs; see
        :mod:`streams.rfq.pricing`. ``tradable`` (the venue's catalogue) may veto the trade
        with a code before anything changes: every leg must be executable, or none is."""

        def refuse(now: int, code: RfqCode) -> RfqCode:
            return self._refuse_taker(command_id, now, account, "accept", code)

        def body(now: int) -> RfqCode | None:
            code = self._gate(command_id, now)
            if code is not None:
                return refuse(now, code)
            spec = self._spec()
            if account != spec.taker:
                return refuse(now, RfqCode.NOT_TAKER)
            if side not in TAKER_SIDES:
                return refuse(now, RfqCode.INVALID_SIDE)
            if spec.one_sided is not None and side != spec.one_sided:
                return refuse(now, RfqCode.WRONG_SIDE)
            if limit_price is not None and not _finite(limit_price):
                return refuse(now, RfqCode.INVALID_PRICE)
            if quote_id is None:
                chosen = self.best_quote(side, now)
                if chosen is None:
                    return refuse(now, RfqCode.NO_ELIGIBLE_QUOTE)
            else:
                chosen = next((q for q in self.quotes.values() if q.quote_id == quote_id),
                              None)
                if chosen is None:
                    return refuse(now, RfqCode.QUOTE_NOT_FOUND)
                if chosen.side != quote_side_for(side):
                    return refuse(now, RfqCode.QUOTE_SIDE_MISMATCH)
                if not chosen.live_at(now):
                    return refuse(now, RfqCode.QUOTE_EXPIRED)
            if limit_price is not None and (chosen.price > limit_price if side == "buy"
                                            else chosen.price < limit_price):
                return refuse(now, RfqCode.LIMIT_NOT_MET)
            trade = self._block_trade(chosen, side, now, marks)
            if isinstance(trade, RfqCode):
                return refuse(now, trade)
            veto = tradable(trade) if tradable is not None else None
            if veto is not None:
                return refuse(now, veto)
            self._move("accept")
            self.trade, self.attempt, self.cleared = trade, command_id, {}
            self._emit(RfqClearing, command_id, now, trade=trade, attempt=command_id)
            return None

        return self._run(command_id, now_ms, body, refuse)

    def clear(self, command_id: str, *, attempt: str, account: str, risk_code: int | None,
              risk_reason: str = "", now_ms: int) -> Outcome:
        """Risk's answer for ``account``'s side of the clearing ``attempt``: ``risk_code``
        None when held. Both sides held: accepted, the trade goes to matching. A side
        refused: the RFQ opens again (a refused maker's quote goes) and both holds are
        released (:attr:`Outcome.to_release`); the other side's answer, when it comes, is
        stale. An answer to another attempt, or a repeat, changes nothing: holds of a failed
        attempt were released when it failed (after they were made, in the account's
        order)."""

        def body(now: int) -> RfqCode | None:
            trade = self.trade
            if self.status is not RfqStatus.CLEARING or attempt != self.attempt \
                    or trade is None or account not in (trade.taker, trade.maker) \
                    or account in self.cleared:
                return None  # stale: nothing to do
            self.cleared[account] = int(risk_code or 0)
            if risk_code is not None:
                side = (RfqCode.TAKER_NOT_CLEARED if account == trade.taker
                        else RfqCode.MAKER_NOT_CLEARED)
                self._move("not_cleared")
                if side is RfqCode.MAKER_NOT_CLEARED:
                    self.quotes = {k: q for k, q in self.quotes.items()
                                   if q.quote_id != trade.quote_id}
                self.trade, self.attempt, self.cleared = None, None, {}
                self._emit(RfqNotCleared, command_id, now, trade=trade, attempt=attempt,
                           account=account, code=side, risk_code=int(risk_code),
                           risk_reason=risk_reason)
                return None
            if set(self.cleared) == {trade.taker, trade.maker}:
                self._move("cleared")
                self.quotes.clear()
                self._emit(RfqAccepted, command_id, now, trade=trade)
            return None

        return self._run(command_id, now_ms, body, lambda now, code: code)

    def cancel(self, command_id: str, *, account: str, now_ms: int) -> Outcome:
        """The taker withdraws the RFQ; its quotes go with it."""

        def refuse(now: int, code: RfqCode) -> RfqCode:
            return self._refuse_taker(command_id, now, account, "cancel", code)

        def body(now: int) -> RfqCode | None:
            code = self._gate(command_id, now)
            if code is not None:
                return refuse(now, code)
            if account != self._spec().taker:
                return refuse(now, RfqCode.NOT_TAKER)
            self._move("cancel")
            self.quotes.clear()
            self._emit(RfqCancelled, command_id, now, taker=account)
            return None

        return self._run(command_id, now_ms, body, refuse)

    def expire(self, now_ms: int, command_id: str | None = None) -> Outcome:
        """Expire the RFQ if it is open and ``now_ms`` reached its expiry; otherwise nothing
        happens (and nothing is remembered). ``command_id`` (a timer's id) is optional: the
        transition is idempotent by itself, and the event's causation id defaults to
        ``expiry:<rfq id>``."""
        if command_id is not None and command_id in self.applied:
            return self._replay(command_id)
        if not _time_ok(now_ms):
            return Outcome(RfqCode.INVALID_TIME)
        if self.status is not RfqStatus.OPEN or max(now_ms, self.clock_ms) < \
                self._spec().expires_ms:
            return Outcome(None)
        cause = command_id if _ident(command_id) else f"expiry:{self.rfq_id}"
        return self._run(cause, now_ms, lambda now: self._gate(cause, now) and None,
                         lambda now, code: code)

    # -- the machinery ------------------------------------------------------------------------
    def _run(self, command_id: str, now_ms: int, body: Callable[[int], RfqCode | None],
             refuse: Callable[[int, RfqCode], RfqCode]) -> Outcome:
        if not _ident(command_id):  # cannot be remembered: answered, nothing changes
            return Outcome(RfqCode.INVALID_IDENTIFIER)
        if command_id in self.applied:
            return self._replay(command_id)
        first = self.seq + 1
        if _time_ok(now_ms):
            now = max(now_ms, self.clock_ms)
            self.clock_ms = now
            code = body(now)
        else:
            code = refuse(self.clock_ms, RfqCode.INVALID_TIME)
        self.applied[command_id] = (int(code or 0), first, self.seq - first + 1)
        return Outcome(code, tuple(self.log[first - 1:]))

    def _replay(self, command_id: str) -> Outcome:
        code, first, count = self.applied[command_id]
        return Outcome(RfqCode(code) if code else None,
                       tuple(self.log[first - 1:first - 1 + count]), replayed=True)

    def _emit(self, cls: type[RfqEvent], causation_id: str, now: int, **body: Any) -> None:
        self.seq += 1
        self.log.append(cls(event_id=f"{self.rfq_id}:{self.seq}", rfq_id=self.rfq_id,
                            seq=self.seq, ts_ms=now, causation_id=causation_id, **body))

    def _move(self, trigger: str) -> None:
        nxt = TRANSITIONS.get((self.status, trigger))
        if nxt is None:
            raise RfqError(f"RFQ {self.rfq_id}: no transition from {self.status} on {trigger}")
        self.status = nxt

    def _spec(self) -> RfqSpec:
        if self.spec is None:
            raise RfqError(f"RFQ {self.rfq_id} is {self.status} without a spec")
        return self.spec

    def _gate(self, command_id: str, now: int) -> RfqCode | None:
        """Expire an open RFQ whose time is up; then why it refuses commands, if it does."""
        if self.status is RfqStatus.OPEN and now >= self._spec().expires_ms:
            self._move("expire")
            self.quotes.clear()
            self._emit(RfqExpired, command_id, now, expires_ms=self._spec().expires_ms)
        return _CLOSED.get(self.status)

    def _refuse_taker(self, command_id: str, now: int, account: object, action: str,
                      code: RfqCode) -> RfqCode:
        self._emit(RfqRefused, command_id, now, account=_text(account), action=action,
                   code=code)
        return code

    def _refuse_maker(self, command_id: str, now: int, maker: object, quote_id: object,
                      action: str, code: RfqCode) -> RfqCode:
        self._emit(QuoteRefused, command_id, now, maker=_text(maker), quote_id=_text(quote_id),
                   action=action, code=code)
        return code

    def _check_open(self, taker: object, legs: object, amount: object, one_sided: object,
                    config: RfqConfig) -> RfqCode | None:
        if self.status is not RfqStatus.NEW:
            return RfqCode.RFQ_EXISTS
        if not _ident(self.rfq_id) or not _ident(taker):
            return RfqCode.INVALID_IDENTIFIER
        if not isinstance(legs, list | tuple) or not 1 <= len(legs) <= config.max_legs:
            return RfqCode.INVALID_LEG_COUNT
        for leg in legs:
            if not isinstance(leg, Leg) or not _ident(leg.symbol) \
                    or leg.side not in TAKER_SIDES or type(leg.ratio) is not int \
                    or leg.ratio <= 0:
                return RfqCode.INVALID_LEG
        if len({leg.symbol for leg in legs}) != len(legs):
            return RfqCode.DUPLICATE_LEG
        if not ratios_reduced(legs):
            return RfqCode.RATIOS_NOT_REDUCED
        if adjusting_leg(legs) is None:
            return RfqCode.NO_ADJUSTABLE_LEG
        if not _positive(amount):
            return RfqCode.INVALID_AMOUNT
        if one_sided is not None and one_sided not in TAKER_SIDES:
            return RfqCode.INVALID_SIDE
        return None

    def _check_quote(self, quote_id: object, maker: object, side: object, price: object,
                     amount: object) -> RfqCode | None:
        spec = self._spec()
        if not _ident(quote_id) or not _ident(maker):
            return RfqCode.INVALID_IDENTIFIER
        if maker == spec.taker:
            return RfqCode.TAKER_CANNOT_QUOTE
        if side not in QUOTE_SIDES:
            return RfqCode.INVALID_SIDE
        if spec.one_sided is not None and side != quote_side_for(spec.one_sided):
            return RfqCode.WRONG_SIDE
        if not _finite(price):
            return RfqCode.INVALID_PRICE
        if len(spec.legs) == 1 and leg_sign(spec.legs[0].side) * price <= 0:  # type: ignore[operator]
            return RfqCode.INVALID_PRICE  # its one leg would trade at a price <= 0
        if not _positive(amount):
            return RfqCode.INVALID_AMOUNT
        if amount < spec.amount:  # type: ignore[operator]
            return RfqCode.QUOTE_AMOUNT_TOO_SMALL
        if quote_id in self.quote_ids:
            return RfqCode.DUPLICATE_QUOTE_ID
        return None

    def _block_trade(self, quote: Quote, side: str, now: int, marks: Mapping[str, Decimal]
                     ) -> BlockTrade | RfqCode:
        spec = self._spec()
        prices = split_net_price(spec.legs, quote.price, marks)
        if isinstance(prices, RfqCode):
            return prices
        fills: list[LegFill] = []
        try:
            for leg, price in zip(spec.legs, prices, strict=True):
                taker_side = leg.side if side == "buy" else opposite(leg.side)
                fills.append(LegFill(leg.symbol, taker_side, opposite(taker_side),
                                     EXACT.multiply(spec.amount, Decimal(leg.ratio)), price))
        except (Inexact, InvalidOperation, Overflow):
            return RfqCode.LEG_PRICES_NOT_EXACT
        return BlockTrade(trade_id_for(self.rfq_id), self.rfq_id, quote.quote_id, spec.taker,
                          quote.maker, side, spec.amount, quote.price, now, tuple(fills))

    # -- the stored record --------------------------------------------------------------------
    def to_record(self) -> dict[str, Any]:
        """JSON-able (Decimal as str); :meth:`from_record` reads it back equal."""
        return {
            "v": RECORD_VERSION, "rfq_id": self.rfq_id, "status": self.status.value,
            "spec": self.spec.to_record() if self.spec else None,
            "quotes": [q.to_record() for q in sorted(self.quotes.values(),
                                                     key=lambda q: q.seq)],
            "quote_ids": sorted(self.quote_ids),
            "trade": self.trade.to_record() if self.trade else None,
            "attempt": self.attempt, "cleared": self.cleared,
            "seq": self.seq, "clock_ms": self.clock_ms,
            "applied": [[c, code, first, n] for c, (code, first, n) in self.applied.items()],
            "log": [e.to_record() for e in self.log],
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> RfqState:
        if data.get("v") not in (1, RECORD_VERSION):
            raise RfqError(f"unknown RFQ record version {data.get('v')!r}")
        quotes = [Quote.from_record(q) for q in data["quotes"]]
        return cls(
            rfq_id=data["rfq_id"], status=RfqStatus(data["status"]),
            spec=RfqSpec.from_record(data["spec"]) if data["spec"] else None,
            quotes={(q.maker, q.side): q for q in quotes}, quote_ids=set(data["quote_ids"]),
            trade=BlockTrade.from_record(data["trade"]) if data["trade"] else None,
            attempt=data.get("attempt"), cleared=dict(data.get("cleared") or {}),
            seq=data["seq"], clock_ms=data["clock_ms"],
            applied={c: (code, first, n) for c, code, first, n in data["applied"]},
            log=[event_from_record(e) for e in data["log"]])
