"""Settings of the CDC component: counter pricing, Debezium names, reconciliation bounds.

One frozen pydantic-settings object, read from ``STRIKEFLOW_CDC__*`` once (:func:`get_cdc_config`),
beside the platform's :class:`~infra.settings.Settings` (which owns hosts, ports and roles).
Money is ``Decimal`` here as everywhere: ``STRIKEFLOW_CDC__SPREAD_BPS=150`` is parsed exactly.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["CdcConfig", "get_cdc_config"]


class CdcConfig(BaseSettings):
    """What the counter, the connector and the reconciler are configured with."""

    model_config = SettingsConfigDict(env_prefix="STRIKEFLOW_CDC__", frozen=True, extra="ignore")

    # -- counter pricing ---------------------------------------------------------------------
    spot_btc: Decimal = Field(default=Decimal("91000"), gt=0,
                              description="configured BTC spot until md.marks feeds the counter")
    spot_eth: Decimal = Field(default=Decimal("3200"), gt=0, description="configured ETH spot")
    usdt_rate: float = Field(default=0.0, description="continuously compounded USDT rate")
    spread_bps: Decimal = Field(default=Decimal("200"), ge=0,
                                description="the house's markup over the model mark, in bps")
    fee_bps: Decimal = Field(default=Decimal("30"), ge=0, description="fee on the premium, bps")
    price_tick: Decimal = Field(default=Decimal("0.01"), gt=0,
                                description="premium per coin is rounded up to this tick")
    fee_tick: Decimal = Field(default=Decimal("0.000001"), gt=0,
                              description="the fee is rounded up to this (USDT has 6 decimals)")
    min_price: Decimal = Field(default=Decimal("0.01"), gt=0,
                               description="the house never sells an option for less per coin")
    qty_step: Decimal = Field(default=Decimal("1"), gt=0, description="contracts come in steps")
    max_contracts: Decimal = Field(default=Decimal("10000"), gt=0)
    max_price_age_s: float = Field(default=5.0, gt=0,
                                   description="an older underlying price is stale")
    min_time_to_expiry_s: float = Field(default=300.0, ge=0,
                                        description="no sale this close to expiry")
    pool_min: int = Field(default=2, ge=1)
    pool_max: int = Field(default=16, ge=1)

    # -- Debezium ---------------------------------------------------------------------------
    connector_name: str = "strikeflow-orders"
    publication: str = "strikeflow_cdc"
    slot: str = "strikeflow_cdc"
    poll_interval_ms: int = Field(default=10, ge=1,
                                  description="Debezium's queue poll: the floor of its latency")

    # -- reconciliation -----------------------------------------------------------------------
    reconcile_enabled: bool = Field(default=True,
                                    description="run the worker's periodic reconciliation")
    reconcile_interval_s: float = Field(default=60.0, gt=0)
    reconcile_grace_s: float = Field(default=30.0, ge=0,
                                     description="an order younger than this is not yet late")
    reconcile_lookback_s: float = Field(default=3600.0, gt=0,
                                        description="how far back each run compares (the "
                                        "CLI's --lookback reaches further)")


@lru_cache(maxsize=1)
def get_cdc_config() -> CdcConfig:
    """The process-wide CDC settings, read from the environment once."""
    return CdcConfig()
