"""Instrument catalogue: ids, grids (Decimal <-> integer ticks/lots) and the venue's listings
as they roll with its clock.

Pure domain code: no Faust, Kafka or database imports, so the matching engine, market data
and risk can all share one definition of what is tradable.
"""

from streams.instruments.catalogue import (
    DEFAULT_OPTION_SPECS,
    DEFAULT_SPOT_REFERENCES,
    DEFAULT_SPOT_SPECS,
    OPTION_EXPIRY_TIME,
    Catalogue,
    GridSpec,
    Instrument,
    InstrumentError,
    OffGridError,
    TradingStatus,
    UnknownInstrumentError,
    option_chain,
    spot_instrument,
    strike_grid,
    strike_step,
)
from streams.instruments.ids import (
    InstrumentIdError,
    InstrumentIdParts,
    InstrumentKind,
    OptionRight,
    format_option_id,
    format_spot_id,
    format_strike,
    parse_instrument_id,
)
from streams.instruments.listings import (
    DEFAULT_SCHEDULE,
    Clock,
    ListingSchedule,
    RollingCatalogue,
    fixed_clock,
    listed_expiries,
    listed_expiry_dates,
    listing_session,
    listings_at,
    venue_clock,
)

__all__ = [
    "DEFAULT_OPTION_SPECS",
    "DEFAULT_SCHEDULE",
    "DEFAULT_SPOT_REFERENCES",
    "DEFAULT_SPOT_SPECS",
    "OPTION_EXPIRY_TIME",
    "Catalogue",
    "Clock",
    "GridSpec",
    "Instrument",
    "InstrumentError",
    "InstrumentIdError",
    "InstrumentIdParts",
    "InstrumentKind",
    "ListingSchedule",
    "OffGridError",
    "OptionRight",
    "RollingCatalogue",
    "TradingStatus",
    "UnknownInstrumentError",
    "fixed_clock",
    "format_option_id",
    "format_spot_id",
    "format_strike",
    "listed_expiries",
    "listed_expiry_dates",
    "listing_session",
    "listings_at",
    "option_chain",
    "parse_instrument_id",
    "spot_instrument",
    "strike_grid",
    "strike_step",
    "venue_clock",
]
