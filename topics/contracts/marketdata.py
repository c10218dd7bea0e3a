"""Market-data contracts: venue trades (ticks), L2 books, candles, index prices, option marks."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from topics.contracts.base import (
    Event,
    Money,
    PositiveDecimal,
    Quantity,
    Symbol,
    UtcDatetime,
    Venue,
    VenuePrice,
    VenueQuantity,
)

__all__ = ["BookLevel", "Candle", "IndexPrice", "L2Update", "OptionMark", "Tick"]


class Tick(Event):
    """A trade printed by a venue. ``trade_id`` is the venue's own increasing sequence."""

    venue: Venue
    symbol: Symbol
    trade_id: int = Field(ge=0)
    price: VenuePrice
    qty: VenueQuantity
    side: Literal["buy", "sell"] = Field(description="aggressor side")


BookLevel = tuple[PositiveDecimal, Quantity]


class L2Update(Event):
    """A venue's order-book snapshot or delta; a gap in ``seq`` means resync."""

    venue: Venue
    symbol: Symbol
    seq: int = Field(ge=0)
    snapshot: bool
    bids: list[tuple[PositiveDecimal, Decimal]] = Field(default_factory=list)
    asks: list[tuple[PositiveDecimal, Decimal]] = Field(default_factory=list)


class Candle(Event):
    """OHLCV over ``[window_start, window_end)``, across venues, by event time.

    A live candle is re-published with a higher ``version`` as ticks arrive; ``final`` marks
    the last version, once the watermark has passed the window's end plus the grace period.
    Sinks keep the highest version per ``event_id``.
    """

    symbol: Symbol
    interval: Literal["1m", "5m", "15m", "1h"]
    window_start: UtcDatetime
    window_end: UtcDatetime
    open: PositiveDecimal
    high: PositiveDecimal
    low: PositiveDecimal
    close: PositiveDecimal
    volume: Quantity
    notional: Money
    vwap: PositiveDecimal
    trades: int = Field(ge=1)
    version: int = Field(ge=1)
    final: bool

    @model_validator(mode="after")
    def _consistent(self) -> Candle:
        if not (self.low <= min(self.open, self.close) and max(self.open, self.close) <= self.high):
            raise ValueError("candle must satisfy low <= open, close <= high")
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self


class IndexPrice(Event):
    """The index of an underlying: median of healthy venues' prices."""

    underlying: Literal["BTC", "ETH"]
    price: PositiveDecimal
    venues_used: list[Venue]
    venues_excluded: list[Venue] = Field(default_factory=list)


class OptionMark(Event):
    """An option's mark price and Greeks (Black-76 on the forward)."""

    symbol: Symbol
    underlying_price: PositiveDecimal
    mark_price: Money
    iv: Decimal = Field(gt=0, description="implied volatility, annualised (0.65 = 65%)")
    delta: Decimal
    gamma: Decimal
    vega: Decimal
    theta: Decimal
    expiry: UtcDatetime
