"""Builders shared by the risk unit tests: a catalogue, settable prices, commands, fills."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from streams.instruments import Catalogue, listings_at
from streams.ledger import FeeSchedule
from streams.risk import AccountState, Decision, RiskLimits
from topics.contracts import Fill, FundsTransferred, OrderReleased, SubmitOrder

D = Decimal
NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
CATALOGUE = listings_at(NOW)  # what the venue listed at NOW
FEES = FeeSchedule()
BTC_CALL = "BTC-20260109-100000-C"  # expires 2026-01-09 08:00 UTC
BTC_CALL_110 = "BTC-20260109-110000-C"
BTC_PUT_95 = "BTC-20260109-95000-P"


@dataclass
class FakePrices:
    """Index per underlying and mark per option, settable by the test."""

    indices: dict[str, Decimal] = field(default_factory=lambda: {"BTC": D(100_000),
                                                                 "ETH": D(3500)})
    marks: dict[str, Decimal] = field(default_factory=dict)
    greek: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # delta, vega

    def index(self, underlying: str) -> Decimal | None:
        return self.indices.get(underlying)

    def mark(self, symbol: str) -> Decimal | None:
        return self.marks.get(symbol)

    def greeks(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        return self.greek.get(symbol)


_n = 0


def _next() -> int:
    global _n
    _n += 1
    return _n


def submit(symbol: str = "BTC-USDT", side: str = "buy", qty: str = "0.01",
           price: str | None = "100000", *, coid: str | None = None, account: str = "acc-1",
           command_id: str | None = None, reduce_only: bool = False,
           mmp: bool = False) -> SubmitOrder:
    n = _next()
    return SubmitOrder(command_id=command_id or f"cmd-{n}", ts_sent=NOW, account=account,
                       symbol=symbol, client_order_id=coid or f"c-{n}", side=side,
                       order_type="limit" if price is not None else "market", qty=D(qty),
                       price=D(price) if price is not None else None,
                       time_in_force="GTC" if price is not None else "IOC",
                       reduce_only=reduce_only, mmp=mmp)


def decide(state: AccountState, request: Any, *, prices: FakePrices | None = None,
           limits: RiskLimits | None = None, catalogue: Catalogue = CATALOGUE,
           now_ms: int = NOW_MS, now: datetime = NOW) -> Decision:
    return state.decide(request, now_ms=now_ms, now=now, catalogue=catalogue,
                        prices=prices or FakePrices(), limits=limits or RiskLimits(),
                        fees=FEES)


def deposit(state: AccountState, amount: str) -> None:
    n = _next()
    state.apply(FundsTransferred(event_id=f"transfer:{n}", ts_event=NOW, account=state.account,
                                 transfer_id=str(n), amount=D(amount), reference="deposit"),
                CATALOGUE)


def fill(state: AccountState, symbol: str, side: str, qty: str, price: str, *,
         coid: str | None = None, maker: bool = False, event_id: str | None = None) -> Fill:
    """A fill as booking would build it (cash = -/+ notional, fee from the schedule)."""
    inst = CATALOGUE[symbol]
    notional = D(price) * D(qty) * (inst.contract_size or D(1))
    n = _next()
    activity = Fill(event_id=event_id or f"fill:T{n}:{'maker' if maker else 'taker'}",
                    ts_event=NOW + timedelta(milliseconds=n), account=state.account,
                    symbol=symbol, trade_id=f"T{n}", order_id=f"o-{n}", client_order_id=coid,
                    side=side, liquidity="maker" if maker else "taker", price=D(price),
                    qty=D(qty), cash=-notional if side == "buy" else notional,
                    fee=FEES.fee(notional, option=inst.is_option, maker=maker))
    state.apply(activity, CATALOGUE)
    return activity


def release(state: AccountState, coid: str, reason: str = "cancelled", *,
            symbol: str = "BTC-USDT", command_id: str | None = None,
            leaves_qty: str | None = None, causation_id: str | None = None) -> None:
    """An ``OrderReleased`` as booking builds it: ``command_id`` for matching's answer to one
    command (a rejection, an applied amend with ``leaves_qty``)."""
    n = _next()
    state.apply(OrderReleased(event_id=f"release:{n}", ts_event=NOW, account=state.account,
                              symbol=symbol, order_id=f"o-{n}", client_order_id=coid,
                              reason=reason, command_id=command_id,
                              leaves_qty=D(leaves_qty) if leaves_qty is not None else None,
                              causation_id=causation_id), CATALOGUE)
