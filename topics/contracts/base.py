"""Shared pieces of every contract: strict models, UTC microsecond timestamps, exact money.

Money and quantities are :class:`~decimal.Decimal` on the wire as JSON strings, so no producer
in any language loses precision to a binary float. Every shared type here is *closed*: a value
it accepts can be stored (PostgreSQL and ClickHouse ``Decimal(38, 18)``, 64-bit integers),
formatted and compared without raising, because input topics dead-letter on
:class:`~topics.catalogue.ContractError` and any other exception would stop a worker.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Context, Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
)

__all__ = [
    "INT64_MAX",
    "MAX_INTEGER_DIGITS",
    "TS_MAX",
    "TS_MIN",
    "Contract",
    "Event",
    "Id",
    "Int64",
    "Money",
    "NonNegativeInt64",
    "NonNegativeMoney",
    "NonNegativeQuantity",
    "PositiveDecimal",
    "PositiveInt64",
    "Quantity",
    "Ref",
    "SignedQuantity",
    "Symbol",
    "Text",
    "UtcDatetime",
    "Venue",
    "VenuePrice",
    "VenueQuantity",
    "decimal_type",
    "utc_now",
]

# -- integers -----------------------------------------------------------------------------------
#: Integers on the wire are sequences, ids and counts: a signed 64-bit integer holds them in
#: every client (Java ``long``, ClickHouse ``Int64``/``UInt64``, the engine's tick integers).
INT64_MAX = 2**63 - 1


def _not_bool(value: Any) -> Any:
    """JSON ``true`` is not the integer 1: pydantic's lax mode would read it as one."""
    if isinstance(value, bool):
        raise ValueError("Input should be an integer, not a boolean")
    return value


# The bounds first, so they reach the integer's own schema (and the JSON Schema); then the check.
Int64 = Annotated[int, Field(ge=-INT64_MAX - 1, le=INT64_MAX), BeforeValidator(_not_bool)]
NonNegativeInt64 = Annotated[int, Field(ge=0, le=INT64_MAX), BeforeValidator(_not_bool)]
PositiveInt64 = Annotated[int, Field(ge=1, le=INT64_MAX), BeforeValidator(_not_bool)]

# -- timestamps ---------------------------------------------------------------------------------
#: The instants a contract accepts: [TS_MIN, TS_MAX). Before 1970 nothing of the venue exists
#: and a negative epoch breaks integer clocks; 2200 keeps nanoseconds since the epoch inside a
#: signed 64-bit integer (the engine's clock, which overflows in 2262) and inside ClickHouse's
#: DateTime64. An offset never pushes a value out of ``datetime``'s own range here either.
TS_MIN = datetime(1970, 1, 1, tzinfo=UTC)
TS_MAX = datetime(2200, 1, 1, tzinfo=UTC)
_NAIVE_MIN = TS_MIN.replace(tzinfo=None)
_NAIVE_MAX = TS_MAX.replace(tzinfo=None)
_OUT_OF_RANGE = ("timestamp must be from 1970-01-01T00:00:00Z up to (not including) "
                 "2200-01-01T00:00:00Z")


def _require_utc(value: datetime) -> datetime:
    """Aware, within [TS_MIN, TS_MAX), converted to UTC.

    The range is checked on the wall-clock value shifted by its offset *before* converting:
    ``astimezone`` of ``9999-12-31T23:59:59-23:59`` or ``0001-01-01T00:00:00+01:00`` raises
    OverflowError, which is not a contract error and would crash the consuming worker.
    """
    if value.tzinfo is UTC:  # the common case, our own records: nothing to convert
        if TS_MIN <= value < TS_MAX:
            return value
        raise ValueError(_OUT_OF_RANGE)
    offset = value.utcoffset() if value.tzinfo is not None else None
    if offset is None:
        raise ValueError("timestamp must carry a timezone (UTC)")
    naive = value.replace(tzinfo=None)
    # naive - offset is the UTC wall clock; compare without computing it, it may overflow
    if not offset:
        if _NAIVE_MIN <= naive < _NAIVE_MAX:
            return naive.replace(tzinfo=UTC)
    elif _NAIVE_MIN + offset <= naive < _NAIVE_MAX + offset:
        return (naive - offset).replace(tzinfo=UTC)
    raise ValueError(_OUT_OF_RANGE)


