"""The fee schedule: maker and taker rates on a fill's USDT notional, rounded to the cent-ish
grid USDT balances are kept on (1e-8)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["USDT_GRID", "FeeSchedule", "to_usdt"]

USDT_GRID = Decimal("0.00000001")


def to_usdt(amount: Decimal) -> Decimal:
    """Round an amount to the USDT grid, half up (the rounding venues publish)."""
    return amount.quantize(USDT_GRID, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Rates are fractions of notional (0.0005 = 5 bps). Options pay on premium, capped the
    way the big option venues cap them: never more than ``option_cap`` of the premium."""

    spot_maker: Decimal = Decimal("0.0002")
    spot_taker: Decimal = Decimal("0.0005")
    option_maker: Decimal = Decimal("0.0003")
    option_taker: Decimal = Decimal("0.0005")
    option_cap: Decimal = Decimal("0.125")

    def fee(self, notional: Decimal, *, option: bool, maker: bool) -> Decimal:
        if option:
            rate = self.option_maker if maker else self.option_taker
            return to_usdt(min(abs(notional) * rate, abs(notional) * self.option_cap))
        rate = self.spot_maker if maker else self.spot_taker
        return to_usdt(abs(notional) * rate)

    def max_fee(self, notional: Decimal, *, option: bool) -> Decimal:
        """The most an order of this notional can pay (as taker): what risk reserves."""
        return self.fee(notional, option=option, maker=False)
