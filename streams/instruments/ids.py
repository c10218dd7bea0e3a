"""Instrument identifiers: one documented text format, parsed and formatted in one place.

Formats (upper-case assets, quote always ``USDT``):

* spot: ``{BASE}-{QUOTE}``, e.g. ``BTC-USDT``;
* USDT-margined option: ``{UNDERLYING}-{YYYYMMDD}-{STRIKE}-{C|P}``, e.g.
  ``BTC-20261225-100000-C``. The date is the UTC expiry date (the option expires at
  08:00 UTC that day); the strike is a plain decimal in USDT without exponent or trailing
  zeros (``2500``, ``2512.5``).

Ids are the Kafka key of every matching topic, so the same instrument must always format to
the same bytes: ``format_*`` functions normalise, ``parse_instrument_id`` refuses anything
that does not round-trip.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import NamedTuple

__all__ = [
    "InstrumentIdError",
    "InstrumentIdParts",
    "InstrumentKind",
    "OptionRight",
    "format_option_id",
    "format_spot_id",
    "format_strike",
    "parse_instrument_id",
]

_ASSET = r"[A-Z][A-Z0-9]{1,9}"
_SPOT_RE = re.compile(rf"^({_ASSET})-({_ASSET})$")
_OPTION_RE = re.compile(rf"^({_ASSET})-(\d{{8}})-([1-9]\d*(?:\.\d*[1-9])?|0\.\d*[1-9])-([CP])$")


class InstrumentIdError(ValueError):
    """An instrument id that does not follow the documented format."""


class InstrumentKind(StrEnum):
    """What is traded: the spot pair itself or an option on it."""

    SPOT = "spot"
    OPTION = "option"


class OptionRight(StrEnum):
    """Call or put; the value is the letter used in the id."""

    CALL = "C"
    PUT = "P"


class InstrumentIdParts(NamedTuple):
    """The fields an id encodes; option fields are ``None`` for spot."""

    kind: InstrumentKind
    base: str
    quote: str
    expiry_date: date | None = None
    strike: Decimal | None = None
    right: OptionRight | None = None


def format_strike(strike: Decimal) -> str:
    """Strike as it appears in ids: plain decimal, no exponent, no trailing zeros."""
    if not isinstance(strike, Decimal) or not strike.is_finite() or strike <= 0:
        raise InstrumentIdError(f"strike must be a positive finite Decimal, got {strike!r}")
    return format(strike.normalize(), "f")


def format_spot_id(base: str, quote: str = "USDT") -> str:
    """``BTC-USDT`` from its two assets."""
    text = f"{base}-{quote}"
    if not _SPOT_RE.match(text):
        raise InstrumentIdError(f"invalid spot assets {base!r}/{quote!r}")
    return text


def format_option_id(
    underlying: str, expiry_date: date, strike: Decimal, right: OptionRight
) -> str:
    """``BTC-20261225-100000-C`` from its fields."""
    text = f"{underlying}-{expiry_date:%Y%m%d}-{format_strike(strike)}-{OptionRight(right).value}"
    if not _OPTION_RE.match(text):
        raise InstrumentIdError(f"invalid option fields for {text!r}")
    return text


def parse_instrument_id(instrument_id: str) -> InstrumentIdParts:
    """Split an id into its fields; raises :class:`InstrumentIdError` when malformed."""
    if not isinstance(instrument_id, str):
        raise InstrumentIdError(f"instrument id must be str, got {type(instrument_id).__name__}")
    match = _SPOT_RE.match(instrument_id)
    if match:
        return InstrumentIdParts(InstrumentKind.SPOT, match.group(1), match.group(2))
    match = _OPTION_RE.match(instrument_id)
    if not match:
        raise InstrumentIdError(f"not a spot or option id: {instrument_id!r}")
    underlying, day, strike_text, right = match.groups()
    try:
        expiry = date(int(day[:4]), int(day[4:6]), int(day[6:]))
        strike = Decimal(strike_text)
    except (ValueError, InvalidOperation) as exc:
        raise InstrumentIdError(f"invalid date or strike in {instrument_id!r}") from exc
    return InstrumentIdParts(
        InstrumentKind.OPTION, underlying, "USDT", expiry, strike, OptionRight(right)
    )
