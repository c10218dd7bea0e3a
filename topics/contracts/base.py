"""Shared pieces of every contract: strict models, UTC microsecond timestamps, exact money.

Money and quantities are :class:`~decimal.Decimal` on the wire as JSON strings, so no producer
in any language loses precision to a binary float.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

__all__ = [
    "Contract",
    "Event",
    "Money",
    "PositiveDecimal",
    "Quantity",
    "Symbol",
    "UtcDatetime",
    "Venue",
    "VenuePrice",
    "VenueQuantity",
    "utc_now",
]


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a timezone (UTC)")
    return value.astimezone(UTC)


def _iso_micro(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


UtcDatetime = Annotated[
    datetime,
    AfterValidator(_require_utc),
    PlainSerializer(_iso_micro, return_type=str, when_used="json"),
    Field(description="UTC, microseconds, ISO 8601: 2026-11-23T12:00:00.123456Z"),
]


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


def _digits_check(places: int) -> Any:
    """At most 38 digits and ``places`` decimals, checked in C through ``as_tuple`` (pydantic's
    own max_digits/decimal_places validators run in Python and dominated decoding)."""

    def check(value: Decimal) -> Decimal:
        if not value.is_finite():
            raise ValueError("must be a finite number")
        _sign, digits, exponent = value.as_tuple()
        if isinstance(exponent, int) and exponent < -places:
            normal = value.normalize().as_tuple().exponent
            if isinstance(normal, int) and normal < -places:
                raise ValueError(f"Decimal input should have no more than {places} decimal "
                                 "places")
        if len(digits) - max(0, -exponent if isinstance(exponent, int) else 0) > 38 - places:
            raise ValueError(f"Decimal input should have no more than {38 - places} digits "
                             "before the point")
        return value

    return check


def _decimal(description: str, places: int = 18, **constraints: Any) -> Any:
    return Annotated[
        Decimal,
        AfterValidator(_digits_check(places)),
        Field(description=description, json_schema_extra={"maxDecimalPlaces": places},
              **constraints),
        PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    ]


Money = _decimal("USDT amount, exact; a JSON string such as \"101.25\"")
PositiveDecimal = _decimal("a price, exact and > 0; a JSON string such as \"43250.5\"", gt=0)
Quantity = _decimal("a quantity in base units, exact and > 0", gt=0)
# What venues print: at most 9 decimals each, so a notional (price x qty) stays exact in the
# 18 decimals every Money column has.
VenuePrice = _decimal("a venue's price, exact, > 0, at most 9 decimals", places=9, gt=0)
VenueQuantity = _decimal("a venue's quantity, exact, > 0, at most 9 decimals", places=9, gt=0)
Symbol = Annotated[
    str,
    Field(pattern=r"^[A-Z0-9]+-[A-Z0-9]+(-[0-9]+-[CP])?$",
          description="instrument id: BTC-USDT (spot) or BTC-20261225-100000-C (option)"),
]
Venue = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,31}$", description="venue code")]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    """A message on Kafka: frozen, no unknown fields, validated on construction."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class Event(Contract):
    """Something that happened. Its id is deterministic, so replays can be de-duplicated."""

    event_id: str = Field(min_length=1, max_length=200)
    ts_event: UtcDatetime
    ts_init: UtcDatetime = Field(default_factory=utc_now)
    causation_id: str | None = Field(default=None, max_length=200)
