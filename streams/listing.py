"""What the venue lists: the one instrument catalogue every agent (matching, risk,
settlement, booking) uses, so they agree on grids, contract sizes and expiries."""

from __future__ import annotations

from functools import cache

from infra.settings import get_settings
from streams.instruments import (
    DEFAULT_SPOT_SPECS,
    Catalogue,
    default_catalogue,
    spot_instrument,
)

__all__ = ["venue_catalogue"]


@cache
def venue_catalogue() -> Catalogue:
    catalogue = default_catalogue()
    for base in get_settings().matching.extra_spot_bases:  # listed on BTC's grid
        catalogue = catalogue.with_instrument(spot_instrument(base, DEFAULT_SPOT_SPECS["BTC"]))
    return catalogue
