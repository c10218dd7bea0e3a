"""Market-data contracts: venue trades (ticks), L2 books, candles, index prices, option marks,
feed health and price alerts.

Venue data (ticks and L2 levels) carries at most 9 decimals, like every venue prints; derived
prices (mids, the index) may carry more and use the 18-decimal money types. Greeks are not
money but are still exact decimals on the wire, written in fixed-point notation (never
``1E-8``) so every consumer parses them the same way.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, PlainSerializer, TypeAdapter, model_validator

from topics.contracts.base import (
    Contract,
    Event,
    Id,
    Money,
    NonNegativeInt64,
    PositiveDecimal,
    PositiveInt64,
    Quantity,
    Symbol,
    UtcDatetime,
    Venue,
    VenuePrice,
    VenueQuantity,
    decimal_type,
)
from topics.contracts.orders import AccountId

__all__ = [
    "Asset",
    "BookLevel",
    "CancelPriceAlert",
    "Candle",
    "FeedStateChanged",
    "IndexPrice",
    "L2Level",
    "L2Update",
    "OptionMark",
    "PriceAlertCommand",
    "SetPriceAlert",
    "Tick",
    "price_alert_command_adapter",
]

Asset = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,9}$",
                             description="an underlying asset code: BTC, ETH")]


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


def _fixed(value: Decimal) -> str:
    return format(value, "f")


# Level prices and sizes of a book: at most 9 decimals, as venues print; a size of 0 deletes
# the level in a delta. The shared decimal validator is one Python call per number, which
# matters here: a book carries hundreds of them.
L2Price = decimal_type("a venue's price, exact, > 0, at most 9 decimals", places=9, gt=0)
VenueSize = decimal_type("a level's size, exact, >= 0, at most 9 decimals "
                         "(0 deletes the level in a delta)", places=9, ge=0)
Greek = Annotated[
    Decimal,
    AfterValidator(_finite),
    Field(description="a sensitivity, exact decimal in fixed-point notation"),
    PlainSerializer(_fixed, return_type=str, when_used="json"),
]


class Tick(Event):
    """A trade printed by a venue. ``trade_id`` is the venue's own increasing sequence."""

    venue: Venue
    symbol: Symbol
    trade_id: NonNegativeInt64
    price: VenuePrice
    qty: VenueQuantity
    side: Literal["buy", "sell"] = Field(description="aggressor side")


#: More venues than an index could ever use: bounds the lists of an index price.
MAX_VENUES = 64
BookLevel = tuple[PositiveDecimal, Quantity]
L2Level = tuple[L2Price, VenueSize]


def _side_ok(levels: list[L2Level], side: str, snapshot: bool) -> None:
    prices = [p for p, _ in levels]
    if len(set(prices)) != len(prices):
        raise ValueError(f"{side}: a price appears twice")
    if snapshot and any(q == 0 for _, q in levels):
        raise ValueError(f"{side}: a snapshot level must have a size > 0")


class L2Update(Event):
    """A venue's order-book snapshot or delta for one symbol.

    ``seq`` is the venue's own contiguous sequence for this symbol: a delta must carry the
    previous update's ``seq + 1``; anything else is a gap and the book is resynchronised from
    the next snapshot. A snapshot replaces the venue's book and restarts the sequence at its
    ``seq``. In a delta a level's size is the new total at that price, 0 removing it.
    """

    venue: Venue
    symbol: Symbol
    seq: NonNegativeInt64
    snapshot: bool
    bids: list[L2Level] = Field(default_factory=list, max_length=5000)
    asks: list[L2Level] = Field(default_factory=list, max_length=5000)

    @model_validator(mode="after")
    def _levels_consistent(self) -> L2Update:
        _side_ok(self.bids, "bids", self.snapshot)
        _side_ok(self.asks, "asks", self.snapshot)
        crossed = (self.snapshot and self.bids and self.asks
                   and max(p for p, _ in self.bids) >= min(p for p, _ in self.asks))
        if crossed:
            raise ValueError("a snapshot must not be crossed (best bid >= best ask)")
        return self


