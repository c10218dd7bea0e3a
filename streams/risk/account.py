"""One account's risk state and every decision taken on it. Pure: no Faust, no Kafka.

The risk agent keeps one :class:`AccountState` per account (a JSON record in RocksDB) and
calls, in the order events arrive on the account's partition:

* :meth:`AccountState.decide` for each request (submit, cancel, amend, mass cancel): accept
  and forward to matching, or reject with a :class:`~streams.risk.codes.RiskCode`; the
  account-wide requests (cancel-all, market-maker protection settings) are answered here;
* :meth:`AccountState.reserve_block` for an accepted RFQ's side of a block trade: hold what
  every leg needs, all or none, before it trades (the RFQ agent waits for the answer);
* :meth:`AccountState.apply` for each activity (fill, released order, transfer, expiry); a
  fill also feeds market-maker protection (:mod:`streams.risk.mmp`), whose trips
  :meth:`AccountState.take_trips` hands to the agent (cancel the underlying's orders, alert);
* :meth:`AccountState.revalue` on a timer, against fresh marks: positions with unrealized
  PnL, margin ratio, alerts once per threshold crossing, stop-loss and liquidation orders.

**Available USDT** = cash - reservations of open orders - initial margin of open shorts +
shorts at mark (their liability). Cash is what the ledger says the account holds: funded
transfers, premiums and notionals paid and received, fees and expiry payouts, so funded
balance + realized PnL - the cost of open long positions. Decisions already taken are kept by
command id, so a replayed request gets the same answer (and the same output) again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from infra.risk_limits import RiskLimits
from streams.compliance.codes import ComplianceCode
from streams.compliance.kyc import KycState, KycStatus, check_order
from streams.instruments import Catalogue, Instrument, InstrumentKind, TradingStatus
from streams.ledger.fees import FeeSchedule
from streams.risk import margin
from streams.risk.codes import RiskCode, describe
from streams.risk.mmp import MmpBreach, MmpConfig, MmpState
from streams.risk.records import (
    CORE,
    MMP,
    ORDER_BUCKETS,
    Remembered,
    Saves,
    applied_part,
    decisions_part,
    order_bucket,
    orders_part,
    read_parts,
)
from topics.contracts import (
    AmendOrder,
    BlockRelease,
    BlockReservation,
    CancelAll,
    CancelOrder,
    Fill,
    FundsTransferred,
    KycChanged,
    MassCancel,
    OrderEvent,
    OrderReleased,
    PositionExpired,
    PremiumPaid,
    ResetMmp,
    SetMmpConfig,
    SubmitOrder,
)

__all__ = [
    "RISK_EVENT_PREFIX",
    "AccountState",
    "Alert",
    "Decision",
    "PositionState",
    "Prices",
    "Revaluation",
    "Trip",
]

ZERO = Decimal(0)
_AVG_GRID = Decimal("1e-12")  # average prices: finer than any tick, within the 18-place wire
ONE = Decimal(1)
#: event ids of the order events risk itself publishes (its rejections)
RISK_EVENT_PREFIX = "risk:"
_REJECTIONS = frozenset({"rejected", "command_rejected"})
_LEFT_THE_BOOK = frozenset({"filled", "cancelled", "expired"})
Request = SubmitOrder | CancelOrder | AmendOrder | MassCancel | CancelAll | SetMmpConfig | ResetMmp
OrderCommand = SubmitOrder | CancelOrder | AmendOrder | MassCancel
Activity = (Fill | OrderReleased | FundsTransferred | PositionExpired | PremiumPaid | KycChanged
            | BlockRelease)


class Prices(Protocol):
    """Reference prices: the index of an underlying and the mark of an option."""

    def index(self, underlying: str) -> Decimal | None: ...

    def mark(self, symbol: str) -> Decimal | None: ...

    def greeks(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        """(delta, vega) of one option contract at its last mark."""
        ...


@dataclass(frozen=True, slots=True)
class Decision:
    code: RiskCode | None  # None: accepted
    command: Request
    #: when the request was first decided (venue time): a replayed or re-routed copy of it is
    #: answered with the very same record, whenever the copy was appended
    decided_at: datetime | None = None
    #: what a cancel-all became: one mass cancel per instrument the account has orders in
    expanded: tuple[MassCancel, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.code is None

    def forwarded(self) -> list[OrderCommand]:
        """The commands matching gets for an accepted request: the request itself, or what
        a cancel-all expanded to; none for the settings risk keeps (market-maker
        protection). Reduce-only goes no further: risk checked it against positions
        matching does not know of (matching would refuse it for want of them)."""
        cmd = self.command
        if isinstance(cmd, CancelAll | SetMmpConfig | ResetMmp):
            return list(self.expanded)
        if isinstance(cmd, SubmitOrder) and cmd.reduce_only:
            return [cmd.model_copy(update={"reduce_only": False})]
        return [cmd]

    def rejection(self, now: datetime) -> OrderEvent:
        """The ``orders.events`` record of a rejected request: ``rejected`` for a submit,
        ``command_rejected`` otherwise. Its id, ``risk:<command id>``, tells every consumer
        that risk, not matching, answered: nothing was ever created for it."""
        cmd = self.command
        assert isinstance(cmd, SubmitOrder | CancelOrder | AmendOrder | MassCancel), \
            "account-wide requests are never rejected"
        code = self.code or RiskCode.UNKNOWN_INSTRUMENT
        return OrderEvent(
            event_id=f"{RISK_EVENT_PREFIX}{cmd.command_id}", ts_event=self.decided_at or now,
            causation_id=cmd.command_id, symbol=cmd.symbol, seq=0,
            kind="rejected" if isinstance(cmd, SubmitOrder) else "command_rejected",
            account=cmd.account, client_order_id=getattr(cmd, "client_order_id", None),
            side=getattr(cmd, "side", None), order_type=getattr(cmd, "order_type", None),
            price=getattr(cmd, "price", None), qty=getattr(cmd, "qty", None),
            reason_code=int(code), reason=describe(code))


@dataclass(slots=True)
class PositionState:
    qty: Decimal = ZERO  # signed
    avg_price: Decimal = ZERO
    realized: Decimal = ZERO
    stop_armed: bool = True  # a stop-loss fires once per crossing

    def apply(self, side: str, qty: Decimal, price: Decimal, contract_size: Decimal) -> Decimal:
        """Average-cost position keeping; returns the realized PnL of this fill."""
        signed = qty if side == "buy" else -qty
        realized = ZERO
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            total = abs(self.qty) + qty
            self.avg_price = ((abs(self.qty) * self.avg_price + qty * price) / total).quantize(
                _AVG_GRID, rounding=ROUND_HALF_UP)
            self.qty += signed
            return ZERO
        closing = min(qty, abs(self.qty))
        direction = ONE if self.qty > 0 else -ONE
        realized = (price - self.avg_price) * closing * direction * contract_size
        self.realized += realized
        self.qty += signed
        if self.qty == 0:
            self.avg_price = ZERO
            self.stop_armed = True
        elif (self.qty > 0) == (signed > 0):  # flipped: the rest opens at this price
            self.avg_price = price
            self.stop_armed = True
        return realized


@dataclass(slots=True)
class Reservation:
    """What one open order holds, as matching last reported the order.

    It belongs to the order its submit created: it is found by client order id *and*
    symbol, and remembers that submit's command id, so matching's answer to any other
    command (a rejected duplicate, a refused amend, risk's own closing order) never
    touches it. An amend changes nothing until matching applies it: meanwhile the order
    holds the most of what it holds and what each pending amend asked for.
    """

    symbol: str
    side: str
    qty_left: Decimal  # matching's quantity left (the submit's quantity until it says more)
    per_unit: Decimal  # USDT held per unit of quantity still open
    reduce_only: bool = False
    command_id: str = ""  # the submit that created it ("" in records older than the field)
    filled: Decimal = ZERO  # an amend gives the new *total* quantity: left = total - filled
    amends: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    # amend command id -> (quantity left, USDT per unit) it asked for, until matching answers
    mmp: bool = False  # a quote market-maker protection counts, pulls and freezes

    @property
    def qty_held(self) -> Decimal:
        """The most the order may have open once its pending amends are answered."""
        if not self.amends:
            return self.qty_left
        return max([self.qty_left, *(qty for qty, _ in self.amends.values())])

    @property
    def amount(self) -> Decimal:
        if not self.amends:
            return self.qty_left * self.per_unit
        return max([self.qty_left * self.per_unit,
                    *(qty * unit for qty, unit in self.amends.values())])

    def to_json(self) -> list[Any]:
        return [self.symbol, self.side, str(self.qty_left), str(self.per_unit),
                self.reduce_only, self.command_id, str(self.filled),
                [[c, str(q), str(u)] for c, (q, u) in self.amends.items()], self.mmp]

    @classmethod
    def from_json(cls, data: list[Any]) -> Reservation:
        """Also reads the five fields of records written before command ids were kept, and
        the eight before the MMP flag."""
        symbol, side, qty, unit, reduce_only, *rest = data
        command_id, filled, amends, *flag = rest if rest else ("", "0", [])
        return cls(symbol, side, Decimal(qty), Decimal(unit), reduce_only, command_id,
                   Decimal(filled), {c: (Decimal(q), Decimal(u)) for c, q, u in amends},
                   bool(flag and flag[0]))


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # margin_call | liquidation | stop_loss | exposure_limit
    level: str
    message: str
    alert_id: str
    margin_ratio: Decimal | None = None
    symbol: str | None = None


@dataclass(frozen=True, slots=True)
class Trip:
    """Market-maker protection tripped on a fill: the agent cancels the account's MMP quotes
    in the underlying (``cancels``, all in the same batch) and raises ``alert``. ``number``
    makes the ids: the same trip, re-sent after a crash, has the same ones."""

    breach: MmpBreach
    symbol: str  # the fill's instrument
    number: int
    alert: Alert
    cancels: tuple[CancelOrder, ...]


@dataclass
class Revaluation:
    """What a revaluation found: positions to publish, alerts, and orders to send."""

    equity: Decimal
    maintenance: Decimal
    margin_ratio: Decimal | None
    positions: dict[str, tuple[PositionState, Decimal | None, Decimal, Decimal]] = field(
        default_factory=dict)  # symbol -> (state, mark, unrealized, maintenance margin)
    alerts: list[Alert] = field(default_factory=list)
    orders: list[SubmitOrder] = field(default_factory=list)


def _contract_size(inst: Instrument) -> Decimal:
    return inst.contract_size or ONE


def _is_option(inst: Instrument) -> bool:
    return inst.kind is InstrumentKind.OPTION


@dataclass
class AccountState:
    account: str
    cash: Decimal = ZERO
    positions: dict[str, PositionState] = field(default_factory=dict)
    open_orders: dict[str, Reservation] = field(default_factory=dict)  # by client order id
    tokens: float = -1.0  # < 0: a full bucket
    tokens_at_ms: int = 0
    #: command id -> [code or 0, venue time in ms it was decided at]
    decisions: Remembered = field(default_factory=Remembered)
    applied: Remembered = field(default_factory=Remembered)  # activity ids -> 0
    margin_level: str = "ok"  # ok | margin_call | liquidation
    crossings: int = 0
    seq: int = 0
    #: saves so far (:meth:`changes`): the core and each save's ring record carry it
    writes: int = 0
    #: loaded by this process from the store: the first save writes every part
    rewrite_all: bool = field(default=False, repr=False, compare=False)
    #: the saves since the last checkpoint (:class:`~streams.risk.records.Saves`)
    saves: Saves = field(default_factory=Saves, repr=False, compare=False)
    #: client order ids whose reservation changed since the last :meth:`changes`
    touched_orders: set[str] = field(default_factory=set, repr=False, compare=False)
    mmp: MmpState = field(init=False, repr=False, compare=False)
    #: underlying -> its last trip: the fill's activity id ("cause"), symbol, trip number,
    #: venue time and the breach
    mmp_trips: dict[str, dict[str, Any]] = field(default_factory=dict)
    mmp_changed: bool = field(default=False, repr=False, compare=False)
    trips: list[Trip] = field(default_factory=list, repr=False, compare=False)
    #: the account's KYC record as the order database last said: [status, tier, version];
    #: None if it never did (then ``require_kyc`` decides: off = not gated, as before KYC)
    kyc: list[Any] | None = None
    require_kyc: bool = field(default=False, repr=False, compare=False)  # from settings

    def __post_init__(self) -> None:
        self.mmp = MmpState(self.account)

    # -- requests ---------------------------------------------------------------------------
    def decide(self, request: Request, *, now_ms: int, now: datetime, catalogue: Catalogue,
               prices: Prices, limits: RiskLimits, fees: FeeSchedule) -> Decision:
        """Accept or reject a request; a request decided before gets the same answer."""
        known = self.decisions.get(request.command_id)
        expanded: tuple[MassCancel, ...] = ()
        if isinstance(request, CancelAll):  # again on a replay: the ids are the same
            expanded = self._cancels(f"{request.command_id}:", request.ts_sent, catalogue,
                                     underlying=request.underlying, symbol=request.symbol)
        if known is not None:
            code_was, at_ms = known
            return Decision(RiskCode(code_was) if code_was else None, request,
                            _from_ms(at_ms) if at_ms else None, expanded)
        if isinstance(request, SubmitOrder):
            code = self._submit(request, now_ms, now, catalogue, prices, limits, fees)
        elif isinstance(request, AmendOrder):
            code = self._amend(request, catalogue, prices, limits, fees)
        elif isinstance(request, SetMmpConfig | ResetMmp):
            self._set_mmp(request)
            code = None
        else:  # cancels reduce risk: always forwarded (matching knows the book)
            code = None
        self.decisions.add(request.command_id, [int(code) if code else 0, now_ms])
        return Decision(code, request, now, expanded)

    def _cancels(self, prefix: str, ts: datetime, catalogue: Catalogue, *,
                 underlying: str | None = None, symbol: str | None = None
                 ) -> tuple[MassCancel, ...]:
        """One mass cancel (of this account's orders) per instrument it has open orders in,
        within the scope, with ids ``<prefix><symbol>``."""
        symbols = set()
        for held in self.open_orders.values():
            if symbol is not None and held.symbol != symbol:
                continue
            if underlying is not None:
                inst = catalogue.get(held.symbol)
                if inst is None or inst.base != underlying:
                    continue
            symbols.add(held.symbol)
        return tuple(MassCancel(command_id=f"{prefix}{s}", ts_sent=ts, account=self.account,
                                symbol=s) for s in sorted(symbols))

    def _set_mmp(self, request: SetMmpConfig | ResetMmp) -> None:
        """Settings of market-maker protection: kept here, nothing goes to matching."""
        self.mmp_changed = True
        if isinstance(request, ResetMmp):
            self.mmp.reset(request.underlying)
        elif not request.enabled:
            self.mmp.remove(request.underlying)
        else:
            self.mmp.configure(request.underlying, MmpConfig(
                interval_ms=request.interval_ms, frozen_ms=request.frozen_ms,
                qty_limit=request.qty_limit, delta_limit=request.delta_limit,
                vega_limit=request.vega_limit))

    def _rate_ok(self, now_ms: int, limits: RiskLimits) -> bool:
        if self.tokens < 0:
            self.tokens, self.tokens_at_ms = float(limits.order_burst), now_ms
        elapsed = max(0, now_ms - self.tokens_at_ms) / 1000
        self.tokens = min(float(limits.order_burst),
                          self.tokens + elapsed * limits.orders_per_second)
        self.tokens_at_ms = max(self.tokens_at_ms, now_ms)
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def reference_price(self, inst: Instrument, prices: Prices) -> Decimal | None:
        if _is_option(inst):
            return prices.mark(inst.instrument_id)
        return prices.index(inst.base)

    def _tradable(self, symbol: str, client_order_id: str, now: datetime,
                  catalogue: Catalogue) -> Instrument | RiskCode:
        """The instrument a new order (or block leg) trades, or why it cannot: not listed,
        not trading (or expired), or the client order id is taken by an open order."""
        inst = catalogue.get(symbol)
        if inst is None:
            return RiskCode.UNKNOWN_INSTRUMENT
        if inst.status is not TradingStatus.TRADING or (inst.expiry is not None
                                                        and inst.expiry <= now):
            return RiskCode.INSTRUMENT_NOT_TRADING
        if client_order_id in self.open_orders:
            return RiskCode.DUPLICATE_CLIENT_ORDER_ID
        return inst

    def _submit(self, cmd: SubmitOrder, now_ms: int, now: datetime, catalogue: Catalogue,
                prices: Prices, limits: RiskLimits, fees: FeeSchedule) -> RiskCode | None:
        inst = self._tradable(cmd.symbol, cmd.client_order_id, now, catalogue)
        if isinstance(inst, RiskCode):
            return inst
        if cmd.mmp and not cmd.reduce_only and self.mmp.is_frozen(inst.base, now_ms):
            return RiskCode.MMP_FROZEN
        if not self._rate_ok(now_ms, limits):
            return RiskCode.RATE_LIMITED
        if len(self.open_orders) >= limits.max_open_orders:
            return RiskCode.TOO_MANY_OPEN_ORDERS
        reference = self.reference_price(inst, prices)
        band = limits.option_price_band if _is_option(inst) else limits.price_band
        if cmd.price is not None and reference is not None and reference > 0 \
                and abs(cmd.price / reference - ONE) > band:
            return RiskCode.OUTSIDE_PRICE_BAND
        if cmd.price is None and reference is None:
            return RiskCode.NO_REFERENCE_PRICE
        price = cmd.price if cmd.price is not None else reference * (ONE + band)  # type: ignore[operator]
        if not cmd.reduce_only and (kyc_code := self._kyc_refusal(
                price * cmd.qty * _contract_size(inst))) is not None:
            return kyc_code
        opening = self._opening(cmd.symbol, cmd.side, cmd.qty)
        if cmd.reduce_only and opening > 0:
            return RiskCode.REDUCE_ONLY_WOULD_INCREASE
        if opening > 0 and self.margin_level == "liquidation":
            return RiskCode.ACCOUNT_LIQUIDATING
        index = prices.index(inst.base) or (price if not _is_option(inst) else None)
        cs = _contract_size(inst)
        if index is not None and opening > 0:
            exposure = self.exposure(inst.base, catalogue, index) + opening * cs * index
            if exposure > limits.exposure_limit(self.account, inst.base):
                return RiskCode.EXPOSURE_LIMIT
        needed = self._order_requirement(inst, cmd.side, cmd.qty, opening, price, index,
                                         limits, fees)
        if needed > self.available(catalogue, prices, limits):
            return RiskCode.INSUFFICIENT_FUNDS
        self.open_orders[cmd.client_order_id] = Reservation(
            cmd.symbol, cmd.side, cmd.qty, needed / cmd.qty, cmd.reduce_only, cmd.command_id,
            mmp=cmd.mmp)
        self.touched_orders.add(cmd.client_order_id)
        return None

    def reserve_block(self, block: BlockReservation, *, now_ms: int, now: datetime,
                      catalogue: Catalogue, prices: Prices, limits: RiskLimits,
                      fees: FeeSchedule) -> RiskCode | None:
        """Hold this account's side of a block trade before it trades: every leg as an
        order at its agreed price would hold, all or none (a structure's legs are held
        separately: no credit for legs that offset). The checks are an order's, less the
        ones that guard the book (rate, price band, open orders, market-maker protection):
        instrument trading, KYC, liquidation, exposure, funds. The answer is remembered
        under the request's id: a replay gets it again."""
        known = self.decisions.get(block.event_id)
        if known is not None:
            return RiskCode(known[0]) if known[0] else None
        code = self._hold_block(block, now, catalogue, prices, limits, fees)
        self.decisions.add(block.event_id, [int(code) if code else 0, now_ms])
        return code

    def _hold_block(self, block: BlockReservation, now: datetime, catalogue: Catalogue,
                    prices: Prices, limits: RiskLimits, fees: FeeSchedule
                    ) -> RiskCode | None:
        holds: list[tuple[str, Reservation]] = []
        notional, needed_total = ZERO, ZERO
        growth: dict[str, Decimal] = {}  # underlying -> notional the legs open, at the index
        for leg in block.legs:
            inst = self._tradable(leg.symbol, leg.client_order_id, now, catalogue)
            if isinstance(inst, RiskCode):
                return inst
            cs = _contract_size(inst)
            notional += leg.price * leg.qty * cs
            opening = self._opening(leg.symbol, leg.side, leg.qty)
            if opening > 0 and self.margin_level == "liquidation":
                return RiskCode.ACCOUNT_LIQUIDATING
            index = prices.index(inst.base) or (leg.price if not _is_option(inst) else None)
            if index is not None and opening > 0:
                growth[inst.base] = growth.get(inst.base, ZERO) + opening * cs * index
            needed = self._order_requirement(inst, leg.side, leg.qty, opening, leg.price,
                                             index, limits, fees)
            needed_total += needed
            holds.append((leg.client_order_id, Reservation(
                leg.symbol, leg.side, leg.qty, needed / leg.qty, False, leg.command_id)))
        if (kyc_code := self._kyc_refusal(notional)) is not None:
            return kyc_code
        for underlying, more in growth.items():
            index = prices.index(underlying)
            held = self.exposure(underlying, catalogue, index) if index is not None else ZERO
            if held + more > limits.exposure_limit(self.account, underlying):
                return RiskCode.EXPOSURE_LIMIT
        if needed_total > self.available(catalogue, prices, limits):
            return RiskCode.INSUFFICIENT_FUNDS
        for client_order_id, hold in holds:
            self.open_orders[client_order_id] = hold
            self.touched_orders.add(client_order_id)
        return None

    def _release_block(self, release: BlockRelease) -> None:
        """Drop the holds of a clearing that failed: only block holds (an order of the same
        client order id is not a block's)."""
        for client_order_id in release.client_order_ids:
            held = self.open_orders.get(client_order_id)
            if held is not None and held.command_id.startswith(f"rfq:{release.rfq_id}:"):
                del self.open_orders[client_order_id]
                self.touched_orders.add(client_order_id)

    def _kyc_refusal(self, notional: Decimal) -> RiskCode | None:
        """Compliance's order gate (the same function the counter service calls) on the
        order's notional; reduce-only orders are never gated (closing lowers exposure)."""
        if self.kyc is None and not self.require_kyc:
            return None
        status, tier = (self.kyc[0], self.kyc[1]) if self.kyc else (KycStatus.NONE, 0)
        gate = check_order(KycState(self.account, status, tier), notional)
        if gate or gate.code is ComplianceCode.INVALID_AMOUNT:  # a zero-priced order: not ours
            return None
        if gate.code is ComplianceCode.ORDER_NOTIONAL_LIMIT_EXCEEDED:
            return RiskCode.KYC_ORDER_LIMIT
        return RiskCode.KYC_TRADING_NOT_ALLOWED

    def _opening(self, symbol: str, side: str, qty: Decimal, exclude: str | None = None
                 ) -> Decimal:
        """The part of an order of ``qty`` that would open (or grow) a position: what the
        position lets it close, less what open reduce-only orders (but ``exclude``) close."""
        position = self.positions.get(symbol, PositionState())
        closable = max(-position.qty, ZERO) if side == "buy" else max(position.qty, ZERO)
        pending_closes = sum((r.qty_left for c, r in self.open_orders.items()
                              if r.symbol == symbol and r.side == side and r.reduce_only
                              and c != exclude), ZERO)
        return qty - min(qty, max(closable - pending_closes, ZERO))

    def _order_requirement(self, inst: Instrument, side: str, qty: Decimal, opening: Decimal,
                           price: Decimal, index: Decimal | None, limits: RiskLimits,
                           fees: FeeSchedule) -> Decimal:
        """USDT an order holds while open: price and fee buying; fee and, for the part that
        opens a short, its initial margin selling."""
        cs = _contract_size(inst)
        notional = qty * cs * price
        fee = fees.max_fee(notional, option=_is_option(inst))
        if side == "buy":
            return notional + fee
        if opening <= 0:
            return fee
        reference = index if index is not None else price
        if _is_option(inst):
            return fee + margin.short_option_initial(
                limits, qty=opening, contract_size=cs, index=reference,
                strike=inst.strike or ZERO, right=str(inst.right))
        return fee + margin.short_spot_initial(limits, qty=opening, index=reference)

    def _amend(self, cmd: AmendOrder, catalogue: Catalogue, prices: Prices,
               limits: RiskLimits, fees: FeeSchedule) -> RiskCode | None:
        """Check what the amended order would hold, and hold it until matching answers:
        nothing changes before then (matching may refuse the amend)."""
        held = self.held(cmd.symbol, cmd.client_order_id)
        inst = catalogue.get(cmd.symbol)
        if held is None or inst is None:
            return None  # matching answers for orders risk does not hold
        qty = cmd.new_qty - held.filled if cmd.new_qty is not None else held.qty_left
        if qty <= 0:
            return None  # not above what already filled: matching refuses it, nothing held
        if cmd.new_price is None and qty <= held.qty_left:
            held.amends[cmd.command_id] = (qty, held.per_unit)  # smaller: holds no more
            return None
        cs = _contract_size(inst)
        reference = self.reference_price(inst, prices)
        band = limits.option_price_band if _is_option(inst) else limits.price_band
        if cmd.new_price is not None and reference is not None and reference > 0 \
                and abs(cmd.new_price / reference - ONE) > band:
            return RiskCode.OUTSIDE_PRICE_BAND
        index = prices.index(inst.base)
        grow = qty - held.qty_held
        if grow > 0 and not held.reduce_only and index is not None and \
                self.exposure(inst.base, catalogue, index) + grow * cs * index \
                > limits.exposure_limit(self.account, inst.base):
            return RiskCode.EXPOSURE_LIMIT
        if cmd.new_price is not None:
            price = cmd.new_price
        elif held.side == "sell" and reference is not None:
            # the limit is not kept; a sell's hold is fee + margin, no price: take the worst
            # price the band allowed, as for a market order
            price = reference * (ONE + band)
        else:
            price = held.per_unit / cs  # a buy's hold per unit is its price plus the fee
        opening = self._opening(held.symbol, held.side, qty, exclude=cmd.client_order_id)
        needed = self._order_requirement(inst, held.side, qty, opening, price, index, limits,
                                         fees)
        if needed - held.amount > self.available(catalogue, prices, limits):
            return RiskCode.INSUFFICIENT_FUNDS
        held.amends[cmd.command_id] = (qty, needed / qty)
        return None

    def held(self, symbol: str, client_order_id: str | None) -> Reservation | None:
        """The reservation of the open order ``client_order_id`` on ``symbol``. The symbol
        matters: matching keeps client order ids per instrument, so an event about an order
        of the same id on another instrument (risk's own closing order, or one finished
        long ago) is not about this one."""
        held = self.open_orders.get(client_order_id or "")
        if held is None or held.symbol != symbol:
            return None
        self.touched_orders.add(client_order_id or "")  # callers may change or drop it
        return held

    # -- what the account holds -------------------------------------------------------------
    def exposure(self, underlying: str, catalogue: Catalogue, index: Decimal) -> Decimal:
        """Gross notional of positions and open orders in one underlying, at the index."""
        total = ZERO
        for symbol, pos in self.positions.items():
            inst = catalogue.get(symbol)
            if inst is not None and inst.base == underlying:
                total += abs(pos.qty) * _contract_size(inst) * index
        for held in self.open_orders.values():
            inst = catalogue.get(held.symbol)
            if inst is not None and inst.base == underlying and not held.reduce_only:
                total += held.qty_held * _contract_size(inst) * index
        return total

    def reserved(self) -> Decimal:
        return sum((r.amount for r in self.open_orders.values()), ZERO)

    def _margins(self, catalogue: Catalogue, prices: Prices, limits: RiskLimits
                 ) -> tuple[Decimal, Decimal, Decimal]:
        """(initial margin of shorts, maintenance margin of shorts, shorts at mark)."""
        initial = maintenance = liability = ZERO
        for symbol, pos in self.positions.items():
            if pos.qty >= 0:
                continue
            inst = catalogue.get(symbol)
            if inst is None:
                continue
            cs = _contract_size(inst)
            index = prices.index(inst.base) or pos.avg_price
            mark = self.reference_price(inst, prices) or pos.avg_price
            liability += pos.qty * cs * mark
            if _is_option(inst):
                initial += margin.short_option_initial(
                    limits, qty=pos.qty, contract_size=cs, index=index,
                    strike=inst.strike or ZERO, right=str(inst.right))
                maintenance += margin.short_option_maintenance(
                    limits, qty=pos.qty, contract_size=cs, index=index)
            else:
                initial += margin.short_spot_initial(limits, qty=pos.qty, index=index)
                maintenance += margin.short_spot_maintenance(limits, qty=pos.qty, index=index)
        return initial, maintenance, liability

    def available(self, catalogue: Catalogue, prices: Prices, limits: RiskLimits) -> Decimal:
        initial, _, liability = self._margins(catalogue, prices, limits)
        return self.cash + liability - initial - self.reserved()

    # -- activity ---------------------------------------------------------------------------
    def apply(self, activity: Activity, catalogue: Catalogue, prices: Prices | None = None,
              now_ms: int = 0) -> bool:
        """Apply a fill, release, transfer or expiry once; False if applied before.

        ``now_ms`` (the venue's time of the activity) and ``prices`` (the fill's Greeks)
        feed market-maker protection. A fill applied before that tripped it trips again
        (same ids): the crash that made the replay may have lost the trip's output."""
        if activity.event_id in self.applied:
            self._trip_again(activity.event_id, catalogue)
            return False
        self.applied.add(activity.event_id, 0)
        self.seq += 1
        if isinstance(activity, Fill):
            self.cash += activity.cash - activity.fee
            inst = catalogue.get(activity.symbol)
            cs = _contract_size(inst) if inst is not None else ONE
            self.positions.setdefault(activity.symbol, PositionState()).apply(
                activity.side, activity.qty, activity.price, cs)
            order = self.open_orders.get(activity.client_order_id or "")
            quote = order is not None and order.symbol == activity.symbol and order.mmp
            self._filled(activity)
            if inst is not None and quote:  # only MMP quotes count (Deribit: mmp-tagged)
                self._mmp_fill(activity, inst, prices, now_ms, catalogue)
        elif isinstance(activity, OrderReleased):
            self._released(activity)
        elif isinstance(activity, BlockRelease):
            self._release_block(activity)
        elif isinstance(activity, FundsTransferred | PremiumPaid):
            self.cash += activity.amount
        elif isinstance(activity, KycChanged):
            if self.kyc is None or activity.version >= self.kyc[2]:  # the newest row wins
                self.kyc = [activity.status, activity.tier, activity.version]
        else:  # PositionExpired
            self.cash += activity.payout
            pos = self.positions.get(activity.symbol)
            if pos is not None:
                inst = catalogue.get(activity.symbol)
                cs = _contract_size(inst) if inst is not None else ONE
                pos.realized += activity.payout - pos.qty * pos.avg_price * cs
                pos.qty, pos.avg_price = ZERO, ZERO
        return True

    def _filled(self, fill: Fill) -> None:
        held = self.held(fill.symbol, fill.client_order_id)
        if held is None:
            return
        held.qty_left -= fill.qty
        held.filled += fill.qty
        if held.qty_left <= 0:
            del self.open_orders[fill.client_order_id or ""]

    def _mmp_fill(self, fill: Fill, inst: Instrument, prices: Prices | None, now_ms: int,
                  catalogue: Catalogue) -> None:
        """Count the fill against the underlying's protection, if the maker set one. An
        option's delta and vega are its last mark's (none yet: only the quantity counts);
        spot has delta 1 and no vega."""
        underlying = inst.base
        if underlying not in self.mmp.configs:
            return
        self.mmp_changed = True
        cs = _contract_size(inst)
        if _is_option(inst):
            greeks = prices.greeks(inst.instrument_id) if prices is not None else None
            delta, vega = greeks if greeks is not None else (ZERO, ZERO)
        else:
            delta, vega = ONE, ZERO
        breach = self.mmp.on_fill(underlying, now_ms, fill.side, fill.qty, delta * cs, vega * cs)
        if breach is None:
            return
        self.crossings += 1
        self.mmp_trips[underlying] = {
            "cause": fill.event_id, "symbol": fill.symbol, "number": self.crossings,
            "ts_ms": now_ms, "reason": breach.reason, "value": str(breach.value),
            "limit": str(breach.limit), "until_ms": breach.frozen_until_ms}
        self.trips.append(self._trip(underlying, self.mmp_trips[underlying], catalogue))

    def _trip(self, underlying: str, trip: dict[str, Any], catalogue: Catalogue) -> Trip:
        """What a trip sends, from its stored record (so a replay sends the same)."""
        breach = MmpBreach(underlying=underlying, reason=trip["reason"],
                           value=Decimal(trip["value"]), limit=Decimal(trip["limit"]),
                           frozen_until_ms=trip["until_ms"], at_ms=trip["ts_ms"])
        until = ("until reset" if breach.frozen_until_ms is None
                 else f"until {_from_ms(breach.frozen_until_ms):%H:%M:%S.%f} UTC")
        number = trip["number"]
        alert = Alert("mmp", "critical",
                      f"market-maker protection: {underlying} {breach.reason} {breach.value} "
                      f"reached the limit {breach.limit}; orders cancelled, new ones refused "
                      f"{until}", f"risk-alert:{self.account}:mmp-{number}",
                      symbol=trip["symbol"])
        return Trip(breach, trip["symbol"], number, alert,
                    self._quote_cancels(f"mmp:{self.account}:{number}:",
                                        _from_ms(trip["ts_ms"]), catalogue, underlying))

    def _quote_cancels(self, prefix: str, ts: datetime, catalogue: Catalogue,
                       underlying: str) -> tuple[CancelOrder, ...]:
        """A cancel of each open MMP quote of the account in ``underlying`` (ids
        ``<prefix><client order id>``); orders without the flag stay (Deribit's rule)."""
        out = []
        for coid, held in sorted(self.open_orders.items()):
            inst = catalogue.get(held.symbol)
            if held.mmp and inst is not None and inst.base == underlying:
                out.append(CancelOrder(command_id=f"{prefix}{coid}", ts_sent=ts,
                                       account=self.account, symbol=held.symbol,
                                       client_order_id=coid))
        return tuple(out)

    def _trip_again(self, activity_id: str, catalogue: Catalogue) -> None:
        for underlying, trip in self.mmp_trips.items():
            if trip["cause"] == activity_id:
                self.trips.append(self._trip(underlying, trip, catalogue))

    def take_trips(self) -> list[Trip]:
        """The trips of market-maker protection since the last call (the agent sends them)."""
        trips, self.trips = self.trips, []
        return trips

    def _released(self, released: OrderReleased) -> None:
        """An applied amend sets the quantity left matching reports; a rejection releases
        only what its own command reserved; a finished order releases all. Anything else
        changes nothing: releasing too little is safe, too much is not."""
        held = self.held(released.symbol, released.client_order_id)
        if held is None:
            return
        if released.leaves_qty is not None:  # matching applied an amend
            command = released.command_id
            asked = held.amends.pop(command, None) if command is not None else None
            held.qty_left = released.leaves_qty
            if asked is not None:
                held.per_unit = asked[1]
            return
        if released.reason in _REJECTIONS:
            self._rejected(held, released)
        elif released.reason in _LEFT_THE_BOOK:
            del self.open_orders[released.client_order_id or ""]

    def _rejected(self, held: Reservation, rejection: OrderReleased) -> None:
        """A rejection releases only what its own command reserved: the whole order if it
        is the submit that created it (it never rested), the hold of a refused amend;
        otherwise nothing (a rejected duplicate, cancel or amend is not the live order)."""
        command = rejection.command_id
        if command is not None:
            held.amends.pop(command, None)
        if command is not None and held.command_id:
            of_its_submit = command == held.command_id
        else:  # booked, or reserved, before releases named their command: a rejection is
            # the submit's, unless risk made it (its rejections never created an order)
            of_its_submit = rejection.reason == "rejected" and not (
                rejection.causation_id or "").startswith(RISK_EVENT_PREFIX)
        if of_its_submit:
            del self.open_orders[rejection.client_order_id or ""]

    # -- revaluation ------------------------------------------------------------------------
    def revalue(self, catalogue: Catalogue, prices: Prices, limits: RiskLimits,
                now: datetime) -> Revaluation:
        """Mark every position, and act on thresholds crossed since the last revaluation."""
        _, maintenance, _ = self._margins(catalogue, prices, limits)
        equity = self.cash
        out = Revaluation(equity=ZERO, maintenance=maintenance, margin_ratio=None)
        for symbol, pos in self.positions.items():
            inst = catalogue.get(symbol)
            mark = self.reference_price(inst, prices) if inst is not None else None
            cs = _contract_size(inst) if inst is not None else ONE
            unrealized = (mark - pos.avg_price) * pos.qty * cs if mark is not None else ZERO
            equity += pos.qty * cs * (mark if mark is not None else pos.avg_price)
            pos_mm = ZERO
            if pos.qty < 0 and inst is not None:
                index = prices.index(inst.base) or pos.avg_price
                pos_mm = (margin.short_option_maintenance(limits, qty=pos.qty, contract_size=cs,
                                                          index=index) if _is_option(inst)
                          else margin.short_spot_maintenance(limits, qty=pos.qty, index=index))
            out.positions[symbol] = (pos, mark, unrealized, pos_mm)
            self._stop_loss(symbol, pos, unrealized, cs, limits, out, now)
        out.equity = equity
        if maintenance > 0:
            out.margin_ratio = maintenance / equity if equity > 0 else Decimal("999")
        self._margin_alerts(out, limits, now)
        return out

    def _close_order(self, symbol: str, pos: PositionState, why: str,
                     now: datetime) -> SubmitOrder:
        self.crossings += 1
        tag = f"{why}-{self.crossings}"
        return SubmitOrder(command_id=f"risk:{self.account}:{tag}:{symbol}", ts_sent=now,
                           account=self.account, symbol=symbol, client_order_id=tag,
                           side="sell" if pos.qty > 0 else "buy", order_type="market",
                           qty=abs(pos.qty), time_in_force="IOC", reduce_only=True)

    def _stop_loss(self, symbol: str, pos: PositionState, unrealized: Decimal, cs: Decimal,
                   limits: RiskLimits, out: Revaluation, now: datetime) -> None:
        if limits.stop_loss <= 0 or pos.qty == 0:
            return
        entry = abs(pos.qty) * pos.avg_price * cs
        losing = entry > 0 and -unrealized >= limits.stop_loss * entry
        if losing and pos.stop_armed:
            pos.stop_armed = False
            order = self._close_order(symbol, pos, "stop", now)
            out.orders.append(order)
            out.alerts.append(Alert("stop_loss", "warning",
                                    f"{symbol}: loss {-unrealized:.2f} USDT reached "
                                    f"{limits.stop_loss:.0%} of entry; closing",
                                    f"risk-alert:{self.account}:{order.client_order_id}",
                                    symbol=symbol))
        elif not losing and -unrealized < limits.stop_loss * entry / 2:
            pos.stop_armed = True  # re-arms once the loss has clearly receded

    def _margin_alerts(self, out: Revaluation, limits: RiskLimits, now: datetime) -> None:
        ratio = out.margin_ratio if out.margin_ratio is not None else ZERO
        level = ("liquidation" if ratio >= limits.liquidation_ratio
                 else "margin_call" if ratio >= limits.margin_call_ratio else "ok")
        order = {"ok": 0, "margin_call": 1, "liquidation": 2}
        previous, self.margin_level = self.margin_level, level
        if order[level] <= order[previous]:
            return
        self.crossings += 1
        alert_id = f"risk-alert:{self.account}:{level}-{self.crossings}"
        if level == "margin_call":
            out.alerts.append(Alert("margin_call", "warning",
                                    f"margin ratio {ratio:.2f} reached the margin call level "
                                    f"{limits.margin_call_ratio}", alert_id, ratio))
            return
        out.alerts.append(Alert("liquidation", "critical",
                                f"margin ratio {ratio:.2f} reached {limits.liquidation_ratio}: "
                                "closing every position", alert_id, ratio))
        for symbol, pos in self.positions.items():
            if pos.qty != 0:
                out.orders.append(self._close_order(symbol, pos, "liq", now))

    # -- persistence ------------------------------------------------------------------------
    # -- the stored form -------------------------------------------------------------------
    def changes(self) -> dict[str, Any]:
        """What to write to the state store since the last call, by part (see
        :mod:`streams.risk.records`): always the core (cash, positions, rate bucket: small);
        the open-order buckets holding a touched order; the decision and activity-id
        segments that changed. ``None`` deletes a part. A batch writes what it changed, not
        the account's whole history, so the changelog grows with the work done."""
        self.writes += 1
        out: dict[str, Any] = {CORE: {
            "account": self.account, "cash": str(self.cash), "seq": self.seq, "w": self.writes,
            "positions": {s: [str(p.qty), str(p.avg_price), str(p.realized), p.stop_armed]
                          for s, p in self.positions.items()},
            "tokens": self.tokens, "tokens_at_ms": self.tokens_at_ms,
            "margin_level": self.margin_level, "crossings": self.crossings,
            "decisions_head": self.decisions.head, "applied_head": self.applied.head,
            "kyc": self.kyc}}
        buckets = {order_bucket(c) for c in self.touched_orders}
        self.touched_orders.clear()
        if self.rewrite_all:
            self.rewrite_all = False
            buckets = set(range(ORDER_BUCKETS))
            self.decisions.mark_all()
            self.applied.mark_all()
            self.mmp_changed = self.mmp_changed or bool(self.mmp.configs or self.mmp_trips)
        if buckets:
            held: dict[int, dict[str, Any]] = {b: {} for b in buckets}
            for coid, reservation in self.open_orders.items():
                if (b := order_bucket(coid)) in held:
                    held[b][coid] = reservation.to_json()
            out.update({orders_part(b): held[b] or None for b in buckets})
        out.update({decisions_part(n): seg for n, seg in self.decisions.changes().items()})
        out.update({applied_part(n): seg for n, seg in self.applied.changes().items()})
        if self.mmp_changed:
            self.mmp_changed = False
            out[MMP] = {"state": self.mmp.to_record(), "trips": self.mmp_trips}
        return out

    def store_writes(self) -> list[tuple[str, Any]]:
        """What the next save writes, key by key (:meth:`Saves.plan` of :meth:`changes`):
        one ring record, and now and then a checkpoint; everything after a load
        (``rewrite_all``)."""
        full = self.rewrite_all  # read first: changes() clears it
        return self.saves.plan(self.changes(), full=full)

    @classmethod
    def load(cls, account: str, read: Callable[[str], Any]) -> AccountState | None:
        """The account from its stored parts (``read(part)``, ``None`` if absent); ``None``
        for an account never stored. Also reads the one-record form written before parts
        (everything in the core record)."""
        read, saves = read_parts(read)
        core = read(CORE)
        if core is None:
            return None
        state = cls(
            account=core["account"], cash=Decimal(core["cash"]), seq=core["seq"],
            writes=core.get("w", 0),
            positions={s: PositionState(Decimal(q), Decimal(a), Decimal(r), armed)
                       for s, (q, a, r, armed) in core["positions"].items()},
            tokens=core["tokens"], tokens_at_ms=core["tokens_at_ms"],
            margin_level=core["margin_level"], crossings=core["crossings"],
            kyc=core.get("kyc"), saves=saves)
        if "open_orders" in core:  # the one-record form
            state.open_orders = {c: Reservation.from_json(r)
                                 for c, r in core["open_orders"].items()}
            for item in core["decisions"]:
                command, code, *rest = item
                state.decisions.add(command, [code, rest[0] if rest else 0])
            for ident in core["applied"]:
                state.applied.add(ident, 0)
            state.touched_orders = set(state.open_orders)  # written out in parts next time
            return state
        for b in range(ORDER_BUCKETS):
            for coid, data in (read(orders_part(b)) or {}).items():
                state.open_orders[coid] = Reservation.from_json(data)
        if (mmp := read(MMP)) is not None:
            state.mmp = MmpState.from_record(mmp["state"])
            state.mmp_trips = mmp["trips"]
        state.decisions.load(core["decisions_head"], lambda n: read(decisions_part(n)))
        state.applied.load(core["applied_head"], lambda n: read(applied_part(n)))
        return state


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