def _iso_micro(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" -> "Z"


_TS_DESCRIPTION = ("UTC, microseconds, ISO 8601: 2026-11-23T12:00:00.123456Z; with a time "
                   "zone, from 1970-01-01T00:00:00Z up to (not including) 2200-01-01T00:00:00Z")

UtcDatetime = Annotated[
    datetime,
    AfterValidator(_require_utc),
    PlainSerializer(_iso_micro, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "description": _TS_DESCRIPTION,
                    # ajv-formats' keywords: the range as instants, whatever the offset
                    "formatMinimum": "1970-01-01T00:00:00Z",
                    "formatExclusiveMaximum": "2200-01-01T00:00:00Z"}),
]


# -- exact decimals -----------------------------------------------------------------------------
#: Every decimal fits PostgreSQL's and ClickHouse's ``Decimal(38, 18)``: at most 20 digits
#: before the point, whatever its own number of decimals.
MAX_INTEGER_DIGITS = 38 - 18
#: Longer decimal text is refused before it is parsed (the longest canonical value, 20 digits,
#: a point and 18 decimals with a sign, has 40 characters; trailing zeros get some room).
_MAX_TEXT = 100
# Exact for every accepted value (38 digits); the default context (28) would round them.
_EXACT = Context(prec=_MAX_TEXT, Emax=_MAX_TEXT, Emin=-_MAX_TEXT,
                 traps=[InvalidOperation])
_ZERO = Decimal(0)


def _parse_text(text: str) -> Decimal:
    """A decimal string as producers write it: ASCII digits, an optional point and exponent.

    :class:`~decimal.Decimal` alone also takes whitespace, ``1_000``, non-ASCII digits (such
    as Arabic-Indic ones) and ``Infinity``; a contract takes what every other language parses
    the same way, so the value a consumer sees is the value the producer meant.
    """
    if (len(text) > _MAX_TEXT or not text.isascii() or "_" in text or not text
            or text[0] <= " " or text[-1] <= " "):
        raise ValueError("Decimal input should be digits with an optional point and exponent, "
                         f"at most {_MAX_TEXT} characters, such as \"101.25\"")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError("Input should be a valid decimal") from None


def _checked(value: Decimal, places: int) -> Decimal:
    """``value`` if finite with at most ``places`` decimals and 20 integer digits.

    Counted from the exponent, so ``1E+100`` has 101 integer digits (not 1), and
    ``1.000E-20`` has 20 decimals that count (its three trailing zeros do not).
    Values with more (zero) decimals than ``places``, and zeros with an extreme exponent, come
    back canonical, so writing them back never spells out ``0E-999999999`` in full.
    """
    if not value.is_finite():
        raise ValueError("Input should be a finite number")
    if not value:  # 0.00 stays as written; 0E-999999999 and -0 do not
        exponent = value.as_tuple().exponent
        fits = isinstance(exponent, int) and -places <= exponent <= 0
        return value if fits and not value.is_signed() else _ZERO
    if value.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError(f"Decimal input should have no more than {MAX_INTEGER_DIGITS} digits "
                         "before the point")
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    if exponent < -places:
        significant = len(digits)
        while digits[significant - 1] == 0:  # nonzero, so a nonzero digit stops it
            significant -= 1
        if exponent + (len(digits) - significant) < -places:
            raise ValueError(f"Decimal input should have no more than {places} decimal places")
        return value.quantize(Decimal(1).scaleb(-places), context=_EXACT)
    return value


