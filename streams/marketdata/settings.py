"""Settings of the market-data agents: staleness, outliers, publication rates, option chains.

One frozen object, read from the environment once (:func:`get_marketdata_settings`), with the
same convention as :mod:`infra.settings`: ``STRIKEFLOW_MARKETDATA__<FIELD>``, e.g.
``STRIKEFLOW_MARKETDATA__STALE_AFTER_S=3``. It lives beside the agents rather than in
``infra.settings.Settings`` so the market-data team can tune it without touching the shared
object; the prefix is the one a ``Settings.marketdata`` field would read, so folding it in
later changes no variable name.

Two clocks, on purpose:

* **event time** (the venues' ``ts_event``) decides staleness and the index/book publication
  rate, so a replay at any speed publishes the same index series as the live run did;
* **wall time** bounds option re-marking, because marks are a *latest-value* feed (a compacted
  topic) whose cost is CPU now: a worker catching up a backlog marks the newest index once,
  not every historical one.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MarketDataSettings", "get_marketdata_settings"]


class MarketDataSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STRIKEFLOW_MARKETDATA__", frozen=True, extra="forbid"
    )

    # --- venue books and the index (event time) -------------------------------------------
    stale_after_s: float = Field(
        5.0, gt=0, description="a venue silent for this long (event time) is stale")
    outlier_bps: Decimal = Field(
        Decimal(50), gt=0, description="a venue further than this from the median is excluded")
    min_venues: int = Field(
        2, ge=1, description="fewer healthy venues than this: no index is published")
    index_interval_s: float = Field(
        0.25, ge=0, description="at most one index per underlying per interval (event time)")
    book_interval_s: float = Field(
        0.25, ge=0, description="at most one book update per symbol per interval (event time)")
    book_depth: int = Field(10, ge=1, le=200, description="levels per side published")

    # --- option marks (wall time) ---------------------------------------------------------
    marks_interval_s: float = Field(
        1.0, ge=0, description="at most one re-mark per chain per interval (wall time)")
    marks_min_move_bps: Decimal = Field(
        Decimal(0), ge=0, description="re-mark only when the index moved more than this")
    marks_refresh_s: float = Field(
        60.0, gt=0, description="re-mark anyway after this long (event time): theta decays")
    usdt_rate: float = Field(0.0, description="continuously compounded USDT rate r")
    coin_yield: float = Field(0.0, description="the coin's borrow/staking yield q")
    strikes_per_expiry: int = Field(
        11, ge=1, le=400, description="strikes marked around the index on every listed expiry, "
        "besides the venue's (the expiries are the venue's listing schedule)")

    # --- price alerts ---------------------------------------------------------------------
    alerts_per_account: int = Field(
        50, ge=1, description="alerts one account may hold per underlying")


@lru_cache(maxsize=1)
def get_marketdata_settings() -> MarketDataSettings:
    """The process-wide market-data settings, read from the environment once."""
    return MarketDataSettings()
