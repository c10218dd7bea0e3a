"""The hedge of a simplified option the house sold: side, size on the lot, delta."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from streams.instruments import DEFAULT_SPOT_SPECS
from streams.settlement.hedging import HedgeInstruction, hedge_for_option_sale

D = Decimal
AT = datetime(2026, 1, 5, 12, tzinfo=UTC)


def hedge(option_type: str = "call", strike: str = "100000", contracts: str = "1",
          underlying: str = "BTC", price: str = "100000", days: float = 1.0,
          contract_size: str = "1") -> HedgeInstruction:
    return hedge_for_option_sale(underlying=underlying, option_type=option_type,
                                 strike=D(strike), expiry=AT + timedelta(days=days),
                                 underlying_price=D(price), iv=D("0.5"),
                                 contracts=D(contracts), contract_size=D(contract_size), at=AT)


def test_an_atm_call_is_hedged_by_buying_about_half() -> None:
    h = hedge()
    assert h.symbol == "BTC-USDT" and h.side == "buy"
    assert abs(h.delta - D("0.5")) < D("0.01")
    assert h.delta > D("0.5")  # Black-76: N(sigma sqrt(t) / 2) at the money
    assert h.qty == (h.delta / D("0.00001")).quantize(D(1)) * D("0.00001")


def test_a_put_is_hedged_by_selling() -> None:
    h = hedge(option_type="put")
    assert h.side == "sell"
    assert h.delta < 0
    assert abs(h.delta + D("0.5")) < D("0.01")
    assert h.qty == (abs(h.delta) / D("0.00001")).quantize(D(1)) * D("0.00001")


@pytest.mark.parametrize(("underlying", "contracts", "contract_size"),
                         [("BTC", "0.37", "1"), ("BTC", "3", "0.1"), ("ETH", "7.77", "1")])
def test_quantity_is_delta_times_contracts_on_the_lot(underlying: str, contracts: str,
                                                      contract_size: str) -> None:
    price = "100000" if underlying == "BTC" else "3500"
    h = hedge(underlying=underlying, contracts=contracts, strike=price, price=price,
              contract_size=contract_size)
    lot = DEFAULT_SPOT_SPECS[underlying].lot_size
    exact = abs(h.delta) * D(contracts) * D(contract_size)
    assert h.qty % lot == 0
    assert abs(h.qty - exact) <= lot / 2
    assert h.symbol == f"{underlying}-USDT"


def test_delta_grows_into_the_money() -> None:
    deep_itm, otm = hedge(strike="80000"), hedge(strike="110000")
    assert deep_itm.delta > D("0.99") and otm.delta < D("0.1")
    assert deep_itm.qty > otm.qty


def test_a_far_out_of_the_money_option_needs_no_hedge() -> None:
    h = hedge(strike="200000", days=0.5)
    assert h.qty == 0
    assert h.delta == 0
