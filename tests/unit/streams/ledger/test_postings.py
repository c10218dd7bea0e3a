"""Facts → balanced postings: every posting sums to zero, ids are functions of the fact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from streams.ledger import (
    CLEARING,
    HOUSE_CASH,
    HOUSE_FEES,
    HOUSE_HEDGE,
    HOUSE_OPTIONS,
    FeeSchedule,
    Leg,
    Posting,
    PostingError,
    expiry_posting,
    fill_posting,
    hedge_posting,
    option_sale_posting,
    transfer_posting,
)
from streams.ledger.fees import to_usdt

D = Decimal


def _by_account(posting: Posting) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for _, leg in posting.entries():
        out[leg.account] = out.get(leg.account, D(0)) + leg.amount
    return out


def test_a_posting_that_does_not_balance_raises() -> None:
    with pytest.raises(PostingError, match=r"does not balance: 0\.01"):
        Posting("p1", "ref", (Leg("a", D("10.01"), "transfer"), Leg("b", D("-10"), "transfer")))


def test_a_posting_without_legs_raises() -> None:
    with pytest.raises(PostingError, match="no legs"):
        Posting("p1", "ref", ())


def test_entry_ids_are_posting_id_and_leg_number() -> None:
    posting = transfer_posting(transfer_id="t-1", account="acc-1", amount=D("250"),
                               reference="deposit")
    assert [entry_id for entry_id, _ in posting.entries()] == ["transfer:t-1:0", "transfer:t-1:1"]


def test_ids_are_deterministic_for_the_same_fact() -> None:
    def make() -> Posting:
        return fill_posting(trade_id="T9", liquidity="maker", account="acc-1", symbol="BTC-USDT",
                            cash=D("-1000.5"), fee=D("0.2"), option=False)

    first, again = make(), make()
    assert first == again
    assert list(first.entries()) == list(again.entries())
    assert first.posting_id == "fill:T9:maker"


def test_fill_buy_pays_clearing_and_fees() -> None:
    posting = fill_posting(trade_id="T1", liquidity="taker", account="acc-1", symbol="BTC-USDT",
                           cash=D("-1000.00"), fee=D("0.50"), option=False)
    assert [(leg.account, leg.amount, leg.kind) for leg in posting.legs] == [
        ("acc-1", D("-1000.00"), "trade"), (CLEARING, D("1000.00"), "trade"),
        ("acc-1", D("-0.50"), "fee"), (HOUSE_FEES, D("0.50"), "fee")]
    assert _by_account(posting) == {"acc-1": D("-1000.50"), CLEARING: D("1000.00"),
                                    HOUSE_FEES: D("0.50")}
    assert posting.reference == "trade T1"


def test_fill_of_an_option_books_premium_and_drops_a_zero_fee() -> None:
    posting = fill_posting(trade_id="T2", liquidity="maker", account="acc-2",
                           symbol="BTC-20260109-100000-C", cash=D("150"), fee=D(0), option=True)
    assert [(leg.account, leg.amount, leg.kind) for leg in posting.legs] == [
        ("acc-2", D("150"), "premium"), (CLEARING, D("-150"), "premium")]
    assert all(leg.symbol == "BTC-20260109-100000-C" for leg in posting.legs)


def test_both_fills_of_a_trade_leave_clearing_flat() -> None:
    fees = FeeSchedule()
    notional = to_usdt(D("65000.25") * D("0.12345"))
    buy = fill_posting(trade_id="T3", liquidity="taker", account="b", symbol="BTC-USDT",
                       cash=-notional, fee=fees.fee(notional, option=False, maker=False),
                       option=False)
    sell = fill_posting(trade_id="T3", liquidity="maker", account="s", symbol="BTC-USDT",
                        cash=notional, fee=fees.fee(notional, option=False, maker=True),
                        option=False)
    assert buy.amount_of(CLEARING) == notional
    assert buy.amount_of(CLEARING) + sell.amount_of(CLEARING) == 0
    assert buy.posting_id != sell.posting_id


def test_transfer_deposit_and_withdrawal_against_house_cash() -> None:
    deposit = transfer_posting(transfer_id="d1", account="acc-1", amount=D("500"),
                               reference="wire")
    withdrawal = transfer_posting(transfer_id="w1", account="acc-1", amount=D("-120.5"),
                                  reference="out")
    assert _by_account(deposit) == {"acc-1": D("500"), HOUSE_CASH: D("-500")}
    assert _by_account(withdrawal) == {"acc-1": D("-120.5"), HOUSE_CASH: D("120.5")}
    assert {leg.kind for leg in deposit.legs} == {"transfer"}
    with pytest.raises(PostingError, match="of zero"):
        transfer_posting(transfer_id="z", account="acc-1", amount=D(0), reference="nothing")


def test_option_sale_debits_premium_and_fee_to_the_house() -> None:
    posting = option_sale_posting(order_id="o-1", account="acc-1", product="BTC-20260109-100000-C",
                                  premium=D("812.5"), fee=D("3.25"))
    assert posting.posting_id == "option-sale:o-1"
    assert _by_account(posting) == {"acc-1": D("-815.75"), HOUSE_OPTIONS: D("812.5"),
                                    HOUSE_FEES: D("3.25")}
    assert [leg.kind for leg in posting.legs] == ["premium", "premium", "fee", "fee"]


@pytest.mark.parametrize(("side", "house"), [("buy", D("-6500.005")), ("sell", D("6500"))])
def test_hedge_buys_spend_and_sells_receive_notional_net_of_fee(side: str, house: Decimal) -> None:
    # notional 0.1 x 65000.025 = 6500.0025, and the venue charged 0.0025
    posting = hedge_posting(hedge_id="hedge:o-1", venue="simulated", symbol="BTC-USDT", side=side,
                            qty=D("0.1"), price=D("65000.025"), fee=D("0.0025"))
    assert posting.amount_of(HOUSE_HEDGE) == house
    assert posting.amount_of("venue:simulated") == -house
    assert posting.posting_id == "hedge:hedge:o-1"
    assert {leg.kind for leg in posting.legs} == {"hedge", "fee"}


def test_hedge_notional_is_rounded_to_the_usdt_grid() -> None:
    posting = hedge_posting(hedge_id="h", venue="v", symbol="BTC-USDT", side="buy",
                            qty=D("0.00001"), price=D("65000.123456789"), fee=D(0))
    assert posting.amount_of(HOUSE_HEDGE) == D("-0.65000123")


def test_expiry_pays_the_holder_against_the_counterparty() -> None:
    posting = expiry_posting(underlying="BTC", expiry="20260109T0800Z", account="acc-1",
                             symbol="BTC-20260109-100000-C", payout=D("2500"),
                             counterparty=CLEARING)
    assert posting.posting_id == "expiry:BTC:20260109T0800Z:acc-1:BTC-20260109-100000-C"
    assert _by_account(posting) == {"acc-1": D("2500"), CLEARING: D("-2500")}
    short = expiry_posting(underlying="BTC", expiry="20260109T0800Z", account="acc-2",
                           symbol="BTC-20260109-100000-C", payout=D("-2500"),
                           counterparty=HOUSE_OPTIONS)
    assert _by_account(short) == {"acc-2": D("-2500"), HOUSE_OPTIONS: D("2500")}


def test_a_worthless_expiry_is_recorded_with_one_zero_leg() -> None:
    posting = expiry_posting(underlying="ETH", expiry="20260109T0800Z", account="acc-1",
                             symbol="ETH-20260109-3500-P", payout=D(0), counterparty=CLEARING)
    assert [(leg.account, leg.amount, leg.kind) for leg in posting.legs] == [
        ("acc-1", D(0), "expiry")]


@pytest.mark.parametrize(("notional", "option", "maker", "fee"), [
    (D("10000"), False, True, D("2")),
    (D("10000"), False, False, D("5")),
    (D("-10000"), False, False, D("5")),
    (D("800"), True, True, D("0.24")),
    (D("800"), True, False, D("0.4")),
    (D("0.00001"), False, False, D("0.00000001")),  # 5e-9 rounds half up to the grid
])
def test_fee_schedule(notional: Decimal, option: bool, maker: bool, fee: Decimal) -> None:
    fees = FeeSchedule()
    assert fees.fee(notional, option=option, maker=maker) == fee
    assert fees.max_fee(notional, option=option) == fees.fee(notional, option=option,
                                                             maker=False)
