"""One parent order worked across venues: new → routing → done | partially_done | cancelled.

Why a state machine with recorded children: a worker can die between sending a child and
hearing its fill. Each child is recorded *placed* before it is sent, under a deterministic
key ``f"{parent_id}:{round}:{venue}"`` that is also the venue's client order id (the
:class:`~streams.settlement.venue.VenueAdapter` idempotency key). After a restart
:meth:`ParentOrder.pending_children` says what to re-send; the venue answers a key it has
seen with the original fill, so nothing trades twice. The agent must store the record
returned by :meth:`ParentOrder.to_record` after :meth:`ParentOrder.route` and **before**
sending: that ordering is what makes a re-send carry the same key and quantity.

A round splits what is still unfilled against the books of that moment (books move, children
fill partly), and a new round starts only when every child of the previous one has an answer
(filled, possibly partly or not at all, or failed). After ``max_rounds`` rounds the parent
ends ``partially_done`` if anything is left (which may be everything: no liquidity at all).

Every transition is idempotent (a repeated fill, cancel or route changes nothing) and
conflicting repeats raise :class:`~streams.routing.split.RoutingError`: two different fills
for one key mean the record or the venue is wrong, and money must not be guessed. Pure: the
books are passed in, no clock is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from streams.routing.split import PRICE_GRID, Book, RoutingError, Side, split_order

__all__ = [
    "SHARE_GRID",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "ChildOrder",
    "ChildStatus",
    "ParentOrder",
    "ParentReport",
    "ParentStatus",
    "ParentTrigger",
    "child_key",
]

SHARE_GRID = Decimal("0.00000001")
_BPS_GRID = Decimal("0.01")
_ZERO = Decimal(0)


class ParentStatus(StrEnum):
    NEW = "new"
    ROUTING = "routing"
    DONE = "done"
    PARTIALLY_DONE = "partially_done"
    CANCELLED = "cancelled"


class ParentTrigger(StrEnum):
    ROUTE = "route"  # a routing round started
    COMPLETE = "complete"  # everything filled, no child in flight
    EXHAUST = "exhaust"  # max_rounds used, no child in flight, something left
    CANCEL = "cancel"


class ChildStatus(StrEnum):
    PLACED = "placed"  # recorded, maybe sent: re-send with the same key until answered
    FILLED = "filled"  # the venue's answer (filled qty may be less than asked, or zero)
    FAILED = "failed"  # the venue never took it: its quantity goes back to the next round


_S, _T = ParentStatus, ParentTrigger
#: ``(status, trigger) -> next status``; a pair not listed is a no-op for idempotent callers.
TRANSITIONS: dict[tuple[ParentStatus, ParentTrigger], ParentStatus] = {
    (_S.NEW, _T.ROUTE): _S.ROUTING,
    (_S.ROUTING, _T.ROUTE): _S.ROUTING,
    (_S.ROUTING, _T.COMPLETE): _S.DONE,
    (_S.ROUTING, _T.EXHAUST): _S.PARTIALLY_DONE,
    (_S.NEW, _T.CANCEL): _S.CANCELLED,
    (_S.ROUTING, _T.CANCEL): _S.CANCELLED,
}
TERMINAL_STATUSES = frozenset({_S.DONE, _S.PARTIALLY_DONE, _S.CANCELLED})


def child_key(parent_id: str, round_no: int, venue: str) -> str:
    """The child's client order id at its venue: the same on every retry and every worker."""
    return f"{parent_id}:{round_no}:{venue}"


