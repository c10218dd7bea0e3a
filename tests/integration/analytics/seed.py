"""A small, consistent day of every sunk table, written the way the sink writes it (contract
instances through the sink's own mappings), for the quality checks and the dashboards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from sinks.clickhouse import MAPPINGS
from topics.contracts import (
    Candle,
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

__all__ = ["T0", "insert", "seed"]

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
_TABLE = {m.table: m for m in MAPPINGS}
D = Decimal


def insert(client: Any, db: str, table: str, models: list[BaseModel]) -> None:
    mapping = _TABLE[table]
    client.insert(f"{db}.{table}", [mapping.to_row(m) for m in models],
                  column_names=list(mapping.columns))


def _candles() -> list[Candle]:
    out = []
    for symbol, base in (("BTC-USDT", D("90000")), ("ETH-USDT", D("3200"))):
        for minute in range(10):
            start = T0 + timedelta(minutes=minute)
            close = base + minute
            out.append(Candle(
                event_id=f"{symbol}:1m:{start.isoformat()}", ts_event=start, symbol=symbol,
                interval="1m", window_start=start, window_end=start + timedelta(minutes=1),
                open=base, high=close + 1, low=base - 1, close=close, volume=D("2"),
                notional=D("2") * base, vwap=base, trades=4, version=3, final=True))
        start = T0
        out.append(Candle(
            event_id=f"{symbol}:5m:{start.isoformat()}", ts_event=start, symbol=symbol,
            interval="5m", window_start=start, window_end=start + timedelta(minutes=5),
            open=base, high=base + 5, low=base - 1, close=base + 4, volume=D("10"),
            notional=D("10") * base, vwap=base, trades=20, version=2, final=True))
    return out


def _trading() -> tuple[list[Trade], list[OrderEvent], list[LedgerEntry], list[Position]]:
    trades, events, ledger, positions = [], [], [], []
    seq = 0
    for i in range(12):
        seq += 3
        ts = T0 + timedelta(seconds=30 * i)
        price, qty = D("90000") + i, D("0.01")
        maker, taker = f"BTC-USDT#{100 + i}", f"BTC-USDT#{200 + i}"
        trade_id = f"BTC-USDT:{seq}"
        trades.append(Trade(event_id=trade_id, ts_event=ts, symbol="BTC-USDT",
                            trade_id=trade_id, price=price, qty=qty, aggressor_side="buy",
                            maker_order_id=maker, taker_order_id=taker, maker_account="acct-m",
                            taker_account="acct-t", seq=seq))
        events.append(OrderEvent(event_id=f"BTC-USDT:{seq - 2}", ts_event=ts, symbol="BTC-USDT",
                                 seq=seq - 2, kind="accepted", account="acct-t",
                                 order_id=taker, side="buy", order_type="limit",
                                 time_in_force="GTC", price=price, qty=qty, leaves_qty=qty))
        for n, (order, account, side, is_maker) in enumerate(
                ((maker, "acct-m", "sell", True), (taker, "acct-t", "buy", False))):
            events.append(OrderEvent(
                event_id=f"BTC-USDT:{seq - 1 + n}", ts_event=ts, symbol="BTC-USDT",
                seq=seq - 1 + n, kind="filled", account=account, order_id=order, side=side,
                price=price, qty=qty, leaves_qty=D(0), trade_id=trade_id, is_maker=is_maker))
        notional = price * qty
        posting = f"trade:{trade_id}"
        ledger += [
            LedgerEntry(event_id=f"{posting}:0", ts_event=ts, posting_id=posting,
                        account="acct-t", amount=-notional, kind="trade", reference=trade_id,
                        symbol="BTC-USDT"),
            LedgerEntry(event_id=f"{posting}:1", ts_event=ts, posting_id=posting,
                        account="acct-m", amount=notional, kind="trade", reference=trade_id,
                        symbol="BTC-USDT"),
            LedgerEntry(event_id=f"fee:{trade_id}:0", ts_event=ts, posting_id=f"fee:{trade_id}",
                        account="acct-t", amount=D("-0.45"), kind="fee", reference=trade_id,
                        symbol="BTC-USDT"),
            LedgerEntry(event_id=f"fee:{trade_id}:1", ts_event=ts, posting_id=f"fee:{trade_id}",
                        account="house:fees", amount=D("0.45"), kind="fee", reference=trade_id,
                        symbol="BTC-USDT"),
        ]
    for n, (side, price) in enumerate((("buy", "89990"), ("buy", "89980"), ("sell", "90020"),
                                       ("sell", "90030"), ("buy", "89990"))):
        seq += 1
        events.append(OrderEvent(  # resting orders: the book's depth
            event_id=f"BTC-USDT:{seq}", ts_event=T0 + timedelta(minutes=6, seconds=n),
            symbol="BTC-USDT", seq=seq, kind="accepted", account="acct-m",
            order_id=f"BTC-USDT#{300 + n}", side=side, order_type="limit", time_in_force="GTC",
            price=D(price), qty=D("0.5"), leaves_qty=D("0.5")))
    end = T0 + timedelta(minutes=6)
    for account, qty, n in (("acct-t", D("0.12"), 1), ("acct-m", D("-0.12"), 2)):
        positions.append(Position(
            event_id=f"position:{account}:BTC-USDT:{n}", ts_event=end, account=account,
            symbol="BTC-USDT", qty=qty, avg_price=D("90005.5"), realized_pnl=D(0),
            unrealized_pnl=D("1.5") * (1 if qty > 0 else -1), mark_price=D("90020"),
            maintenance_margin=D("54.01"), seq=12))
    return trades, events, ledger, positions


def _marketdata() -> tuple[list[IndexPrice], list[OptionMark]]:
    index, marks = [], []
    for minute in range(10):
        ts = T0 + timedelta(minutes=minute, seconds=20)
        for underlying, base in (("BTC", D("90000")), ("ETH", D("3200"))):
            index.append(IndexPrice(
                event_id=f"{underlying}:index:{minute}", ts_event=ts, underlying=underlying,
                # a basis of 0.2% (BTC: 180 USDT): big enough that a Decimal quotient
                # would overflow, small enough to be a healthy index
                price=base * D("1.002") + minute, venues_used=["binance", "okx", "bybit"],
                venues_excluded=["kraken"] if minute == 3 else [],
                exclusions={"kraken": "stale"} if minute == 3 else {}))
        for strike in ("88000", "92000"):
            symbol = f"BTC-20261225-{strike}-C"
            marks.append(OptionMark(
                event_id=f"{symbol}:mark:{minute}", ts_event=ts, symbol=symbol,
                underlying_price=D("90000") + minute, mark_price=D("4100.25"), iv=D("0.55"),
                delta=D("0.55"), gamma=D("0.00002"), vega=D("120.5"), theta=D("-60.2"),
                expiry=datetime(2026, 12, 25, 8, tzinfo=UTC), forward=D("90100")))
    return index, marks


def _settlement() -> tuple[list[OptionOrderEvent], list[SettlementResult], list[HedgeFill],
                           list[ExpirySettled], list[RiskAlert]]:
    orders, results, hedges = [], [], []
    for i in range(4):
        ts = T0 + timedelta(minutes=i)
        oid = f"00000000-0000-0000-0000-00000000000{i}"
        premium, fee = D("410.025"), D("2.05")
        orders.append(OptionOrderEvent(
            event_id=f"option-order:{oid}:open", ts_event=ts, order_id=oid, account="acct-s",
            client_order_id=f"c{i}", product="BTC-20261225-92000-C", underlying="BTC",
            strike=D("92000"), expiry=datetime(2026, 12, 25, 8, tzinfo=UTC),
            option_type="call", contract_size=D("0.01"), side="buy", contracts=D("10"),
            underlying_price=D("90000"), iv=D("0.55"), price=D("4100.25"), premium=premium,
            fee=fee, total=premium + fee, status="open", ordered_at=ts, source="stream"))
        hedge_id = f"hedge:{oid}"
        for state in ("pending", "hedged", "booked"):
            results.append(SettlementResult(
                event_id=f"settlement:{oid}:{state}", ts_event=ts + timedelta(seconds=5),
                order_id=oid, account="acct-s", state=state, product="BTC-20261225-92000-C",
                underlying="BTC", premium=premium, fee=fee,
                hedge_id=hedge_id if state != "pending" else None,
                hedge_symbol="BTC-USDT" if state != "pending" else None,
                hedge_side="buy" if state != "pending" else None,
                hedge_qty=D("0.055") if state != "pending" else None,
                hedge_price=D("90010") if state != "pending" else None, attempts=1))
        hedges.append(HedgeFill(
            event_id=f"hedge-fill:{hedge_id}", ts_event=ts + timedelta(seconds=3),
            hedge_id=hedge_id, order_id=oid, venue="binance", symbol="BTC-USDT",
            underlying="BTC", side="buy", qty=D("0.055"), avg_price=D("90010"),
            reference_price=D("90000"), slippage_bps=D("1.111111"), fee=D("0.49")))
    expiries = [ExpirySettled(
        event_id="expiry:BTC:2026-11-23T08:00:00Z", ts_event=T0, underlying="BTC",
        expiry=T0 - timedelta(hours=1), settlement_price=D("89950.5"),
        twap_window_start=T0 - timedelta(hours=1, minutes=30), samples=180, positions=7,
        total_payout=D("1520.75"), payout_to_accounts=D("1520.75"))]
    alerts = [RiskAlert(event_id="margin_call:acct-t:1", ts_event=T0 + timedelta(minutes=4),
                        account="acct-t", kind="margin_call", level="warning",
                        message="margin ratio 0.82 above 0.8", margin_ratio=D("0.82"),
                        symbol="BTC-USDT")]
    return orders, results, hedges, expiries, alerts


def seed(client: Any, db: str) -> dict[str, int]:
    """Write the sample into every sunk table (migrations applied); counts per table."""
    trades, events, ledger, positions = _trading()
    index, marks = _marketdata()
    orders, results, hedges, expiries, alerts = _settlement()
    tables: dict[str, list[Any]] = {
        "candles": _candles(), "trades": trades, "order_events": events, "ledger": ledger,
        "positions": positions, "risk_alerts": alerts, "index_prices": index,
        "option_marks": marks, "settlement_orders": orders, "settlement_results": results,
        "hedges": hedges, "expiries": expiries}
    for table, models in tables.items():
        insert(client, db, table, models)
    client.insert(f"{db}.sink_dead_letters",
                  [["md.ticks", 0, 42, "BTC-USDT", '{"price": "x"}', "invalid",
                    "price: not a number", T0]],
                  column_names=["source_topic", "source_partition", "source_offset", "key",
                                "payload", "reason", "error", "ts_failed"])
    return {t: len(m) for t, m in tables.items()}
