"""Splitting a net price into leg prices: marks on all legs but one, the residual exact."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from streams.rfq import Leg, RfqCode, net_price, split_net_price
from streams.rfq.pricing import adjusting_leg, ratios_reduced

C1, C2, C3, P1 = "BTC-27JUN25-60000-C", "BTC-27JUN25-70000-C", "BTC-27JUN25-80000-C", \
    "BTC-27JUN25-50000-P"
MARKS = {C1: D("5000"), C2: D("2000"), C3: D("800"), P1: D("1500.5")}


@pytest.mark.parametrize(("legs", "net", "expected"), [
    # single leg: the net price is the leg price
    ([Leg(C1, "buy")], D("4900"), (D("4900"),)),
    ([Leg(C1, "sell")], D("-4900"), (D("4900"),)),
    # call spread: first leg at its mark, the residual on the last
    ([Leg(C1, "buy"), Leg(C2, "sell")], D("3100"), (D("5000"), D("1900"))),
    # butterfly 1:2:1 — the last ratio-1 leg carries it
    ([Leg(C1, "buy"), Leg(C2, "sell", 2), Leg(C3, "buy")], D("1700"),
     (D("5000"), D("2000"), D("700"))),
    # ratio 2 on the last leg divides exactly (half a unit of the residual's last digit)
    ([Leg(C1, "buy"), Leg(C2, "sell", 2)], D("1000.01"), (D("5000"), D("1999.995"))),
    # 1:3 — the 3 cannot carry 1/3, the ratio-1 leg does
    ([Leg(C1, "buy"), Leg(C3, "sell", 3)], D("2650"), (D("5050"), D("800"))),
    # risk reversal: may be a credit (negative net price)
    ([Leg(P1, "sell"), Leg(C2, "buy")], D("-100"), (D("1500.5"), D("1400.5"))),
])
def test_split(legs: list[Leg], net: D, expected: tuple[D, ...]) -> None:
    prices = split_net_price(legs, net, MARKS)
    assert prices == expected
    assert net_price(legs, prices) == net  # type: ignore[arg-type]


@pytest.mark.parametrize(("legs", "net", "marks", "code"), [
    ([Leg(C1, "buy"), Leg(C2, "sell")], D("5000"), MARKS, RfqCode.LEG_PRICE_NOT_POSITIVE),
    ([Leg(C1, "buy"), Leg(C2, "sell")], D("6000"), MARKS, RfqCode.LEG_PRICE_NOT_POSITIVE),
    ([Leg(C1, "buy"), Leg(C2, "sell")], D("1"), {C2: D("1")}, RfqCode.NO_MARK),
    ([Leg(C1, "buy"), Leg(C2, "sell")], D("1"), {C1: D("0")}, RfqCode.NO_MARK),
    ([Leg(C1, "buy"), Leg(C2, "sell")], D("1"), {C1: D("NaN")}, RfqCode.NO_MARK),
    ([Leg(C1, "buy"), Leg(C2, "sell")], D("1"), {C1: 5000.0}, RfqCode.NO_MARK),  # float
    ([Leg(C1, "buy", 3), Leg(C2, "sell", 7)], D("1"), MARKS, RfqCode.NO_ADJUSTABLE_LEG),
])
def test_split_refused(legs: list[Leg], net: D, marks: dict[str, D], code: RfqCode) -> None:
    assert split_net_price(legs, net, marks) == code


def test_adjusting_leg_is_the_last_with_a_decimal_friendly_ratio() -> None:
    assert adjusting_leg([Leg(C1, "buy"), Leg(C2, "sell", 3)]) == 0
    assert adjusting_leg([Leg(C1, "buy", 3), Leg(C2, "sell", 4), Leg(C3, "buy", 7)]) == 1
    assert adjusting_leg([Leg(C1, "buy", 10)]) == 0
    assert ratios_reduced([Leg(C1, "buy", 2), Leg(C2, "sell", 3)])
    assert not ratios_reduced([Leg(C1, "buy", 2), Leg(C2, "sell", 4)])