def _fraction_fits(text: str, places: int) -> bool:
    """Whether plain decimal text (no exponent) has at most ``places`` significant decimals:
    the common case, decided on the text without the costly ``as_tuple``."""
    point = text.find(".")
    return point < 0 or len(text) - point - 1 <= places


def _wire_decimal(places: int) -> Any:
    """The one validator of every decimal type, run before pydantic's own ``Decimal``.

    It is one Python call per number (a book carries hundreds of them): text is parsed here;
    JSON numbers with a fraction or an exponent are refused, because the JSON parser has
    already rounded them to a binary float (``0.1000000000000000055511`` arrives as ``0.1``,
    ``123456789012345678.5`` as ``123456789012345680``) and an exact contract cannot know what
    was meant. JSON integers are exact and accepted.
    """

    def check(value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            number = _parse_text(value)
            if (number.is_finite() and "e" not in value and "E" not in value
                    and _fraction_fits(value, places)):
                if not number or number.adjusted() >= MAX_INTEGER_DIGITS:
                    return _checked(number, places)  # canonical zero, or raises
                return number
            return _checked(number, places)
        if isinstance(value, bool):
            return value  # pydantic refuses it with its own message
        if isinstance(value, int):
            return _checked(Decimal(value), places)
        if isinstance(value, float):
            if info.mode == "json":
                raise ValueError("Decimal input should be a JSON string (or integer): a JSON "
                                 "number with a fraction or exponent is parsed as a binary "
                                 "float and is not exact")
            return _checked(Decimal(repr(value)), places)
        if isinstance(value, Decimal):
            return _checked(value, places)
        return value

    return check


def _fixed(value: Decimal) -> str:
    return format(value, "f")


def _decimal_pattern(places: int, lower: Literal["any", "zero", "positive"],
                     upper_digits: int, upper_exact: bool) -> str:
    """The canonical text of a decimal type, as a JSON Schema pattern (ECMA 262, no lookahead).

    ``lower`` is ``any`` (signed), ``zero`` (>= 0) or ``positive`` (> 0); ``upper_digits`` the
    number of integer digits, and ``upper_exact`` adds exactly ``10**upper_digits`` (for a
    bound such as ``le=10_000``). Exponents and trailing zeros decode too; this is what to send.
    """
    whole = f"(?:0|[1-9][0-9]{{0,{upper_digits - 1}}})"
    fraction = f"(?:\\.[0-9]{{1,{places}}})?"
    maximum = f"|1{'0' * upper_digits}(?:\\.0{{1,{places}}})?" if upper_exact else ""
    if lower == "positive":
        # a nonzero whole part, or 0.<k zeros><a nonzero digit><up to places - k - 1 digits>
        small = "|".join(f"{'0' * k}[1-9]" + (f"[0-9]{{0,{places - k - 1}}}" if k < places - 1
                                               else "") for k in range(places))
        body = (f"[1-9][0-9]{{0,{upper_digits - 1}}}{fraction}|0\\.(?:{small}){maximum}")
        return f"^(?:{body})$"
    sign = "-?" if lower == "any" else ""
    return f"^(?:{sign}{whole}{fraction}{maximum})$"


def decimal_type(description: str, places: int = 18, *, gt: int | None = None,
                 ge: int | None = None, le: int | None = None) -> Any:
    """An exact decimal of at most ``places`` decimals and 20 integer digits.

    ``gt``/``ge`` may only be 0 and ``le`` a power of ten: bounds the JSON Schema pattern can
    say exactly, so that whatever that schema admits, the contract decodes.
    """
    assert gt in (None, 0) and ge in (None, 0) and not (gt is not None and ge is not None)
    upper_digits, upper_exact = MAX_INTEGER_DIGITS, False
    if le is not None:
        assert le > 0 and str(le) == "1" + "0" * (len(str(le)) - 1), "le must be 10**k"
        upper_digits, upper_exact = len(str(le)) - 1, True
    lower: Literal["any", "zero", "positive"] = (
        "positive" if gt is not None else "zero" if ge is not None else "any")
    largest = le if le is not None else 10**MAX_INTEGER_DIGITS - 1
    integer: dict[str, Any] = {"type": "integer", "maximum": largest}
    integer |= ({"minimum": 1} if lower == "positive" else {"minimum": 0} if lower == "zero"
                else {"minimum": -largest})
    schema = {
        "anyOf": [{"type": "string", "pattern": _decimal_pattern(places, lower, upper_digits,
                                                                  upper_exact)},
                  integer],
        "description": f"{description}; on the wire a JSON string (or an integer) with at "
                       f"most {places} decimals and {upper_digits} digits before the point",
        "maxDecimalPlaces": places,
        "maxIntegerDigits": upper_digits,
    }
    return Annotated[
        Decimal,
        BeforeValidator(_wire_decimal(places)),
        Field(gt=gt, ge=ge, le=le),  # the description is the schema's, with the limits
        PlainSerializer(_fixed, return_type=str, when_used="json"),
        WithJsonSchema(schema),
    ]


Money = decimal_type("USDT amount, exact; a JSON string such as \"101.25\"")
NonNegativeMoney = decimal_type("USDT amount, exact and >= 0", ge=0)
PositiveDecimal = decimal_type("a price, exact and > 0; a JSON string such as \"43250.5\"", gt=0)
Quantity = decimal_type("a quantity in base units, exact and > 0", gt=0)
NonNegativeQuantity = decimal_type("a quantity in base units, exact and >= 0", ge=0)
SignedQuantity = decimal_type("a signed quantity in base units: > 0 long, < 0 short")
# What venues print: at most 9 decimals each, so a notional (price x qty) stays exact in the
# 18 decimals every Money column has.
VenuePrice = decimal_type("a venue's price, exact, > 0, at most 9 decimals", places=9, gt=0)
VenueQuantity = decimal_type("a venue's quantity, exact, > 0, at most 9 decimals", places=9,
                             gt=0)

# -- strings ------------------------------------------------------------------------------------
# No control characters in ids: a NUL is refused by PostgreSQL text and breaks keys and logs.
_NO_CONTROLS = r"^[^\x00-\x1f\x7f]+$"
Id = Annotated[str, Field(min_length=1, max_length=200, pattern=_NO_CONTROLS,
                          description="an id: 1-200 characters, no control characters")]
# A reference to another record's id: empty when there is none (yet), like a rejected order's.
Ref = Annotated[str, Field(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$",
                           description="an id of another record: at most 200 characters, no "
                                       "control characters, may be empty")]
# Free text may span lines but carries no NUL (PostgreSQL text cannot hold one).
Text = Annotated[str, Field(max_length=1000, pattern=r"^[^\x00]*$",
                            description="free text: at most 1000 characters, no NUL")]
Symbol = Annotated[
    str,
    Field(pattern=r"^[A-Z0-9]+-[A-Z0-9]+(-[0-9]+-[CP])?$", max_length=64,
          description="instrument id: BTC-USDT (spot) or BTC-20261225-100000-C (option)"),
]
Venue = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,31}$", description="venue code")]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _tags_required(schema: dict[str, Any]) -> None:
    """A constant field with a default (``type: Literal["fill"] = "fill"``) is a union's tag:
    the decoder needs it on the wire, so the JSON Schema must not call it optional."""
    properties = schema.get("properties", {})
    tags = [name for name, prop in properties.items() if "const" in prop and "default" in prop]
    if tags:
        schema["required"] = [*schema.get("required", []),
                              *(t for t in tags if t not in schema.get("required", []))]


class Contract(BaseModel):
    """A message on Kafka: frozen, no unknown fields, validated on construction."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False,
                              json_schema_extra=_tags_required)


class Event(Contract):
    """Something that happened. Its id is deterministic, so replays can be de-duplicated."""

    event_id: Id
    ts_event: UtcDatetime
    ts_init: UtcDatetime = Field(default_factory=utc_now)
    causation_id: Ref | None = None
