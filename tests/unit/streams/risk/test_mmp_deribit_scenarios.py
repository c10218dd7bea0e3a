"""Market-maker protection against what Deribit documents for its MMP (the convention we
follow): https://docs.deribit.com/articles/market-maker-protection and
https://support.deribit.com/hc/en-us/articles/25944738804509-Deribit-MMP.

Each test names the documented sentence it replays through an account's risk state. Where
we differ on purpose it says so: our interval is a *rolling* window, so the quantity limit
trips whenever Deribit's fixed interval (from the first trade) would, and sometimes sooner.
"""

from __future__ import annotations

from decimal import Decimal

from streams.risk import AccountState
from streams.risk.codes import RiskCode
from tests.unit.streams.risk.risk_support import (
    BTC_CALL,
    CATALOGUE,
    NOW,
    NOW_MS,
    FakePrices,
    decide,
    deposit,
    submit,
)
from topics.contracts import Fill, ResetMmp, SetMmpConfig

D = Decimal
PRICES = FakePrices(marks={BTC_CALL: D(2000)}, greek={BTC_CALL: (D("0.5"), D("40"))})
_n = 0


def _maker(**limits: object) -> AccountState:
    state = AccountState("mm-d")
    deposit(state, "100000000")
    assert decide(state, SetMmpConfig(command_id="cfg", ts_sent=NOW, account="mm-d",
                                      underlying="BTC", **limits)).accepted
    for coid, side, price in (("bid", "buy", "1900"), ("ask", "sell", "2100")):
        assert decide(state, submit(BTC_CALL, side, "15", price, coid=coid, account="mm-d",
                                    mmp=True), prices=PRICES).accepted
    assert decide(state, submit(BTC_CALL, "buy", "15", "1800", coid="plain",
                                account="mm-d"), prices=PRICES).accepted
    return state


def _fill(state: AccountState, coid: str, qty: str, at_ms: int) -> list[object]:
    global _n
    _n += 1
    side = "buy" if coid in ("bid", "plain") else "sell"
    price = D(2000)
    state.apply(Fill(event_id=f"fill:D{_n}:maker", ts_event=NOW, account="mm-d",
                     symbol=BTC_CALL, trade_id=f"D{_n}", order_id=f"o{_n}",
                     client_order_id=coid, side=side, liquidity="maker", price=price,
                     qty=D(qty), cash=-price * D(qty) if side == "buy" else price * D(qty),
                     fee=D(0)), CATALOGUE, PRICES, at_ms)
    return list(state.take_trips())


def test_quantity_is_direction_agnostic_buy_10_and_sell_10_is_20() -> None:
    """"Quantity Limit - Total traded amount (in base currency), direction-agnostic.
    (e.g., Buy 10 + Sell 10 = 20 quantity)"."""
    state = _maker(qty_limit=D(20), interval_ms=1000, frozen_ms=5000)
    assert _fill(state, "bid", "10", NOW_MS) == []
    [trip] = _fill(state, "ask", "10", NOW_MS + 100)
    assert trip.breach.reason == "qty" and trip.breach.value == D(20)  # net delta is 0


def test_delta_is_the_net_of_the_fills() -> None:
    """"Delta Limit - Net transaction delta exceeding the threshold (positive or
    negative)": buying and selling the same delta nets to nothing."""
    state = _maker(delta_limit=D(4), interval_ms=1000, frozen_ms=5000)
    assert _fill(state, "bid", "6", NOW_MS) == []  # +3 delta (0.5 a contract)
    assert _fill(state, "ask", "6", NOW_MS + 10) == []  # net 0
    [trip] = _fill(state, "ask", "8", NOW_MS + 20)  # net -4
    assert trip.breach.reason == "delta" and trip.breach.value == D(4)  # |net|


def test_only_mmp_tagged_orders_are_counted_and_cancelled() -> None:
    """"MMP applies only to orders explicitly marked with the mmp flag. Orders without this
    tag are excluded from MMP logic and remain unaffected when a trigger condition is
    met."."""
    state = _maker(qty_limit=D(10), interval_ms=1000, frozen_ms=5000)
    assert _fill(state, "plain", "12", NOW_MS) == []  # not a quote: not counted
    [trip] = _fill(state, "bid", "10", NOW_MS + 1)
    assert sorted(c.client_order_id for c in trip.cancels) == ["ask", "bid"]
    assert "plain" in state.open_orders


def test_frozen_blocks_new_mmp_orders_only_and_resets_by_itself() -> None:
    """"frozen_time defines how long MMP remains triggered and blocking new MMP orders after
    a limit is breached … After the frozen period ends, MMP resets automatically."."""
    state = _maker(qty_limit=D(10), interval_ms=1000, frozen_ms=2000)
    assert _fill(state, "bid", "10", NOW_MS)
    quote = submit(BTC_CALL, "buy", "1", "1900", account="mm-d", mmp=True)
    assert decide(state, quote, prices=PRICES, now_ms=NOW_MS + 1999).code is \
        RiskCode.MMP_FROZEN
    assert decide(state, submit(BTC_CALL, "buy", "1", "1900", account="mm-d"),
                  prices=PRICES, now_ms=NOW_MS + 1999).accepted
    assert decide(state, submit(BTC_CALL, "buy", "1", "1900", account="mm-d", mmp=True),
                  prices=PRICES, now_ms=NOW_MS + 2000).accepted


def test_frozen_time_0_needs_a_manual_reset() -> None:
    """"Setting frozen_time = 0 disables automatic reset. In this case: A manual reset is
    required using private/reset_mmp"."""
    state = _maker(qty_limit=D(10), interval_ms=1000, frozen_ms=0)
    assert _fill(state, "bid", "10", NOW_MS)
    day = NOW_MS + 86_400_000
    quote = submit(BTC_CALL, "buy", "1", "1900", account="mm-d", mmp=True)
    assert decide(state, quote, prices=PRICES, now_ms=day).code is RiskCode.MMP_FROZEN
    assert decide(state, ResetMmp(command_id="reset", ts_sent=NOW, account="mm-d",
                                  underlying="BTC"), now_ms=day).accepted
    assert decide(state, submit(BTC_CALL, "buy", "1", "1900", account="mm-d", mmp=True),
                  prices=PRICES, now_ms=day).accepted


def test_trades_in_separate_intervals_do_not_add_up() -> None:
    """"If a new trade is executed after the interval has ended, a new interval is started,
    and counters reset"."""
    state = _maker(qty_limit=D(10), interval_ms=1000, frozen_ms=5000)
    assert _fill(state, "bid", "6", NOW_MS) == []
    assert _fill(state, "bid", "6", NOW_MS + 1500) == []  # Deribit: a new interval


def test_a_rolling_window_trips_where_a_fixed_interval_would_and_sooner() -> None:
    """Where we differ: Deribit's interval starts at the first trade; ours rolls. Fills of
    1 at t=0, 5 at t=900 and 5 at t=1200 (limit 10, interval 1 s): Deribit counts 6 in
    [0, 1000) then 5 from 1200 — no trip; the window [200, 1200] holds 10 — a trip. A
    burst that trips Deribit's interval always trips ours (the window ending at the burst's
    last trade holds every trade of that interval)."""
    state = _maker(qty_limit=D(10), interval_ms=1000, frozen_ms=5000)
    assert _fill(state, "bid", "1", NOW_MS) == []
    assert _fill(state, "bid", "5", NOW_MS + 900) == []
    [trip] = _fill(state, "bid", "5", NOW_MS + 1200)
    assert trip.breach.value == D(10)
