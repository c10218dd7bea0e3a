"""Builders shared by the compliance unit tests: transfers, trades, small rules."""

from __future__ import annotations

from decimal import Decimal

from streams.compliance import AmlRules, Case, Trade, Transfer

D = Decimal
T0 = 1_767_614_400_000  # 2026-01-05 12:00 UTC, venue ms

#: Small windows and thresholds so scenarios stay short; the rules' defaults have their own
#: test. Windows are 1 second; the reporting threshold stays the real one.
SMALL = AmlRules(velocity_window_ms=1_000, velocity_max_transfers=3,
                 outflow_window_ms=1_000, outflow_max_usdt=D(1_000),
                 structuring_min_count=3, structuring_window_ms=1_000,
                 round_trip_window_ms=1_000, round_trip_price_tolerance=D("0.01"))

RELATED = {"a": "g1", "b": "g1", "c": "g1", "x": "g2", "y": "g2"}


def dep(n: int | str, amount: str | int, at: int = 0, account: str = "a",
        address: str | None = None) -> Transfer:
    return Transfer(f"t{n}", account, "deposit", D(amount), T0 + at, address)


def wd(n: int | str, amount: str | int, at: int = 0, account: str = "a",
       address: str | None = None) -> Transfer:
    return Transfer(f"t{n}", account, "withdrawal", D(amount), T0 + at, address)


def trade(n: int | str, buyer: str, seller: str, price: str | int = 100, at: int = 0,
          symbol: str = "BTC-USDT", qty: str | int = 1) -> Trade:
    return Trade(f"{symbol}:{n}", symbol, D(price), D(qty), buyer, seller, T0 + at)


def rules_of(cases: list[Case]) -> list[str]:
    return [c.rule for c in cases]
