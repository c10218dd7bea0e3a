"""Instrument id format: parse and format are exact inverses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.instruments import (
    InstrumentIdError,
    InstrumentKind,
    OptionRight,
    format_option_id,
    format_spot_id,
    format_strike,
    parse_instrument_id,
)


@pytest.mark.parametrize(
    ("text", "kind", "base", "expiry", "strike", "right"),
    [
        ("BTC-USDT", InstrumentKind.SPOT, "BTC", None, None, None),
        ("ETH-USDT", InstrumentKind.SPOT, "ETH", None, None, None),
        ("BTC-20261225-100000-C", InstrumentKind.OPTION, "BTC", date(2026, 12, 25),
         Decimal(100000), OptionRight.CALL),
        ("ETH-20260130-2512.5-P", InstrumentKind.OPTION, "ETH", date(2026, 1, 30),
         Decimal("2512.5"), OptionRight.PUT),
    ],
)  # fmt: skip
def test_parse_valid_ids(text, kind, base, expiry, strike, right) -> None:  # type: ignore[no-untyped-def]
    parts = parse_instrument_id(text)
    assert (parts.kind, parts.base, parts.quote) == (kind, base, "USDT")
    assert (parts.expiry_date, parts.strike, parts.right) == (expiry, strike, right)


@pytest.mark.parametrize(
    "text",
    [
        "", "BTC", "btc-usdt", "BTC_USDT", "BTC-USDT-", "BTC-2026125-100000-C",
        "BTC-20261225-100000-X", "BTC-20261225-0100000-C", "BTC-20261225-100.50-C",
        "BTC-20261232-100000-C", "BTC-20261225-1E5-C", "BTC-20261225--5-C",
    ],
)  # fmt: skip
def test_reject_malformed_ids(text: str) -> None:
    with pytest.raises(InstrumentIdError):
        parse_instrument_id(text)


def test_non_string_id() -> None:
    with pytest.raises(InstrumentIdError):
        parse_instrument_id(42)  # type: ignore[arg-type]


def test_format_normalises_the_strike() -> None:
    assert format_strike(Decimal("1E+5")) == "100000"
    assert format_strike(Decimal("2512.50")) == "2512.5"
    assert format_option_id("BTC", date(2026, 12, 25), Decimal("100000.0"), OptionRight.CALL) == (
        "BTC-20261225-100000-C"
    )
    assert format_spot_id("ETH") == "ETH-USDT"
    for bad in (Decimal(0), Decimal(-1), Decimal("NaN"), 5):
        with pytest.raises(InstrumentIdError):
            format_strike(bad)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["BTC", "ETH", "SOL2"]),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10**7), places=3),
    st.sampled_from(list(OptionRight)),
)
def test_option_ids_round_trip(
    underlying: str, day: date, strike: Decimal, right: OptionRight
) -> None:
    text = format_option_id(underlying, day, strike, right)
    parts = parse_instrument_id(text)
    assert (parts.base, parts.expiry_date, parts.strike, parts.right) == (
        underlying, day, strike, right,
    )  # fmt: skip
    again = format_option_id(parts.base, parts.expiry_date, strike, right)  # type: ignore[arg-type]
    assert again == text
