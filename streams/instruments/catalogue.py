"""The instrument catalogue: what can be traded, on which price and quantity grid.

Money never travels as float: prices are ``Decimal`` at the edges and integer *ticks*
inside the matching engine, quantities ``Decimal`` at the edges and integer *lots* inside.
:meth:`Instrument.price_to_ticks` and :meth:`Instrument.qty_to_lots` are the only doors
between the two and they raise on any value that is not exactly on the grid, because a
silently rounded price is a wrong trade.

Option chains are a pure function of ``(underlying, spot reference, expiries, strikes)`` so
market-data and pricing code can list the same instruments the venue lists; which expiries
are listed when is the schedule of :mod:`streams.instruments.listings`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation, localcontext
from enum import StrEnum

from streams.instruments.ids import (
    InstrumentIdError,
    InstrumentKind,
    OptionRight,
    format_option_id,
    format_spot_id,
    parse_instrument_id,
)

__all__ = [
    "DEFAULT_OPTION_SPECS",
    "DEFAULT_SPOT_REFERENCES",
    "DEFAULT_SPOT_SPECS",
    "OPTION_EXPIRY_TIME",
    "Catalogue",
    "GridSpec",
    "Instrument",
    "InstrumentError",
    "OffGridError",
    "TradingStatus",
    "UnknownInstrumentError",
    "option_chain",
    "spot_instrument",
    "strike_grid",
    "strike_step",
]

#: Options expire at 08:00 UTC on their expiry date (the convention of the large crypto venues).
OPTION_EXPIRY_TIME = time(8, 0, tzinfo=UTC)
#: Spot levels the venue's strikes are centred on (see :mod:`streams.instruments.listings`).
DEFAULT_SPOT_REFERENCES: Mapping[str, Decimal] = {"BTC": Decimal("100000"), "ETH": Decimal("3500")}

_ONE_BILLION = 1_000_000_000


class InstrumentError(ValueError):
    """Base error of the instruments package."""


class OffGridError(InstrumentError):
    """A price or quantity that is not an exact multiple of the tick or lot size."""


class UnknownInstrumentError(InstrumentError, KeyError):
    """The catalogue does not list this instrument id."""


class TradingStatus(StrEnum):
    """Whether the venue accepts orders: halted keeps the book, expired empties it for good."""

    TRADING = "trading"
    HALTED = "halted"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class GridSpec:
    """Price and quantity grid of a family of instruments (all ``Decimal``)."""

    tick_size: Decimal
    lot_size: Decimal
    min_qty: Decimal
    contract_size: Decimal = Decimal(1)


#: Spot grids close to those of the big USDT venues.
DEFAULT_SPOT_SPECS: Mapping[str, GridSpec] = {
    "BTC": GridSpec(Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001")),
    "ETH": GridSpec(Decimal("0.01"), Decimal("0.0001"), Decimal("0.0001")),
}
#: Option premium grids (USDT per contract of one underlying unit).
DEFAULT_OPTION_SPECS: Mapping[str, GridSpec] = {
    "BTC": GridSpec(Decimal("5"), Decimal("0.01"), Decimal("0.01")),
    "ETH": GridSpec(Decimal("0.1"), Decimal("0.01"), Decimal("0.01")),
}


def _check_positive_decimal(name: str, value: object) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise InstrumentError(f"{name} must be a positive finite Decimal, got {value!r}")
    return value


def _to_units(value: Decimal | int, unit: Decimal, what: str) -> int:
    """Exact ``value / unit`` as int, raising when ``value`` is off the grid."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{what} must be Decimal or int, got {type(value).__name__}")
    if isinstance(value, int):
        value = Decimal(value)
    if not value.is_finite():
        raise InstrumentError(f"{what} must be finite, got {value!r}")
    with localcontext() as ctx:
        ctx.prec = 60
        try:
            units, remainder = divmod(value, unit)
        except InvalidOperation as exc:  # pragma: no cover - needs > 60 digits
            raise InstrumentError(f"{what} {value!r} out of range") from exc
    if remainder:
        raise OffGridError(f"{what} {value} is not a multiple of {unit}")
    return int(units)


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable instrument and its grid; validated on construction."""

    instrument_id: str
    kind: InstrumentKind
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_qty: Decimal
    status: TradingStatus = TradingStatus.TRADING
    strike: Decimal | None = None
    expiry: datetime | None = None
    right: OptionRight | None = None
    contract_size: Decimal | None = None

    def __post_init__(self) -> None:
        _check_positive_decimal("tick_size", self.tick_size)
        _check_positive_decimal("lot_size", self.lot_size)
        _check_positive_decimal("min_qty", self.min_qty)
        if self.min_qty < self.lot_size or self.min_qty % self.lot_size:
            raise InstrumentError("min_qty must be a positive multiple of lot_size")
        if self.quote != "USDT":
            raise InstrumentError(f"only USDT-quoted instruments are listed, got {self.quote!r}")
        TradingStatus(self.status)
        try:
            parts = parse_instrument_id(self.instrument_id)
        except InstrumentIdError as exc:
            raise InstrumentError(str(exc)) from exc
        if parts.kind is not self.kind or parts.base != self.base or parts.quote != self.quote:
            raise InstrumentError(f"{self.instrument_id!r} does not match kind/base/quote")
        if self.kind is InstrumentKind.SPOT:
            if any(v is not None for v in (self.strike, self.expiry, self.right)):
                raise InstrumentError("spot instruments carry no strike, expiry or right")
            return
        _check_positive_decimal("strike", self.strike)
        _check_positive_decimal("contract_size", self.contract_size)
        if not isinstance(self.expiry, datetime) or self.expiry.utcoffset() != timedelta(0):
            raise InstrumentError("option expiry must be a timezone-aware UTC datetime")
        if (parts.expiry_date, parts.strike, parts.right) != (
            self.expiry.date(),
            self.strike,
            self.right,
        ):
            raise InstrumentError(f"{self.instrument_id!r} does not match expiry/strike/right")

    # -- grid conversions -------------------------------------------------------------------
    def price_to_ticks(self, price: Decimal | int) -> int:
        """Price in USDT to integer ticks; raises :class:`OffGridError` off the tick grid."""
        return _to_units(price, self.tick_size, "price")

    def ticks_to_price(self, ticks: int) -> Decimal:
        """Integer ticks back to a USDT price at the tick size's scale."""
        if isinstance(ticks, bool) or not isinstance(ticks, int):
            raise TypeError(f"ticks must be int, got {type(ticks).__name__}")
        return self.tick_size * ticks

    def qty_to_lots(self, qty: Decimal | int) -> int:
        """Quantity to integer lots; raises :class:`OffGridError` off the lot grid."""
        return _to_units(qty, self.lot_size, "quantity")

    def lots_to_qty(self, lots: int) -> Decimal:
        """Integer lots back to a quantity at the lot size's scale."""
        if isinstance(lots, bool) or not isinstance(lots, int):
            raise TypeError(f"lots must be int, got {type(lots).__name__}")
        return self.lot_size * lots

    @property
    def min_lots(self) -> int:
        """Smallest order quantity, in lots (what the matching engine checks)."""
        return self.qty_to_lots(self.min_qty)

    @property
    def expiry_ns(self) -> int | None:
        """Expiry as integer nanoseconds since the epoch (the engine's clock unit)."""
        if self.expiry is None:
            return None
        delta = self.expiry - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * _ONE_BILLION + delta.microseconds * 1000

    @property
    def is_option(self) -> bool:
        return self.kind is InstrumentKind.OPTION

    def with_status(self, status: TradingStatus) -> Instrument:
        """Copy with another trading status (instruments are immutable values)."""
        return replace(self, status=TradingStatus(status))


