"""How much the house hedges when it sells a simplified option: its delta, in the spot pair.

The house is short the option it sold, so its exposure is minus the option's delta times
the contracts; the hedge buys (a call) or sells (a put) that much of the underlying, rounded to
the spot pair's lot. Delta is Black-76 at the premium's own inputs (the index and implied vol
the counter service priced with), so the hedge matches what was sold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from streams.instruments import DEFAULT_SPOT_SPECS
from streams.marketdata.pricing import black76_scalar, time_to_expiry

__all__ = ["HedgeInstruction", "hedge_for_option_sale"]


@dataclass(frozen=True, slots=True)
class HedgeInstruction:
    symbol: str  # the spot pair, e.g. BTC-USDT
    side: str  # buy | sell
    qty: Decimal  # 0: nothing to hedge
    delta: Decimal  # of one unit of the option


def hedge_for_option_sale(*, underlying: str, option_type: str, strike: Decimal,
                          expiry: datetime, underlying_price: Decimal, iv: Decimal,
                          contracts: Decimal, contract_size: Decimal,
                          at: datetime) -> HedgeInstruction:
    greeks = black76_scalar(float(underlying_price), float(strike), time_to_expiry(at, expiry),
                            float(iv), is_call=option_type == "call")
    delta = Decimal(repr(greeks.delta)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
    lot = DEFAULT_SPOT_SPECS[underlying].lot_size
    qty = (abs(delta) * contracts * contract_size / lot).quantize(
        Decimal(1), rounding=ROUND_HALF_UP) * lot
    side = "buy" if delta > 0 else "sell"
    return HedgeInstruction(f"{underlying}-USDT", side, qty, delta)
