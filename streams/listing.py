"""What the venue lists: the one instrument catalogue every agent (matching, risk,
settlement, booking) uses, so they agree on grids, contract sizes and expiries.

It rolls with the venue's clock (:class:`~streams.instruments.RollingCatalogue`): keep the
object for the life of the process and look instruments up when needed; a lookup that must
come out the same on a replay asks ``venue_catalogue().at(time the input carries)``.
"""

from __future__ import annotations

from functools import cache

from infra.settings import get_settings
from streams.instruments import (
    DEFAULT_SCHEDULE,
    DEFAULT_SPOT_SPECS,
    Clock,
    RollingCatalogue,
    spot_instrument,
)

__all__ = ["venue_catalogue"]


def venue_catalogue(clock: Clock | None = None) -> RollingCatalogue:
    """The venue's catalogue on the venue's wall clock, or on ``clock`` (tests)."""
    catalogue = _venue_catalogue()
    return catalogue if clock is None else catalogue.with_clock(clock)


@cache
def _venue_catalogue() -> RollingCatalogue:
    """Built once: the settings are read once and the listing rolls by itself."""
    catalogue = RollingCatalogue(DEFAULT_SCHEDULE)
    for base in get_settings().matching.extra_spot_bases:  # listed on BTC's grid
        catalogue = catalogue.with_instrument(spot_instrument(base, DEFAULT_SPOT_SPECS["BTC"]))
    return catalogue