class Catalogue(Mapping[str, Instrument]):
    """Immutable map ``instrument_id -> Instrument`` in listing order."""

    __slots__ = ("_by_id",)

    def __init__(self, instruments: Iterable[Instrument] = ()) -> None:
        by_id: dict[str, Instrument] = {}
        for instrument in instruments:
            if not isinstance(instrument, Instrument):
                raise TypeError(f"expected Instrument, got {type(instrument).__name__}")
            if instrument.instrument_id in by_id:
                raise InstrumentError(f"duplicate instrument {instrument.instrument_id!r}")
            by_id[instrument.instrument_id] = instrument
        self._by_id = by_id

    def __getitem__(self, instrument_id: str) -> Instrument:
        try:
            return self._by_id[instrument_id]
        except KeyError:
            raise UnknownInstrumentError(instrument_id) from None

    def get(self, instrument_id: str, default: Instrument | None = None) -> Instrument | None:
        """Like ``dict.get``: risk looks up every position on every request, and Mapping's
        generic ``get`` (a raised and caught KeyError per miss) costs several times more."""
        return self._by_id.get(instrument_id, default)

    def __contains__(self, instrument_id: object) -> bool:
        return instrument_id in self._by_id

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def __repr__(self) -> str:
        return f"Catalogue({len(self)} instruments)"

    def spots(self) -> list[Instrument]:
        """Spot pairs in listing order."""
        return [i for i in self._by_id.values() if i.kind is InstrumentKind.SPOT]

    def options(
        self, underlying: str | None = None, expiry_date: date | None = None
    ) -> list[Instrument]:
        """Options, optionally of one underlying and/or one expiry date."""
        return [
            i
            for i in self._by_id.values()
            if i.kind is InstrumentKind.OPTION
            and (underlying is None or i.base == underlying)
            and (expiry_date is None or (i.expiry is not None and i.expiry.date() == expiry_date))
        ]

    def with_instrument(self, instrument: Instrument) -> Catalogue:
        """Copy with ``instrument`` added or replaced (same id keeps its position)."""
        by_id = dict(self._by_id)
        by_id[instrument.instrument_id] = instrument
        return Catalogue(by_id.values())

    def with_status(self, instrument_id: str, status: TradingStatus) -> Catalogue:
        """Copy with one instrument's trading status changed."""
        return self.with_instrument(self[instrument_id].with_status(status))


