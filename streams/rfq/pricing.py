"""Splitting a structure's net price into leg prices that add up to it exactly.

The venue convention: every leg is priced at its mark (passed in by the caller, the venue's
own marks) except one, the *adjusting leg*, which carries the residual so that

    sum(leg_sign(side) * ratio * leg_price) == net price        (exactly, in Decimal)

The adjusting leg is the **last leg whose ratio is 2^a * 5^b** (1, 2, 4, 5, 8, 10 ...):
dividing a decimal residual by such a ratio always terminates, so the split never rounds. In
the usual structure the last leg has ratio 1 and is the adjusting leg; an RFQ with no such
ratio at all (say 3:7) is refused at opening. Every leg price must stay > 0 (an option or
spot price cannot be negative): if the residual pushes the adjusting leg to zero or below the
accept is refused, since a venue that prints negative option prices corrupts every consumer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow
from math import gcd

from streams.rfq.codes import RfqCode
from streams.rfq.values import Leg, leg_sign

__all__ = ["EXACT", "adjusting_leg", "net_price", "ratios_reduced", "split_net_price"]

#: Decimal arithmetic that refuses to round: any inexact result raises instead.
EXACT = Context(prec=200, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])


def _decimal_friendly(ratio: int) -> bool:
    for p in (2, 5):
        while ratio % p == 0:
            ratio //= p
    return ratio == 1


def adjusting_leg(legs: Sequence[Leg]) -> int | None:
    """Index of the leg that carries the residual, or ``None`` if no ratio allows it."""
    for i in range(len(legs) - 1, -1, -1):
        if _decimal_friendly(legs[i].ratio):
            return i
    return None


def ratios_reduced(legs: Sequence[Leg]) -> bool:
    """True if the ratios share no common factor (1:2:1, not 2:4:2): one unit is minimal."""
    g = 0
    for leg in legs:
        g = gcd(g, leg.ratio)
    return g == 1


def net_price(legs: Sequence[Leg], prices: Sequence[Decimal]) -> Decimal:
    """sum(sign * ratio * price), exactly."""
    total = Decimal(0)
    for leg, price in zip(legs, prices, strict=True):
        total = EXACT.add(total, EXACT.multiply(Decimal(leg_sign(leg.side) * leg.ratio), price))
    return total


def _mark_ok(mark: object) -> bool:
    return isinstance(mark, Decimal) and mark.is_finite() and mark > 0


def split_net_price(legs: Sequence[Leg], price: Decimal, marks: Mapping[str, Decimal]
                    ) -> tuple[Decimal, ...] | RfqCode:
    """Leg prices for a structure traded at net ``price``, or the code refusing it."""
    adjust = adjusting_leg(legs)
    if adjust is None:
        return RfqCode.NO_ADJUSTABLE_LEG
    prices: list[Decimal] = []
    for i, leg in enumerate(legs):
        if i == adjust:
            prices.append(Decimal(0))
            continue
        mark = marks.get(leg.symbol)
        if not _mark_ok(mark):
            return RfqCode.NO_MARK
        prices.append(mark)  # type: ignore[arg-type]
    leg = legs[adjust]
    try:
        residual = EXACT.subtract(price, net_price(legs, prices))
        prices[adjust] = EXACT.divide(residual, Decimal(leg_sign(leg.side) * leg.ratio))
    except (Inexact, InvalidOperation, DivisionByZero, Overflow):
        return RfqCode.LEG_PRICES_NOT_EXACT
    if prices[adjust] <= 0:
        return RfqCode.LEG_PRICE_NOT_POSITIVE
    return tuple(prices)