def _bps(price: Decimal, reference: Decimal, side: Side) -> Decimal:
    """Positive = worse for the parent (paid more on a buy, got less on a sell)."""
    sign = 1 if side == "buy" else -1
    return ((price / reference - 1) * 10_000 * sign).quantize(_BPS_GRID, ROUND_HALF_UP)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class ChildOrder:
    """One child sent to one venue in one round; ``key`` is its client order id there.

    ``limit_price`` is the worst level the split counted on at that venue (never beyond the
    parent's limit): the price of the immediate-or-cancel limit order where the venue takes
    one (our own book). Recorded with the child, so a re-send is the very same order.
    """

    key: str
    round: int
    venue: str
    symbol: str
    side: Side
    qty: Decimal
    expected_avg_price: Decimal
    expected_fee: Decimal
    status: ChildStatus = ChildStatus.PLACED
    filled_qty: Decimal = _ZERO
    avg_price: Decimal | None = None
    fee: Decimal = _ZERO
    reason: str | None = None
    limit_price: Decimal | None = None

    def to_record(self) -> dict[str, Any]:
        return {"key": self.key, "round": self.round, "venue": self.venue,
                "symbol": self.symbol, "side": self.side, "qty": str(self.qty),
                "expected_avg_price": str(self.expected_avg_price),
                "expected_fee": str(self.expected_fee), "status": str(self.status),
                "filled_qty": str(self.filled_qty), "avg_price": _str(self.avg_price),
                "fee": str(self.fee), "reason": self.reason,
                "limit_price": _str(self.limit_price)}

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> ChildOrder:
        return cls(key=data["key"], round=int(data["round"]), venue=data["venue"],
                   symbol=data["symbol"], side=data["side"], qty=Decimal(data["qty"]),
                   expected_avg_price=Decimal(data["expected_avg_price"]),
                   expected_fee=Decimal(data["expected_fee"]),
                   status=ChildStatus(data["status"]), filled_qty=Decimal(data["filled_qty"]),
                   avg_price=_dec(data["avg_price"]), fee=Decimal(data["fee"]),
                   reason=data["reason"],
                   limit_price=_dec(data.get("limit_price")))  # absent in older records


@dataclass(frozen=True, slots=True)
class ParentReport:
    """Execution quality of one parent, for the trader and the analysts.

    ``slippage_bps`` compares the VWAP with the arrival price (positive = worse for the
    parent); ``all_in_slippage_bps`` counts the fees in too. ``venue_shares`` are fractions of
    the filled quantity on a 1e-8 grid that sum to exactly 1 (largest remainder); both are
    None / empty while nothing has filled.
    """

    parent_id: str
    symbol: str
    side: Side
    status: ParentStatus
    qty: Decimal
    filled_qty: Decimal
    remainder: Decimal
    vwap: Decimal | None
    arrival_price: Decimal
    slippage_bps: Decimal | None
    all_in_slippage_bps: Decimal | None
    fees: Decimal
    venue_shares: dict[str, Decimal]
    rounds: int
    children: int

    def to_record(self) -> dict[str, Any]:
        return {"parent_id": self.parent_id, "symbol": self.symbol, "side": self.side,
                "status": str(self.status), "qty": str(self.qty),
                "filled_qty": str(self.filled_qty), "remainder": str(self.remainder),
                "vwap": _str(self.vwap), "arrival_price": str(self.arrival_price),
                "slippage_bps": _str(self.slippage_bps),
                "all_in_slippage_bps": _str(self.all_in_slippage_bps), "fees": str(self.fees),
                "venue_shares": {v: str(s) for v, s in self.venue_shares.items()},
                "rounds": self.rounds, "children": self.children}


