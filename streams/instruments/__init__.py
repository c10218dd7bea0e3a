"""Instrument catalogue: ids, grids (Decimal <-> integer ticks/lots) and default listings.

Pure domain code: no Faust, Kafka or database imports, so the matching engine, market data
and risk can all share one definition of what is tradable.
"""

from streams.instruments.catalogue import (
    DEFAULT_AS_OF,
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
    default_catalogue,
    default_expiries,
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

__all__ = [
    "DEFAULT_AS_OF",
    "DEFAULT_OPTION_SPECS",
    "DEFAULT_SPOT_REFERENCES",
    "DEFAULT_SPOT_SPECS",
    "OPTION_EXPIRY_TIME",
    "Catalogue",
    "GridSpec",
    "Instrument",
    "InstrumentError",
    "InstrumentIdError",
    "InstrumentIdParts",
    "InstrumentKind",
    "OffGridError",
    "OptionRight",
    "TradingStatus",
    "UnknownInstrumentError",
    "default_catalogue",
    "default_expiries",
    "format_option_id",
    "format_spot_id",
    "format_strike",
    "option_chain",
    "parse_instrument_id",
    "spot_instrument",
    "strike_grid",
    "strike_step",
]