def spot_instrument(base: str, spec: GridSpec | None = None) -> Instrument:
    """The ``{base}-USDT`` spot pair on ``spec`` (default grid for BTC and ETH)."""
    spec = spec if spec is not None else DEFAULT_SPOT_SPECS[base]
    return Instrument(
        instrument_id=format_spot_id(base),
        kind=InstrumentKind.SPOT,
        base=base,
        quote="USDT",
        tick_size=spec.tick_size,
        lot_size=spec.lot_size,
        min_qty=spec.min_qty,
    )


def strike_step(spot_reference: Decimal) -> Decimal:
    """A round strike spacing of about 5% of spot: the largest 1/2/5 x 10^k not above it."""
    _check_positive_decimal("spot_reference", spot_reference)
    target = spot_reference / 20
    exponent = target.adjusted()
    best = Decimal(1).scaleb(exponent)
    for mantissa in (2, 5):
        candidate = Decimal(mantissa).scaleb(exponent)
        if candidate <= target:
            best = candidate
    return best if best.adjusted() < 0 else best.quantize(Decimal(1))


def strike_grid(spot_reference: Decimal, count: int, step: Decimal | None = None) -> list[Decimal]:
    """``count`` strikes centred on the at-the-money strike, ``step`` apart, all positive."""
    if count <= 0:
        raise InstrumentError("strike count must be positive")
    step = step if step is not None else strike_step(spot_reference)
    _check_positive_decimal("step", step)
    atm = (spot_reference / step).to_integral_value() * step
    strikes = [atm + (i - count // 2) * step for i in range(count)]
    return [s.normalize() + 0 for s in strikes if s > 0]


def option_chain(
    underlying: str,
    spot_reference: Decimal,
    expiries: Sequence[date],
    strikes: Sequence[Decimal] | int,
    spec: GridSpec | None = None,
) -> list[Instrument]:
    """Calls and puts for every expiry x strike, sorted by expiry, strike, right.

    ``strikes`` is either the explicit strike list or a count of strikes to centre on
    ``spot_reference`` (see :func:`strike_grid`). Pure: same arguments, same chain.
    """
    _check_positive_decimal("spot_reference", spot_reference)
    if spec is None:
        spec = DEFAULT_OPTION_SPECS.get(underlying)
        if spec is None:
            raise InstrumentError(f"no default option grid for {underlying!r}; pass spec")
    strike_list = strike_grid(spot_reference, strikes) if isinstance(strikes, int) else strikes
    chain = []
    for expiry_date in sorted(set(expiries)):
        expiry = datetime.combine(expiry_date, OPTION_EXPIRY_TIME)
        for strike in sorted(set(strike_list)):
            _check_positive_decimal("strike", strike)
            for right in (OptionRight.CALL, OptionRight.PUT):
                chain.append(
                    Instrument(
                        instrument_id=format_option_id(underlying, expiry_date, strike, right),
                        kind=InstrumentKind.OPTION,
                        base=underlying,
                        quote="USDT",
                        tick_size=spec.tick_size,
                        lot_size=spec.lot_size,
                        min_qty=spec.min_qty,
                        strike=strike,
                        expiry=expiry,
                        right=right,
                        contract_size=spec.contract_size,
                    )
                )
    return chain
