"""The house's standard chain of simplified options, pure: what ``cdc seed-products`` lists.

Why a generator and not a fixture file: products expire. A chain built from "now" and the
configured spots always has live products (the next two daily expiries and the next two
Fridays, strikes around the money), and the ids are canonical, so seeding twice lists nothing
new.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from cdc.domain import EXPIRY_TIME_UTC, OptionType, Product

__all__ = ["CONTRACT_SIZE", "STRIKE_STEP", "standard_chain", "standard_expiries"]

#: Coin per contract: 0.01 BTC, 0.1 ETH (a contract is a few hundred USDT of notional).
CONTRACT_SIZE: Mapping[str, Decimal] = {"BTC": Decimal("0.01"), "ETH": Decimal("0.1")}
#: Strikes sit on these grids.
STRIKE_STEP: Mapping[str, Decimal] = {"BTC": Decimal("1000"), "ETH": Decimal("50")}
_MONEYNESS = (Decimal("0.9"), Decimal("0.95"), Decimal("1"), Decimal("1.05"), Decimal("1.1"))
_FRIDAY = 4


def standard_expiries(now: datetime, *, min_ahead: timedelta = timedelta(hours=1)) -> list[date]:
    """The next two daily expiries and the next two Fridays at least ``min_ahead`` away."""
    def expiry(d: date) -> datetime:
        return datetime.combine(d, EXPIRY_TIME_UTC)

    day = now.astimezone(UTC).date()
    dailies: list[date] = []
    while len(dailies) < 2:
        if expiry(day) - now >= min_ahead:
            dailies.append(day)
        day += timedelta(days=1)
    fridays: list[date] = []
    day = dailies[-1] + timedelta(days=1)
    while len(fridays) < 2:
        if day.weekday() == _FRIDAY:
            fridays.append(day)
        day += timedelta(days=1)
    return sorted(set(dailies + fridays))


def _strike(spot: Decimal, moneyness: Decimal, step: Decimal) -> Decimal:
    return ((spot * moneyness) / step).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * step


def standard_chain(now: datetime, spots: Mapping[str, Decimal]) -> list[Product]:
    """Calls and puts at five strikes around each spot, for each standard expiry."""
    products: dict[str, Product] = {}
    for underlying, spot in sorted(spots.items()):
        for expiry_date in standard_expiries(now):
            for moneyness in _MONEYNESS:
                strike = _strike(spot, moneyness, STRIKE_STEP[underlying])
                for option_type in OptionType:
                    p = Product.listed(underlying, expiry_date, strike, option_type,
                                       CONTRACT_SIZE[underlying])
                    products[p.id] = p
    return list(products.values())