def _shares(filled_by_venue: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Fractions of the total on :data:`SHARE_GRID`, summing to exactly 1 (largest remainder,
    ties to the venue name first)."""
    total = sum(filled_by_venue.values(), _ZERO)
    if total <= 0:
        return {}
    exact = {v: q / total for v, q in filled_by_venue.items() if q > 0}
    shares = {v: x.quantize(SHARE_GRID, ROUND_DOWN) for v, x in exact.items()}
    units = int((1 - sum(shares.values(), _ZERO)) / SHARE_GRID)
    order = sorted(exact, key=lambda v: (-(exact[v] - shares[v]), v))
    for i in range(units):
        shares[order[i % len(order)]] += SHARE_GRID
    return dict(sorted(shares.items()))


@dataclass
class ParentOrder:
    """The state of one parent order; the agent keeps :meth:`to_record` in its table."""

    parent_id: str
    symbol: str
    side: Side
    qty: Decimal
    arrival_price: Decimal  # mid of the consolidated book when the parent arrived
    limit_price: Decimal | None = None  # on the raw venue price, as an exchange limit
    max_rounds: int = 3
    status: ParentStatus = ParentStatus.NEW
    round: int = 0
    children: dict[str, ChildOrder] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.parent_id or not self.symbol:
            raise RoutingError("a parent order needs an id and a symbol")
        if self.side not in ("buy", "sell"):
            raise RoutingError(f"side must be buy or sell, got {self.side!r}")
        for name in ("qty", "arrival_price", "limit_price"):
            value = getattr(self, name)
            if value is None and name == "limit_price":
                continue
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                raise RoutingError(f"{name} must be a positive Decimal, got {value!r}")
        if self.max_rounds < 1:
            raise RoutingError(f"max_rounds must be at least 1, got {self.max_rounds}")
        self.status = ParentStatus(self.status)

    # -- what the parent knows -------------------------------------------------------------

    @property
    def filled_qty(self) -> Decimal:
        return sum((c.filled_qty for c in self.children.values()), _ZERO)

    @property
    def remaining_qty(self) -> Decimal:
        """Not filled yet (some of it may be in flight)."""
        return self.qty - self.filled_qty

    @property
    def notional(self) -> Decimal:
        """Exact USDT value of the fills (sum of child qty x avg price)."""
        return sum((c.filled_qty * c.avg_price for c in self.children.values()
                    if c.avg_price is not None), _ZERO)

    @property
    def fees(self) -> Decimal:
        return sum((c.fee for c in self.children.values()), _ZERO)

    @property
    def vwap(self) -> Decimal | None:
        filled = self.filled_qty
        return (self.notional / filled).quantize(PRICE_GRID, ROUND_HALF_UP) if filled else None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def pending_children(self) -> list[ChildOrder]:
        """Children recorded but not answered: after a crash, re-send these (same key).

        On a cancelled parent do not place them again: look each up with the venue's
        ``find_order`` and record what it says (:meth:`child_filled`, or :meth:`child_failed`
        if the venue never saw it).
        """
        return [c for c in self.children.values() if c.status is ChildStatus.PLACED]

    # -- transitions -----------------------------------------------------------------------

    def _move(self, trigger: ParentTrigger) -> None:
        self.status = TRANSITIONS[(self.status, trigger)]

    def _settle(self) -> None:
        """Finish the parent once nothing is in flight and it is filled or out of rounds."""
        if self.status is not ParentStatus.ROUTING or self.pending_children():
            return
        if self.filled_qty == self.qty:
            self._move(ParentTrigger.COMPLETE)
        elif self.round >= self.max_rounds:
            self._move(ParentTrigger.EXHAUST)

    def route(self, books: Mapping[str, Book], fee_rates: Mapping[str, Decimal],
              lot_sizes: Mapping[str, Decimal]) -> list[ChildOrder]:
        """Start the next round: split the unfilled quantity against these books.

        Returns the new children, already recorded as placed (store, then send). Returns
        ``[]`` and changes nothing while a round is in flight or the parent is finished. A
        round whose split is empty (no liquidity within the limit) still counts towards
        ``max_rounds``, so an empty market cannot keep a parent open forever. Bad books
        raise :class:`RoutingError` before anything changes.
        """
        if self.is_terminal or self.pending_children() or self.round >= self.max_rounds:
            return []
        split = split_order(self.side, self.remaining_qty, books, fee_rates, lot_sizes,
                            limit_price=self.limit_price)
        for s in split.slices:
            if ":" in s.venue:
                raise RoutingError(f"venue name {s.venue!r} would make child keys ambiguous")
        self._move(ParentTrigger.ROUTE)
        self.round += 1
        new = [ChildOrder(key=child_key(self.parent_id, self.round, s.venue), round=self.round,
                          venue=s.venue, symbol=self.symbol, side=self.side, qty=s.qty,
                          expected_avg_price=s.expected_avg_price, expected_fee=s.expected_fee,
                          limit_price=s.worst_price)
               for s in split.slices]
        for child in new:
            self.children[child.key] = child
        self._settle()
        return new

    def _child(self, key: str) -> ChildOrder:
        try:
            return self.children[key]
        except KeyError:
            raise RoutingError(f"parent {self.parent_id} has no child {key!r}") from None

    def child_filled(self, key: str, qty: Decimal, avg_price: Decimal | None,
                     fee: Decimal) -> bool:
        """Record the venue's answer for a child (``qty`` may be less than asked, or zero).

        True if this changed the parent, False for a repeat of the same answer; a different
        answer for an answered child raises :class:`RoutingError`. Accepted on a cancelled
        parent too: a child in flight when the cancel came may still have traded.
        """
        child = self._child(key)
        for name, value in (("qty", qty), ("fee", fee)):
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise RoutingError(f"{key}: fill {name} must be a Decimal >= 0, got {value!r}")
        if qty > 0 and (not isinstance(avg_price, Decimal) or not avg_price.is_finite()
                        or avg_price <= 0):
            raise RoutingError(f"{key}: a fill of {qty} needs a positive avg price")
        price = avg_price if qty > 0 else None
        if child.status is ChildStatus.FILLED:
            if (child.filled_qty, child.avg_price, child.fee) == (qty, price, fee):
                return False
            raise RoutingError(
                f"{key}: filled {child.filled_qty} @ {child.avg_price} fee {child.fee}, "
                f"now {qty} @ {price} fee {fee}")
        if child.status is ChildStatus.FAILED:
            raise RoutingError(f"{key}: recorded as failed ({child.reason}), now a fill")
        if qty > child.qty:
            raise RoutingError(f"{key}: filled {qty}, more than the {child.qty} sent")
        self.children[key] = replace(child, status=ChildStatus.FILLED, filled_qty=qty,
                                     avg_price=price, fee=fee)
        self._settle()
        return True

    def child_failed(self, key: str, reason: str) -> bool:
        """The venue never took this child (it refused it, or ``find_order`` finds nothing
        for a child that was never sent): nothing traded, its quantity goes back to the
        next round. Only for a definite "no": a child that may have traded stays pending."""
        child = self._child(key)
        if child.status is ChildStatus.FAILED:
            return False
        if child.status is ChildStatus.FILLED:
            raise RoutingError(f"{key}: already filled, cannot fail")
        self.children[key] = replace(child, status=ChildStatus.FAILED, reason=reason)
        self._settle()
        return True

    def cancel(self) -> bool:
        """Stop routing new rounds. True if this cancelled the parent; False if it was
        already finished (a cancel racing completion loses, as on an exchange)."""
        if self.is_terminal:
            return False
        self._move(ParentTrigger.CANCEL)
        return True

    # -- reports and records ---------------------------------------------------------------

    def report(self) -> ParentReport:
        filled = self.filled_qty
        by_venue: dict[str, Decimal] = {}
        for c in self.children.values():
            by_venue[c.venue] = by_venue.get(c.venue, _ZERO) + c.filled_qty
        slippage = all_in = None
        if filled:
            notional, fees = self.notional, self.fees
            slippage = _bps(notional / filled, self.arrival_price, self.side)
            all_in_notional = notional + fees if self.side == "buy" else notional - fees
            all_in = _bps(all_in_notional / filled, self.arrival_price, self.side)
        return ParentReport(
            parent_id=self.parent_id, symbol=self.symbol, side=self.side, status=self.status,
            qty=self.qty, filled_qty=filled, remainder=self.qty - filled, vwap=self.vwap,
            arrival_price=self.arrival_price, slippage_bps=slippage, all_in_slippage_bps=all_in,
            fees=self.fees, venue_shares=_shares(by_venue), rounds=self.round,
            children=len(self.children))

    def to_record(self) -> dict[str, Any]:
        """JSON-able (Decimals as strings): what the agent stores after every transition."""
        return {"parent_id": self.parent_id, "symbol": self.symbol, "side": self.side,
                "qty": str(self.qty), "arrival_price": str(self.arrival_price),
                "limit_price": _str(self.limit_price), "max_rounds": self.max_rounds,
                "status": str(self.status), "round": self.round,
                "children": [c.to_record() for c in self.children.values()]}

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> ParentOrder:
        children = [ChildOrder.from_record(c) for c in data["children"]]
        return cls(parent_id=data["parent_id"], symbol=data["symbol"], side=data["side"],
                   qty=Decimal(data["qty"]), arrival_price=Decimal(data["arrival_price"]),
                   limit_price=_dec(data["limit_price"]), max_rounds=int(data["max_rounds"]),
                   status=ParentStatus(data["status"]), round=int(data["round"]),
                   children={c.key: c for c in children})
