"""The routing demo's parents are valid orders, and its table shows what a report says."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from rich.console import Console

from strikeflow.demo_routing import demo_orders, report_table, route_order
from topics.catalogue import by_name
from topics.contracts.routing import ParentOrderReport

D = Decimal


def test_demo_parents_cover_both_pairs_and_sides() -> None:
    orders = demo_orders("abc123")
    assert {(o.symbol, o.side) for o in orders} == {
        ("BTC-USDT", "buy"), ("BTC-USDT", "sell"), ("ETH-USDT", "buy"), ("ETH-USDT", "sell")}
    assert len({o.parent_id for o in orders}) == len(orders)
    spec = by_name("routing.orders")
    assert all(spec.decode(spec.encode(o)) == o for o in orders)


def test_a_cli_parent_carries_its_limit() -> None:
    o = route_order("ETH-USDT", "sell", D(3), account="a", parent_id="p", limit_price=D(3100))
    assert o.limit_price == D(3100) and o.command_id == "route-cmd:p"


def test_the_table_shows_shares_slippage_and_rounds() -> None:
    report = ParentOrderReport(
        event_id="route:p:3", ts_event=datetime(2026, 12, 1, tzinfo=UTC), parent_id="p",
        version=3, account="a", symbol="BTC-USDT", side="buy", status="done", final=True,
        qty=D("0.8"), filled_qty=D("0.8"), remainder=D(0), vwap=D("90012.5"),
        arrival_price=D(90000), slippage_bps=D("1.39"), all_in_slippage_bps=D("9.1"),
        fees=D("55.2"), venue_shares={"okx": D("0.25"), "binance": D("0.75")}, rounds=2,
        children=[])
    console = Console(record=True, width=250)
    console.print(report_table([report]))
    text = console.export_text()
    assert "binance 75.0% okx 25.0%" in text and "1.39" in text and "0.8 / 0.8" in text
