"""Pre-trade decisions: every reject code path with the reason it fires, replays, amends."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from streams.instruments import TradingStatus
from streams.risk import AccountState, RiskCode, RiskLimits, describe
from tests.unit.streams.risk.risk_support import (
    BTC_CALL,
    BTC_CALL_110,
    CATALOGUE,
    NOW,
    NOW_MS,
    FakePrices,
    decide,
    deposit,
    fill,
    release,
    submit,
)
from topics.contracts import AmendOrder, CancelOrder, MassCancel

D = Decimal


def funded(cash: str = "1000000") -> AccountState:
    state = AccountState("acc-1")
    deposit(state, cash)
    return state


def test_every_code_has_a_description_in_the_5xxx_range() -> None:
    assert all(5001 <= code <= 5999 and describe(code) for code in RiskCode)


def test_accepted_order_reserves_price_and_taker_fee() -> None:
    state = funded("2000")
    decision = decide(state, submit(qty="0.01", price="100000", coid="b1"))
    assert decision.accepted and decision.code is None
    assert state.reserved() == D("1000.5")  # 0.01 x 100000 + 5 bps
    assert state.available(CATALOGUE, FakePrices(), RiskLimits()) == D("999.5")


def test_5001_unknown_instrument() -> None:
    state = funded()
    decision = decide(state, submit(symbol="SOL-USDT"))
    assert decision.code is RiskCode.UNKNOWN_INSTRUMENT
    assert not state.open_orders


def test_5002_halted_instrument() -> None:
    state = funded()
    halted = CATALOGUE.with_status("BTC-USDT", TradingStatus.HALTED)
    assert decide(state, submit(), catalogue=halted).code is RiskCode.INSTRUMENT_NOT_TRADING
    assert decide(state, submit(symbol="ETH-USDT", price="3500")).accepted


def test_5002_option_at_its_expiry() -> None:
    state = funded()
    expiry = CATALOGUE[BTC_CALL].expiry
    assert isinstance(expiry, datetime)
    prices = FakePrices(marks={BTC_CALL: D(1000)})
    just_before = decide(state, submit(symbol=BTC_CALL, qty="1", price="1000"), prices=prices,
                         now=expiry - timedelta(seconds=1))
    assert just_before.accepted
    at_expiry = decide(state, submit(symbol=BTC_CALL, qty="1", price="1000"), prices=prices,
                       now=expiry)
    assert at_expiry.code is RiskCode.INSTRUMENT_NOT_TRADING


def test_5011_duplicate_client_order_id_of_an_open_order() -> None:
    state = funded()
    assert decide(state, submit(coid="same")).accepted
    assert decide(state, submit(coid="same")).code is RiskCode.DUPLICATE_CLIENT_ORDER_ID
    fill(state, "BTC-USDT", "buy", "0.01", "100000", coid="same")  # filled: the id is free
    assert decide(state, submit(coid="same")).accepted


def test_5003_rate_limit_is_a_token_bucket_on_broker_time() -> None:
    limits = RiskLimits(order_burst=2, orders_per_second=1.0)
    state = funded()
    codes = [decide(state, submit(qty="0.001"), limits=limits).code for _ in range(3)]
    assert codes == [None, None, RiskCode.RATE_LIMITED]
    assert decide(state, submit(qty="0.001"), limits=limits,
                  now_ms=NOW_MS + 999).code is RiskCode.RATE_LIMITED
    assert decide(state, submit(qty="0.001"), limits=limits, now_ms=NOW_MS + 2000).accepted
    assert len(state.open_orders) == 3


def test_5008_too_many_open_orders() -> None:
    limits = RiskLimits(max_open_orders=2)
    state = funded()
    assert decide(state, submit(qty="0.001"), limits=limits).accepted
    assert decide(state, submit(qty="0.001"), limits=limits).accepted
    assert decide(state, submit(qty="0.001"), limits=limits).code is \
        RiskCode.TOO_MANY_OPEN_ORDERS


@pytest.mark.parametrize(("symbol", "price", "code"), [
    ("BTC-USDT", "110000", None),  # exactly 10% above the index: inside
    ("BTC-USDT", "110000.01", RiskCode.OUTSIDE_PRICE_BAND),
    ("BTC-USDT", "89999.99", RiskCode.OUTSIDE_PRICE_BAND),
    (BTC_CALL, "1500", None),  # options: 50% around the mark
    (BTC_CALL, "1505", RiskCode.OUTSIDE_PRICE_BAND),
    (BTC_CALL, "495", RiskCode.OUTSIDE_PRICE_BAND),
])
def test_5004_price_band(symbol: str, price: str, code: RiskCode | None) -> None:
    state = funded()
    prices = FakePrices(marks={BTC_CALL: D(1000)})
    assert decide(state, submit(symbol=symbol, qty="0.01", price=price),
                  prices=prices).code is code


def test_5005_market_order_without_a_reference_price() -> None:
    state = funded()
    no_prices = FakePrices(indices={})
    assert decide(state, submit(price=None), prices=no_prices).code is \
        RiskCode.NO_REFERENCE_PRICE
    assert decide(state, submit(symbol=BTC_CALL, qty="1", price=None)).code is \
        RiskCode.NO_REFERENCE_PRICE  # an index alone is no mark for an option
    # a limit order needs no reference: its own price is the worst case
    assert decide(state, submit(price="100000"), prices=no_prices).accepted


def test_market_buy_reserves_at_the_top_of_the_band() -> None:
    state = funded()
    assert decide(state, submit(qty="0.01", price=None)).accepted
    assert state.reserved() == D("1100.55")  # 0.01 x 110000 + 5 bps


def test_5006_reduce_only_that_would_increase() -> None:
    state = funded()
    assert decide(state, submit(side="sell", reduce_only=True)).code is \
        RiskCode.REDUCE_ONLY_WOULD_INCREASE
    fill(state, "BTC-USDT", "buy", "0.5", "100000")
    assert decide(state, submit(side="sell", qty="0.3", reduce_only=True)).accepted
    assert decide(state, submit(side="sell", qty="0.2", reduce_only=True)).accepted
    # 0.5 long, 0.5 already being closed by open reduce-only orders
    assert decide(state, submit(side="sell", qty="0.01", reduce_only=True)).code is \
        RiskCode.REDUCE_ONLY_WOULD_INCREASE
    assert decide(state, submit(side="buy", qty="0.01", reduce_only=True)).code is \
        RiskCode.REDUCE_ONLY_WOULD_INCREASE


def test_5012_liquidating_account_only_reduces() -> None:
    state = funded()
    fill(state, "BTC-USDT", "buy", "0.5", "100000")
    state.margin_level = "liquidation"
    assert decide(state, submit(qty="0.01")).code is RiskCode.ACCOUNT_LIQUIDATING
    assert decide(state, submit(side="sell", qty="0.6")).code is RiskCode.ACCOUNT_LIQUIDATING
    assert decide(state, submit(side="sell", qty="0.5")).accepted


def test_5007_exposure_limit_per_underlying() -> None:
    limits = RiskLimits(max_exposure_usdt=D(50_000))
    state = funded()
    fill(state, "BTC-USDT", "buy", "0.2", "100000")  # 20000 at the index
    assert decide(state, submit(qty="0.2"), limits=limits).accepted  # + open 20000
    prices = FakePrices(marks={BTC_CALL: D(1000)})
    # an option counts its underlying at the index: 0.11 x 100000 = 11000 > 10000 left
    assert decide(state, submit(symbol=BTC_CALL, qty="0.11", price="1000"), prices=prices,
                  limits=limits).code is RiskCode.EXPOSURE_LIMIT
    assert decide(state, submit(symbol=BTC_CALL, qty="0.1", price="1000"), prices=prices,
                  limits=limits).accepted  # exactly at the limit
    assert decide(state, submit(qty="0.00001"), limits=limits).code is RiskCode.EXPOSURE_LIMIT
    # ETH is another underlying; closing BTC never counts
    assert decide(state, submit(symbol="ETH-USDT", qty="1", price="3500"),
                  limits=limits).accepted
    assert decide(state, submit(side="sell", qty="0.2"), limits=limits).accepted


def test_5009_insufficient_funds_buying() -> None:
    state = funded("1000.49")
    assert decide(state, submit(qty="0.01", price="100000")).code is RiskCode.INSUFFICIENT_FUNDS
    deposit(state, "0.01")
    assert decide(state, submit(qty="0.01", price="100000")).accepted
    assert state.available(CATALOGUE, FakePrices(), RiskLimits()) == 0


def test_5009_short_option_needs_premium_fee_and_margin() -> None:
    prices = FakePrices(indices={"BTC": D(108_000)}, marks={BTC_CALL_110: D(400)})
    # selling 1 OTM call: taker fee on 400 (0.2) + max(16200 - 2000, 10800) = 14200.2
    state = funded("14200.19")
    assert decide(state, submit(symbol=BTC_CALL_110, side="sell", qty="1", price="400"),
                  prices=prices).code is RiskCode.INSUFFICIENT_FUNDS
    deposit(state, "0.01")
    assert decide(state, submit(symbol=BTC_CALL_110, side="sell", qty="1", price="400"),
                  prices=prices).accepted
    assert state.reserved() == D("14200.2")


def test_closing_sell_holds_only_its_fee() -> None:
    state = funded("100000")
    fill(state, "BTC-USDT", "buy", "0.5", "100000")  # cash 49975
    assert decide(state, submit(side="sell", qty="0.5", price="100000")).accepted
    assert state.reserved() == D(25)  # 5 bps of 50000, no margin: it opens nothing


def test_5010_is_never_returned() -> None:
    """Cancels and amends of orders risk does not hold go on: matching knows its book."""
    state = funded()
    cancel = CancelOrder(command_id="x1", ts_sent=NOW, account="acc-1", symbol="BTC-USDT",
                         client_order_id="nobody")
    amend = AmendOrder(command_id="x2", ts_sent=NOW, account="acc-1", symbol="BTC-USDT",
                       client_order_id="nobody", new_qty=D(5))
    mass = MassCancel(command_id="x3", ts_sent=NOW, account="acc-1", symbol="BTC-USDT")
    assert [decide(state, r).code for r in (cancel, amend, mass)] == [None, None, None]


def test_a_replayed_command_gets_the_same_decision_once() -> None:
    state = funded("2000")
    request = submit(qty="0.01", price="100000", coid="r1")
    first = decide(state, request)
    held, tokens = state.reserved(), state.tokens
    again = decide(state, request, now_ms=NOW_MS + 5000)
    assert first.accepted and again.accepted  # not 5011: it is the same command
    assert state.reserved() == held and state.tokens == tokens
    assert len(state.open_orders) == 1

    rejected = submit(qty="1", price="100000", coid="r2")
    no = decide(state, rejected)
    assert no.code is RiskCode.INSUFFICIENT_FUNDS
    deposit(state, "1000000")
    again_no = decide(state, rejected, now_ms=NOW_MS + 60_000)
    assert again_no.code is RiskCode.INSUFFICIENT_FUNDS  # same answer
    assert "r2" not in state.open_orders
    # a copy appended later (re-routed, replayed) gets the very same record, time included
    later = NOW + timedelta(minutes=1)
    assert again_no.rejection(later).model_dump(exclude={"ts_init"}) == \
        no.rejection(NOW).model_dump(exclude={"ts_init"})


def test_an_amend_holds_the_most_until_matching_applies_it_and_up_is_checked() -> None:
    state = funded("1500")
    assert decide(state, submit(qty="0.01", price="100000", coid="a1")).accepted
    up = AmendOrder(command_id="am1", ts_sent=NOW, account="acc-1", symbol="BTC-USDT",
                    client_order_id="a1", new_qty=D("0.015"), new_price=D(100_000))
    assert decide(state, up).code is RiskCode.INSUFFICIENT_FUNDS  # 1500.75 > 1500
    assert state.reserved() == D("1000.5")  # unchanged
    down = AmendOrder(command_id="am2", ts_sent=NOW, account="acc-1", symbol="BTC-USDT",
                      client_order_id="a1", new_qty=D("0.004"))
    assert decide(state, down).accepted
    assert state.reserved() == D("1000.5")  # matching may still refuse it
    release(state, "a1", "amended", command_id="am2", leaves_qty="0.004")
    assert state.reserved() == D("400.2")
    reprice = AmendOrder(command_id="am3", ts_sent=NOW, account="acc-1", symbol="BTC-USDT",
                         client_order_id="a1", new_price=D(105_000))
    assert decide(state, reprice).accepted
    assert state.reserved() == D("420.21")  # 0.004 x 105000 + 5 bps, held at once
    release(state, "a1", "amended", command_id="am3", leaves_qty="0.004")
    assert state.reserved() == D("420.21")


def test_an_amend_gives_the_total_quantity_what_filled_is_not_open_again() -> None:
    state = funded("1500")
    assert decide(state, submit(qty="0.01", price="100000", coid="f1")).accepted
    fill(state, "BTC-USDT", "buy", "0.006", "100000", coid="f1", maker=True)
    grow = AmendOrder(command_id="f1-2", ts_sent=NOW, account="acc-1", symbol="BTC-USDT",
                      client_order_id="f1", new_qty=D("0.012"))
    assert decide(state, grow).accepted
    assert state.open_orders["f1"].qty_held == D("0.006")  # 0.012 - 0.006 filled, not 0.012
    below_filled = AmendOrder(command_id="f1-3", ts_sent=NOW, account="acc-1",
                              symbol="BTC-USDT", client_order_id="f1", new_qty=D("0.005"))
    assert decide(state, below_filled).accepted  # matching refuses it; risk holds nothing
    assert "f1-3" not in state.open_orders["f1"].amends


def test_a_refused_amend_releases_only_what_it_asked_for() -> None:
    state = funded("5000")
    assert decide(state, submit(qty="0.01", price="100000", coid="r1")).accepted
    up = AmendOrder(command_id="r1-2", ts_sent=NOW, account="acc-1", symbol="BTC-USDT",
                    client_order_id="r1", new_qty=D("0.03"), new_price=D(100_000))
    assert decide(state, up).accepted
    assert state.reserved() == D("3001.5")
    release(state, "r1", "command_rejected", command_id="r1-2")
    assert state.open_orders["r1"].qty_left == D("0.01")
    assert state.reserved() == D("1000.5")


def test_amending_a_closing_sell_needs_no_margin() -> None:
    state = funded("50100")
    fill(state, "BTC-USDT", "buy", "0.5", "100000")  # cash 75
    assert decide(state, submit(side="sell", qty="0.5", price="105000", coid="tp")).accepted
    amend = AmendOrder(command_id="tp-2", ts_sent=NOW, account="acc-1", symbol="BTC-USDT",
                       client_order_id="tp", new_price=D(106_000))
    assert decide(state, amend).accepted  # a take-profit moved: still closes, opens nothing
    assert state.reserved() == D("26.5")  # the fee only


def test_amend_up_of_a_short_sell_without_a_price_holds_the_fee_at_the_band_top() -> None:
    state = funded("5000")
    assert decide(state, submit(side="sell", qty="0.1", price="100000", coid="s1")).accepted
    assert state.reserved() == D(1005)  # fee 5 + 10% of 10000
    amend = AmendOrder(command_id="s1-2", ts_sent=NOW, account="acc-1", symbol="BTC-USDT",
                       client_order_id="s1", new_qty=D("0.2"))
    assert decide(state, amend).accepted
    # fee on 0.2 x 110000 (the band's worst price) + 10% of 0.2 x 100000
    assert state.reserved() == D(2011)


def test_amend_cannot_leave_the_price_band() -> None:
    state = funded()
    assert decide(state, submit(qty="0.01", price="100000", coid="p1")).accepted
    amend = AmendOrder(command_id="p1-2", ts_sent=NOW, account="acc-1", symbol="BTC-USDT",
                       client_order_id="p1", new_price=D(120_000))
    assert decide(state, amend).code is RiskCode.OUTSIDE_PRICE_BAND
    assert state.reserved() == D("1000.5")


def test_amend_cannot_grow_past_the_exposure_limit() -> None:
    limits = RiskLimits(max_exposure_usdt=D(50_000))
    state = funded()
    assert decide(state, submit(qty="0.4", price="100000", coid="e1"), limits=limits).accepted
    grow = AmendOrder(command_id="e1-2", ts_sent=NOW, account="acc-1", symbol="BTC-USDT",
                      client_order_id="e1", new_qty=D("0.6"))
    assert decide(state, grow, limits=limits).code is RiskCode.EXPOSURE_LIMIT
    to_limit = AmendOrder(command_id="e1-3", ts_sent=NOW, account="acc-1", symbol="BTC-USDT",
                          client_order_id="e1", new_qty=D("0.5"))
    assert decide(state, to_limit, limits=limits).accepted