class FeedStateChanged(Event):
    """A venue's feed for one symbol changed health; ``out_of_sync`` asks for a snapshot.

    ``live``: in sequence and speaking. ``out_of_sync``: a gap, a crossed book or a delta
    before any snapshot; the venue's book is ignored until its next snapshot, and a feed
    adapter seeing ``resync_requested`` should send one (fetch it from the venue's REST API).
    ``stale``: silent for longer than the configured time, judged on event time.
    """

    venue: Venue
    symbol: Symbol
    state: Literal["live", "out_of_sync", "stale"]
    reason: Literal["snapshot", "resumed", "gap", "crossed", "no_snapshot", "silent"]
    resync_requested: bool
    last_seq: int | None = Field(default=None, description="the last sequence applied")
    received_seq: int | None = Field(default=None, description="what arrived instead")


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
    trades: PositiveInt64
    version: PositiveInt64
    final: bool

    @model_validator(mode="after")
    def _consistent(self) -> Candle:
        if not (self.low <= min(self.open, self.close) and max(self.open, self.close) <= self.high):
            raise ValueError("candle must satisfy low <= open, close <= high")
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self


class IndexPrice(Event):
    """The index of an underlying: the median of healthy venues' book mids.

    A venue is healthy when its book is in sequence, two-sided, not crossed and not stale;
    of those, a venue further than the configured band from the median of all of them is an
    outlier. ``venues_excluded`` lists every venue left out and ``exclusions`` says why.
    """

    underlying: Asset
    price: PositiveDecimal
    venues_used: list[Venue] = Field(max_length=MAX_VENUES)
    venues_excluded: list[Venue] = Field(default_factory=list, max_length=MAX_VENUES)
    exclusions: dict[Venue, Literal["stale", "out_of_sync", "one_sided", "outlier"]] = Field(
        default_factory=dict, max_length=MAX_VENUES, description="venue -> why it was left out",
        json_schema_extra={"additionalProperties": False})  # keys are venue codes, no others


class OptionMark(Event):
    """An option's mark price and Greeks (Black-76 on the forward; units in pricing.py).

    ``underlying_price`` is the index the mark was made from, ``forward`` the Black-76
    forward for the option's expiry; ``mark_price`` is on the option's premium tick.
    """

    symbol: Symbol
    underlying_price: PositiveDecimal
    mark_price: Money
    iv: Decimal = Field(gt=0, description="implied volatility, annualised (0.65 = 65%)")
    delta: Greek
    gamma: Greek
    vega: Greek
    theta: Greek
    expiry: UtcDatetime
    forward: PositiveDecimal | None = None


AlertId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
BasisPoints = decimal_type("basis points, 0 to 10000, at most 8 decimals", places=8, ge=0,
                           le=10_000)


class _AlertCommand(Contract):
    command_id: Id = Field(description="idempotency key")
    ts_sent: UtcDatetime
    account: AccountId
    alert_id: AlertId
    underlying: Asset = Field(description="the Kafka key: co-partitioned with md.index")


class SetPriceAlert(_AlertCommand):
    """Register (or replace) an alert on an underlying's index price.

    It fires once when the index *crosses* ``threshold`` in ``direction``: it arms only after
    an index on the near side has been seen, so an alert set beyond its threshold waits for
    the price to come back first. A ``repeat`` alert re-arms once the index is back on the
    near side by ``rearm_bps``; a one-shot alert is removed when it fires.
    """

    type: Literal["set"] = "set"
    direction: Literal["above", "below"]
    threshold: PositiveDecimal
    repeat: bool = False
    rearm_bps: BasisPoints = Field(default=Decimal(10),
                                   description="hysteresis before a repeat alert re-arms")


class CancelPriceAlert(_AlertCommand):
    type: Literal["cancel"] = "cancel"


PriceAlertCommand = Annotated[SetPriceAlert | CancelPriceAlert, Field(discriminator="type")]
price_alert_command_adapter: TypeAdapter[PriceAlertCommand] = TypeAdapter(PriceAlertCommand)
