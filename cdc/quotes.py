"""Quoting a simplified option, pure: price sources, Black-76 mark, spread, fee, exact total.

Why it is shaped like this:

* **A price source is an interface.** :class:`PriceSource` answers "the latest price of an
  underlying, and when it was observed". Today :class:`StaticPriceSource` serves configured
  spots; the ``md.index``/``md.marks`` feed will implement the same method, and the counter
  does not change.
* **The model is the venue's own.** The mark is Black-76 on the forward
  (:func:`streams.marketdata.pricing.black76_scalar`) with the vol read from the default SSVI
  surface (:func:`streams.marketdata.volsurface.default_surface`), as the mark engine does.
* **Floats stop at the mark.** The float mark becomes an exact ``Decimal`` once; spread and
  rounding happen in ``Decimal``. The house sells, so the price per coin and the fee are
  rounded *up* to their ticks: rounding never costs the house money, and the buyer sees
  whole ticks.
* **Totals are exact products.** ``premium = price * contracts * contract_size`` and
  ``total = premium + fee`` hold to the last digit (the database checks the same equations).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation, localcontext
from typing import Protocol, runtime_checkable

from cdc.codes import CounterCode
from cdc.domain import CounterError, OptionType, Product, ProductStatus
from streams.marketdata.pricing import PricingError, black76_scalar, time_to_expiry
from streams.marketdata.volsurface import VolSource, default_surface

__all__ = [
    "MONEY_EXPONENT",
    "PriceSource",
    "PricingTerms",
    "Quote",
    "StaticPriceSource",
    "UnderlyingPrice",
    "check_contracts",
    "quote",
]

#: Money columns hold 18 decimals: anything finer is not representable and is refused.
MONEY_EXPONENT = Decimal("1e-18")
_BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class UnderlyingPrice:
    """A price of an underlying in USDT per coin, and when it was observed."""

    underlying: str
    price: Decimal
    observed_at: datetime
    source: str


@runtime_checkable
class PriceSource(Protocol):
    """Where the counter gets the underlying's price (``md.index`` will be one)."""

    def price(self, underlying: str) -> UnderlyingPrice | None:
        """The latest price of ``underlying``, or ``None`` if there is none."""
        ...


