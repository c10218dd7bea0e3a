"""Risk limits and the margin model's parameters: one object, part of the settings
(``STRIKEFLOW_RISK__*``), passed whole to the pure risk code."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

__all__ = ["RiskLimits"]


class RiskLimits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # exposure: gross notional (|qty| x contract size x index) per account and underlying,
    # positions plus open orders
    max_exposure_usdt: Decimal = Decimal("5000000")
    # overrides, most specific first: "<account>:<underlying>", "<account>", "*:<underlying>"
    # (e.g. STRIKEFLOW_RISK__EXPOSURE_LIMITS='{"acc-a:BTC": "250000", "*:ETH": "1000000"}')
    exposure_limits: dict[str, Decimal] = {}
    max_open_orders: int = 1000
    # order rate: a token bucket per account, on the broker's timestamps (replay-stable)
    orders_per_second: float = 50.0
    order_burst: int = 100
    # limit prices further than this from the mark (options) or index (spot) are refused
    price_band: Decimal = Decimal("0.10")
    option_price_band: Decimal = Decimal("0.50")
    # standard margin for short options (fractions of the index)
    short_option_base: Decimal = Decimal("0.15")
    short_option_floor: Decimal = Decimal("0.10")
    short_option_maintenance: Decimal = Decimal("0.075")
    # short spot (fractions of notional)
    short_spot_initial: Decimal = Decimal("0.10")
    short_spot_maintenance: Decimal = Decimal("0.05")
    # margin ratio (maintenance margin / equity) thresholds
    margin_call_ratio: Decimal = Decimal("0.80")
    liquidation_ratio: Decimal = Decimal("1.00")
    # close a position whose loss reaches this fraction of its entry notional (0 = off)
    stop_loss: Decimal = Decimal("0.50")
    # how often every account is revalued against fresh marks
    revalue_every_s: float = 1.0

    def exposure_limit(self, account: str, underlying: str) -> Decimal:
        """The gross-notional limit of ``account`` in ``underlying``."""
        for key in (f"{account}:{underlying}", account, f"*:{underlying}"):
            if key in self.exposure_limits:
                return self.exposure_limits[key]
        return self.max_exposure_usdt
