"""One small, consistent day of every analytic topic, for the sink and report tests.

Everything is named after ``tag`` (unique per test) so tests sharing Kafka never see each
other's rows. The expected figures the tests assert are computed by hand in the comments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid5

from pydantic import BaseModel

from topics.contracts import (
    Candle,
    CaseEvidence,
    ComplianceCase,
    ExpirySettled,
    HedgeFill,
    IndexPrice,
    LedgerEntry,
    OptionMark,
    OrderEvent,
    Position,
    RiskAlert,
    SettlementResult,
    Trade,
)
from topics.contracts.cdc import OptionOrderEvent
from topics.contracts.rfq import RfqLeg, RfqUpdate
from topics.contracts.routing import ParentOrderReport

__all__ = ["DAY", "Sample", "sample"]

DAY = datetime(2026, 11, 23, tzinfo=UTC)
T0 = DAY + timedelta(hours=9)
D = Decimal


@dataclass
class Sample:
    tag: str
    symbol: str
    alice: str
    bob: str
    orders: list[UUID]
    messages: list[tuple[str, str, BaseModel]] = field(default_factory=list)

    def add(self, topic: str, key: str, message: BaseModel) -> None:
        self.messages.append((topic, key, message))


def _trade(s: Sample, n: int, price: str, qty: str, second: int) -> Trade:
    return Trade(event_id=f"{s.symbol}:{10 + n}", ts_event=T0 + timedelta(seconds=second),
                 symbol=s.symbol, trade_id=f"{s.tag}-t{n}", price=D(price), qty=D(qty),
                 aggressor_side="buy", maker_order_id=f"{s.tag}-m{n}",
                 taker_order_id=f"{s.tag}-k{n}", maker_account=s.bob, taker_account=s.alice,
                 seq=10 + n)


def _ledger(s: Sample, posting: str, leg: int, account: str, amount: str, kind: str,
            second: int, symbol: str | None = None) -> LedgerEntry:
    return LedgerEntry(event_id=f"{s.tag}-{posting}:{leg}", posting_id=f"{s.tag}-{posting}",
                       ts_event=T0 + timedelta(seconds=second), account=account,
                       amount=D(amount), kind=kind, reference=f"{s.tag}-{posting}",
                       symbol=symbol)  # type: ignore[arg-type]


def _option_order(s: Sample, i: int, premium: str) -> OptionOrderEvent:
    order = s.orders[i]
    return OptionOrderEvent(
        event_id=f"option-order:{order}:open", ts_event=T0 + timedelta(minutes=5 + i),
        order_id=order, account=s.alice, client_order_id=f"{s.tag}-c{i}",
        product="BTC-20261225-100000-C", underlying="BTC", strike=D(100000),
        expiry=datetime(2026, 12, 25, 8, tzinfo=UTC), option_type="call",
        contract_size=D("0.01"), side="buy", contracts=D(2), underlying_price=D(90000),
        iv=D("0.55"), price=D(premium) / 2 / D("0.01"), premium=D(premium), fee=D("1.5"),
        total=D(premium) + D("1.5"), status="open", ordered_at=T0 + timedelta(minutes=5 + i),
        source="stream", source_lsn=1000 + i)


def _result(s: Sample, i: int, state: str, minute: int, premium: str | None = None
            ) -> SettlementResult:
    order = str(s.orders[i])
    return SettlementResult(event_id=f"settlement:{order}:{state}", order_id=order,
                            ts_event=T0 + timedelta(minutes=minute), account=s.alice,
                            state=state,  # type: ignore[arg-type]
                            product="BTC-20261225-100000-C", underlying="BTC",
                            premium=D(premium) if premium else None)


def sample(tag: str) -> Sample:
    """Three trades, two order events, a balanced ledger, two position versions, a risk
    alert, index prices, a mark, three option orders (ok, premium mismatch, not booked), a
    hedge and an expiry.

    Expected: volume 4, notional 100*1.5 + 102*2 + 101*0.5 = 404.5, VWAP 101.125, open 100,
    close 101, high 102, low 100; alice's fees 0.404 + 1.5 = 1.904; her balance
    1000 - 404.5 - 0.404 - 1.5 = 593.596; her position v2: realized 7, unrealized -2.5.
    """
    symbol = f"X{tag.upper()}-USDT"
    s = Sample(tag, symbol, f"alice-{tag}", f"bob-{tag}",
               [uuid5(UUID(int=0), f"{tag}:{i}") for i in range(3)])
    for n, (price, qty, second) in enumerate([("100", "1.5", 1), ("102", "2", 20),
                                              ("101", "0.5", 40)]):
        s.add("trades", symbol, _trade(s, n, price, qty, second))
    s.add("orders.events", symbol, OrderEvent(
        event_id=f"{symbol}:1", ts_event=T0, symbol=symbol, seq=1, kind="accepted",
        account=s.alice, client_order_id=f"{tag}-c", order_id=f"{tag}-k0", side="buy",
        order_type="limit", time_in_force="GTC", price=D(102), qty=D(4), leaves_qty=D(4)))
    s.add("orders.events", symbol, OrderEvent(
        event_id=f"{symbol}:2", ts_event=T0, symbol=symbol, seq=2, kind="rejected",
        account=s.bob, reason_code=1001, reason="price outside band"))
    for entry in [
        _ledger(s, "dep", 0, s.alice, "1000", "transfer", 0),
        _ledger(s, "dep", 1, "house:cash", "-1000", "transfer", 0),
        _ledger(s, "trade", 0, s.alice, "-404.5", "trade", 41, symbol),
        _ledger(s, "trade", 1, s.bob, "404.5", "trade", 41, symbol),
        _ledger(s, "fee", 0, s.alice, "-0.404", "fee", 41, symbol),
        _ledger(s, "fee", 1, "house:fees", "0.404", "fee", 41, symbol),
        _ledger(s, "ofee", 0, s.alice, "-1.5", "fee", 300, "BTC-20261225-100000-C"),
        _ledger(s, "ofee", 1, "house:fees", "1.5", "fee", 300, "BTC-20261225-100000-C"),
    ]:
        s.add("ledger", entry.account, entry)
    for seq, realized, unrealized in [(1, "0", "1"), (2, "7", "-2.5")]:
        s.add("positions", f"{s.alice}|{symbol}", Position(
            event_id=f"{s.alice}:{symbol}:{seq}", ts_event=T0 + timedelta(seconds=41 + seq),
            account=s.alice, symbol=symbol, qty=D(4), avg_price=D("101.125"),
            realized_pnl=D(realized), unrealized_pnl=D(unrealized), mark_price=D("100.5"),
            seq=seq))
    s.add("rfq.events", f"rfq-{tag}", RfqUpdate(
        event_id=f"rfq-{tag}:3", ts_event=T0 + timedelta(minutes=1), rfq_id=f"rfq-{tag}",
        seq=3, kind="rfq_accepted", account=s.alice, maker=s.bob, quote_id="q1", side="buy",
        price=D("1500"), amount=D(2), trade_id=f"rfq:rfq-{tag}",
        legs=[RfqLeg(symbol="BTC-20261225-100000-C", side="buy"),
              RfqLeg(symbol="BTC-20261225-110000-C", side="sell")],
        leg_prices=[D(2000), D(500)]))
    s.add("routing.reports", f"route-{tag}", ParentOrderReport(
        event_id=f"route:route-{tag}:2", ts_event=T0 + timedelta(minutes=1),
        parent_id=f"route-{tag}", version=2, account=s.alice, symbol="BTC-USDT", side="buy",
        status="done", final=True, qty=D("0.5"), filled_qty=D("0.5"), remainder=D(0),
        vwap=D("90010"), arrival_price=D("90000"), slippage_bps=D("1.11"),
        all_in_slippage_bps=D("8.11"), fees=D("31.5"),
        venue_shares={"binance": D("0.6"), "okx": D("0.4")}, rounds=1, children=[]))
    s.add("compliance.cases", s.alice, ComplianceCase(
        event_id=f"wash_trade:{s.alice}:{s.tag}-t1", ts_event=T0 + timedelta(seconds=1),
        case_id=f"wash_trade:{s.alice}:{s.tag}-t1", rule="wash_trade", code=7304,
        account=s.alice, accounts=[s.alice, s.bob], severity="high",
        summary=f"{s.alice} bought from related account {s.bob}", source="trades",
        evidence=[CaseEvidence(kind="trade", event_id=f"{s.tag}-t1", account=s.alice,
                               side="buy", amount=D("100"), ts_ms=1, symbol=s.symbol,
                               price=D("100"), qty=D(1), counterparty=s.bob)]))
    s.add("risk.alerts", s.alice, RiskAlert(
        event_id=f"risk:{s.alice}:margin_call:1", ts_event=T0 + timedelta(minutes=2),
        account=s.alice, kind="margin_call", level="warning", message="margin ratio 0.8",
        margin_ratio=D("0.8"), symbol=symbol))
    for i, price in enumerate(["90000.5", "90010.25"]):
        s.add("md.index", "BTC", IndexPrice(
            event_id=f"BTC:index:{tag}:{i}", ts_event=T0 + timedelta(seconds=i),
            underlying="BTC", price=D(price), venues_used=["binance", "okx"],
            venues_excluded=["kraken"], exclusions={"kraken": "stale"}))
    s.add("md.marks", "BTC-20261225-100000-C", OptionMark(
        event_id=f"BTC-20261225-100000-C:mark:BTC:index:{tag}:1", ts_event=T0,
        symbol="BTC-20261225-100000-C", underlying_price=D("90010.25"), mark_price=D("2100.5"),
        iv=D("0.55"), delta=D("0.3512345678901234567891"), gamma=D("0.00001"),
        vega=D("120.5"), theta=D("-45.25"), expiry=datetime(2026, 12, 25, 8, tzinfo=UTC)))
    s.add("md.candles", symbol, Candle(
        event_id=f"{symbol}:1m:{T0.isoformat()}", ts_event=T0, symbol=symbol, interval="1m",
        window_start=T0, window_end=T0 + timedelta(minutes=1), open=D(100), high=D(102),
        low=D(100), close=D(101), volume=D(4), notional=D("404.5"), vwap=D("101.125"),
        trades=3, version=1, final=True))
    # o0 booked at its premium (ok), o1 booked at another premium, o2 never booked.
    for i, premium in enumerate(["210", "150", "99.5"]):
        s.add("settlement.orders", str(s.orders[i]), _option_order(s, i, premium))
    for state, minute in [("pending", 6), ("hedging", 6), ("hedged", 7), ("booked", 8)]:
        s.add("settlement.results", str(s.orders[0]),
              _result(s, 0, state, minute, "210" if state == "booked" else None))
    s.add("settlement.results", str(s.orders[1]), _result(s, 1, "booked", 9, "151"))
    s.add("settlement.results", str(s.orders[2]), _result(s, 2, "hedging", 9))
    s.add("settlement.hedges", "BTC", HedgeFill(
        event_id=f"hedge-fill:hedge:{s.orders[0]}", ts_event=T0 + timedelta(minutes=7),
        hedge_id=f"hedge:{s.orders[0]}", order_id=str(s.orders[0]), venue="binance",
        symbol="BTC-USDT", underlying="BTC", side="buy", qty=D("0.007"),
        avg_price=D("90012.5"), reference_price=D("90010.25"), slippage_bps=D("0.25"),
        fee=D("0.63")))
    s.add("settlement.expiries", "BTC", ExpirySettled(
        event_id=f"expiry:BTC:{tag}", ts_event=T0 + timedelta(hours=8),
        underlying="BTC", expiry=T0 + timedelta(hours=8), settlement_price=D("90100"),
        twap_window_start=T0 + timedelta(hours=7, minutes=30), samples=30, positions=2,
        total_payout=D("0"), payout_to_accounts=D("0")))
    return s
