"""The margin model's numbers, as margin.py documents them (traders predict them)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from streams.risk import AccountState, RiskLimits
from streams.risk.margin import (
    short_option_initial,
    short_option_maintenance,
    short_spot_initial,
    short_spot_maintenance,
)
from tests.unit.streams.risk.risk_support import (
    BTC_CALL,
    BTC_CALL_110,
    BTC_PUT_95,
    CATALOGUE,
    FakePrices,
    deposit,
    fill,
)

D = Decimal
LIMITS = RiskLimits()


@pytest.mark.parametrize(("index", "strike", "right", "per_unit"), [
    # max(0.15 x index - out-of-the-money amount, 0.10 x index)
    (D(100_000), D(100_000), "call", D(15_000)),  # at the money
    (D(100_000), D(90_000), "call", D(15_000)),  # in the money: nothing out of it
    (D(108_000), D(110_000), "call", D(14_200)),  # 16200 - 2000
    (D(104_000), D(110_000), "call", D(10_400)),  # 15600 - 6000 < floor 10400
    (D(100_000), D(95_000), "put", D(10_000)),  # 15000 - 5000 = floor
    (D(97_000), D(95_000), "put", D(12_550)),  # 14550 - 2000
    (D(90_000), D(95_000), "put", D(13_500)),  # in the money
    (D(100_000), D(90_000), "C", D(15_000)),  # the instrument's own letters work too
    (D(97_000), D(95_000), "P", D(12_550)),
])
def test_short_option_initial(index: Decimal, strike: Decimal, right: str,
                              per_unit: Decimal) -> None:
    assert short_option_initial(LIMITS, qty=D(-2), contract_size=D(1), index=index,
                                strike=strike, right=right) == 2 * per_unit
    assert short_option_initial(LIMITS, qty=D("0.5"), contract_size=D(10), index=index,
                                strike=strike, right=right) == 5 * per_unit


def test_an_unknown_right_is_refused() -> None:
    with pytest.raises(ValueError, match="right"):
        short_option_initial(LIMITS, qty=D(1), contract_size=D(1), index=D(1), strike=D(1),
                             right="straddle")


def test_short_option_maintenance_is_a_fraction_of_the_index() -> None:
    assert short_option_maintenance(LIMITS, qty=D(-3), contract_size=D(1),
                                    index=D(100_000)) == D(22_500)  # 3 x 0.075 x 100000


def test_short_spot_margins_are_fractions_of_notional() -> None:
    assert short_spot_initial(LIMITS, qty=D("-0.5"), index=D(100_000)) == D(5000)
    assert short_spot_maintenance(LIMITS, qty=D("-0.5"), index=D(100_000)) == D(2500)


def test_available_counts_short_option_margin_and_liability() -> None:
    state = AccountState("acc-1")
    deposit(state, "50000")
    fill(state, BTC_CALL_110, "sell", "2", "400", maker=True)  # +800, fee 0.24
    prices = FakePrices(indices={"BTC": D(108_000)}, marks={BTC_CALL_110: D(900)})
    # cash 50799.76 - liability 2 x 900 - initial 2 x 14200
    assert state.cash == D("50799.76")
    assert state.available(CATALOGUE, prices, LIMITS) == D("50799.76") - 1800 - 28_400


def test_an_itm_short_call_carries_the_full_base_margin() -> None:
    state = AccountState("acc-1")
    deposit(state, "50000")
    fill(state, "BTC-20260109-90000-C", "sell", "1", "10000")
    prices = FakePrices(indices={"BTC": D(100_000)}, marks={"BTC-20260109-90000-C": D(10_000)})
    initial = D(15_000)  # nothing out of the money: 0.15 x 100000
    assert state.available(CATALOGUE, prices, LIMITS) == state.cash - 10_000 - initial


def test_available_counts_short_spot_margin_and_put_margin() -> None:
    state = AccountState("acc-1")
    deposit(state, "30000")
    fill(state, "BTC-USDT", "sell", "0.1", "100000")  # +10000, fee 5
    fill(state, BTC_PUT_95, "sell", "1", "500")  # +500, fee 0.25
    prices = FakePrices(indices={"BTC": D(100_000)}, marks={BTC_PUT_95: D(500)})
    cash = D(30_000) + 10_000 - 5 + 500 - D("0.25")
    assert state.cash == cash
    # liabilities: 0.1 x 100000 + 500; margins: 10% of 10000 + max(15000 - 5000, 10000)
    assert state.available(CATALOGUE, prices, LIMITS) == cash - 10_500 - 1000 - 10_000


def test_long_positions_need_no_margin() -> None:
    state = AccountState("acc-1")
    deposit(state, "20000")
    fill(state, BTC_CALL, "buy", "1", "3000")
    fill(state, "BTC-USDT", "buy", "0.1", "100000")
    assert state.available(CATALOGUE, FakePrices(), LIMITS) == state.cash


def test_exposure_limits_are_looked_up_most_specific_first() -> None:
    limits = RiskLimits(max_exposure_usdt=Decimal(100), exposure_limits={
        "acc-a:BTC": Decimal(1), "acc-a": Decimal(2), "*:BTC": Decimal(3)})
    assert limits.exposure_limit("acc-a", "BTC") == 1
    assert limits.exposure_limit("acc-a", "ETH") == 2
    assert limits.exposure_limit("acc-b", "BTC") == 3
    assert limits.exposure_limit("acc-b", "ETH") == 100
