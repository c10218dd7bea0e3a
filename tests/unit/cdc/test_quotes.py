"""Quoting is exact, rounds in the house's favour, and refuses with the right code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cdc.codes import CounterCode
from cdc.domain import CounterError, OptionType, Product, ProductStatus
from cdc.quotes import PricingTerms, StaticPriceSource, UnderlyingPrice, check_contracts, quote
from streams.marketdata.pricing import black76_scalar, time_to_expiry
from streams.marketdata.volsurface import default_surface

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TERMS = PricingTerms()


def _product(**overrides: object) -> Product:
    base: dict[str, object] = {
        "id": "BTC-20261127-95000-C", "underlying": "BTC", "strike": Decimal(95000),
        "expiry": datetime(2026, 11, 27, 8, 0, tzinfo=UTC), "option_type": OptionType.CALL,
        "contract_size": Decimal("0.01"), "status": ProductStatus.LISTED,
    }
    return Product(**(base | overrides))  # type: ignore[arg-type]


def _spot(price: str = "91000", age_s: float = 0.0) -> UnderlyingPrice:
    return UnderlyingPrice("BTC", Decimal(price), NOW - timedelta(seconds=age_s), "test")


def test_premium_is_black76_plus_spread_rounded_up_and_totals_are_exact() -> None:
    product = _product()
    q = quote(product, Decimal(3), _spot(), NOW, TERMS)
    t = time_to_expiry(NOW, product.expiry)
    sigma = float(default_surface("BTC").vol_at_strike(t, 95000.0, 91000.0))
    mark = black76_scalar(91000.0, 95000.0, t, sigma, 0.0, is_call=True).price
    ask = Decimal(mark) * Decimal("1.02")
    assert q.price - Decimal("0.01") < ask <= q.price  # rounded up to the 0.01 tick
    assert q.price == q.price.quantize(Decimal("0.01"))
    assert q.premium == q.price * 3 * Decimal("0.01")
    assert q.fee >= q.premium * Decimal("0.003")
    assert q.fee - q.premium * Decimal("0.003") < Decimal("0.000001")
    assert q.total == q.premium + q.fee
    assert q.iv == Decimal(sigma).quantize(Decimal("1e-8"))


def test_a_call_costs_more_when_spot_rises_and_a_put_less() -> None:
    call, put = _product(), _product(id="BTC-20261127-95000-P", option_type=OptionType.PUT)
    low, high = _spot("88000"), _spot("94000")
    assert quote(call, 1, low, NOW, TERMS).price < quote(call, 1, high, NOW, TERMS).price
    assert quote(put, 1, low, NOW, TERMS).price > quote(put, 1, high, NOW, TERMS).price


def test_far_out_of_the_money_is_floored_at_the_minimum_price() -> None:
    product = _product(strike=Decimal(500000), id="BTC-20261127-500000-C")
    q = quote(product, 1, _spot(), NOW, TERMS)
    assert q.price == TERMS.min_price


@pytest.mark.parametrize(
    ("product", "contracts", "spot", "code"),
    [
        (_product(), Decimal(0), _spot(), CounterCode.INVALID_QUANTITY),
        (_product(), Decimal(-1), _spot(), CounterCode.INVALID_QUANTITY),
        (_product(), Decimal("1.5"), _spot(), CounterCode.INVALID_QUANTITY),
        (_product(), Decimal("NaN"), _spot(), CounterCode.INVALID_QUANTITY),
        (_product(), Decimal(10001), _spot(), CounterCode.INVALID_QUANTITY),
        (_product(), 2.0, _spot(), CounterCode.INVALID_QUANTITY),  # a float is never money
        (_product(), True, _spot(), CounterCode.INVALID_QUANTITY),
        (_product(status=ProductStatus.HALTED), 1, _spot(), CounterCode.PRODUCT_NOT_TRADING),
        (_product(status=ProductStatus.EXPIRED), 1, _spot(), CounterCode.PRODUCT_EXPIRED),
        (_product(expiry=NOW - timedelta(seconds=1)), 1, _spot(), CounterCode.PRODUCT_EXPIRED),
        (_product(expiry=NOW + timedelta(seconds=60)), 1, _spot(),
         CounterCode.TOO_CLOSE_TO_EXPIRY),
        (_product(), 1, None, CounterCode.NO_PRICE),
        (_product(), 1, _spot(age_s=6), CounterCode.STALE_PRICE),
    ],
)
def test_refusals_carry_their_code(product: Product, contracts: object,
                                   spot: UnderlyingPrice | None, code: CounterCode) -> None:
    with pytest.raises(CounterError) as info:
        quote(product, contracts, spot, NOW, TERMS)  # type: ignore[arg-type]
    assert info.value.code is code


def test_quantity_steps_and_limits_follow_the_terms() -> None:
    terms = PricingTerms(qty_step=Decimal("0.1"), max_contracts=Decimal(5))
    assert check_contracts(Decimal("0.3"), terms) == Decimal("0.3")
    assert check_contracts(5, terms) == Decimal(5)
    with pytest.raises(CounterError):
        check_contracts(Decimal("0.25"), terms)


def test_a_price_just_inside_the_age_limit_is_fresh() -> None:
    assert quote(_product(), 1, _spot(age_s=5), NOW, TERMS).total > 0


def test_static_source_serves_configured_prices_observed_now() -> None:
    source = StaticPriceSource({"BTC": Decimal(91000)}, clock=lambda: NOW)
    got = source.price("BTC")
    assert got is not None and got.price == Decimal(91000) and got.observed_at == NOW
    assert source.price("SOL") is None
    with pytest.raises(ValueError, match="positive Decimal"):
        StaticPriceSource({"BTC": Decimal(0)})


def test_invalid_products_are_refused_on_construction() -> None:
    with pytest.raises(CounterError) as info:
        _product(underlying="SOL", strike=Decimal(-1))
    assert info.value.code is CounterCode.INVALID_PRODUCT
    assert "SOL" in str(info.value) and "strike" in str(info.value)