class StaticPriceSource:
    """Configured spots, observed "now" on every read (or at a fixed time, for tests)."""

    def __init__(self, prices: Mapping[str, Decimal], *, observed_at: datetime | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        for underlying, price in prices.items():
            if not (isinstance(price, Decimal) and price.is_finite() and price > 0):
                raise ValueError(f"price of {underlying} must be a positive Decimal: {price!r}")
        self._prices = dict(prices)
        self._observed_at = observed_at
        self._clock = clock

    def price(self, underlying: str) -> UnderlyingPrice | None:
        value = self._prices.get(underlying)
        if value is None:
            return None
        return UnderlyingPrice(underlying, value, self._observed_at or self._clock(), "static")


@dataclass(frozen=True, slots=True)
class PricingTerms:
    """The house's terms: markup, fee, ticks, size limits, freshness (see ``CdcConfig``)."""

    spread_bps: Decimal = Decimal("200")
    fee_bps: Decimal = Decimal("30")
    price_tick: Decimal = Decimal("0.01")
    fee_tick: Decimal = Decimal("0.000001")
    min_price: Decimal = Decimal("0.01")
    qty_step: Decimal = Decimal("1")
    max_contracts: Decimal = Decimal("10000")
    max_price_age_s: float = 5.0
    min_time_to_expiry_s: float = 300.0
    usdt_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class Quote:
    """What a buyer pays for ``contracts`` of a product, and what the price was built from."""

    product_id: str
    contracts: Decimal
    contract_size: Decimal
    underlying_price: Decimal
    forward: float
    iv: Decimal
    mark: Decimal
    price: Decimal
    premium: Decimal
    fee: Decimal
    total: Decimal
    quoted_at: datetime


def check_contracts(contracts: Decimal, terms: PricingTerms) -> Decimal:
    """A positive multiple of the step, at most the maximum; anything else is refused."""
    if isinstance(contracts, bool) or not isinstance(contracts, Decimal | int):
        raise CounterError(CounterCode.INVALID_QUANTITY,
                           f"contracts must be a Decimal or int, got {type(contracts).__name__}")
    qty = Decimal(contracts)
    if not qty.is_finite() or qty <= 0:
        raise CounterError(CounterCode.INVALID_QUANTITY, f"{contracts} is not > 0")
    if qty > terms.max_contracts:
        raise CounterError(CounterCode.INVALID_QUANTITY,
                           f"{contracts} is above the maximum {terms.max_contracts}")
    if qty % terms.qty_step != 0:
        raise CounterError(CounterCode.INVALID_QUANTITY,
                           f"{contracts} is not a multiple of {terms.qty_step}")
    return qty


def _round_up(value: Decimal, tick: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 80
        return (value / tick).to_integral_value(rounding=ROUND_CEILING) * tick


def _exact(value: Decimal, what: str) -> Decimal:
    try:
        if value != value.quantize(MONEY_EXPONENT):
            raise CounterError(CounterCode.PRICING_FAILED,
                               f"{what} {value} needs more than 18 decimals")
    except InvalidOperation as exc:
        raise CounterError(CounterCode.PRICING_FAILED, f"{what} {value} is out of range") from exc
    return value


def quote(product: Product, contracts: Decimal, underlying: UnderlyingPrice | None,
          now: datetime, terms: PricingTerms, surface: VolSource | None = None) -> Quote:
    """Price ``contracts`` of ``product`` at ``now`` or raise :class:`CounterError`.

    Checks, in order: the quantity, the product's status and expiry, the price's presence
    and freshness; then marks with Black-76, adds the spread, rounds up to the tick, and adds
    the fee.
    """
    qty = check_contracts(contracts, terms)
    if product.status is not ProductStatus.LISTED:
        code = (CounterCode.PRODUCT_EXPIRED if product.status is ProductStatus.EXPIRED
                else CounterCode.PRODUCT_NOT_TRADING)
        raise CounterError(code, f"{product.id} is {product.status.value}")
    to_expiry_s = (product.expiry - now).total_seconds()
    if to_expiry_s <= 0:
        raise CounterError(CounterCode.PRODUCT_EXPIRED, f"{product.id} expired at "
                           f"{product.expiry.isoformat()}")
    if to_expiry_s < terms.min_time_to_expiry_s:
        raise CounterError(CounterCode.TOO_CLOSE_TO_EXPIRY,
                           f"{product.id} expires in {to_expiry_s:.0f}s")
    if underlying is None:
        raise CounterError(CounterCode.NO_PRICE, product.underlying)
    age_s = (now - underlying.observed_at).total_seconds()
    if age_s > terms.max_price_age_s:
        raise CounterError(CounterCode.STALE_PRICE,
                           f"{product.underlying} price is {age_s:.1f}s old "
                           f"(at most {terms.max_price_age_s:g}s)")

    t = time_to_expiry(now, product.expiry)
    spot = float(underlying.price)
    forward = spot * math.exp(terms.usdt_rate * t)
    strike = float(product.strike)
    vols = surface or default_surface(product.underlying)
    try:
        sigma = float(vols.vol_at_strike(t, strike, forward))
        greeks = black76_scalar(forward, strike, t, sigma, terms.usdt_rate,
                                is_call=product.option_type is OptionType.CALL)
    except PricingError as exc:
        raise CounterError(CounterCode.PRICING_FAILED, str(exc)) from exc
    if not (math.isfinite(greeks.price) and math.isfinite(sigma) and sigma > 0):
        raise CounterError(CounterCode.PRICING_FAILED, f"mark {greeks.price!r}, vol {sigma!r}")

    mark = Decimal(greeks.price)  # exact conversion of the float: the one float -> money step
    with localcontext() as ctx:
        ctx.prec = 80
        ask = mark * (1 + terms.spread_bps / _BPS)
    price = max(_round_up(ask, terms.price_tick), terms.min_price)
    premium = _exact(price * qty * product.contract_size, "premium")
    fee = _exact(_round_up(premium * terms.fee_bps / _BPS, terms.fee_tick), "fee")
    return Quote(
        product_id=product.id, contracts=qty, contract_size=product.contract_size,
        underlying_price=underlying.price, forward=forward,
        iv=Decimal(sigma).quantize(Decimal("1e-8")),
        mark=_round_up(mark, Decimal("1e-8")), price=price, premium=premium, fee=fee,
        total=premium + fee, quoted_at=now,
    )
