"""Typed query results: decimals stay exact (never float), timestamps UTC, counts int."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from analytics.query import parse_typed
from analytics.reports.model import fmt, quote


def test_decimals_are_read_exactly_and_types_converted() -> None:
    raw = (b'["symbol","px","n","ts","day","maybe","big"]\n'
           b'["LowCardinality(String)","Decimal(38, 18)","UInt64","DateTime64(6, \'UTC\')",'
           b'"Date","Nullable(Decimal(38, 18))","UInt64"]\n'
           b'["BTC-USDT",90000.123456789012345678,3,"2026-11-23 09:00:01.000250","2026-11-23",'
           b'null,"18446744073709551615"]\n'
           b'["ETH-USDT",100,0,"2026-11-23 09:00:02.000000","2026-11-24",0.1,"1"]\n')
    table = parse_typed(raw)
    assert table.columns == ["symbol", "px", "n", "ts", "day", "maybe", "big"]
    first, second = table.rows
    assert first == ("BTC-USDT", Decimal("90000.123456789012345678"), 3,
                     datetime(2026, 11, 23, 9, 0, 1, 250, tzinfo=UTC), date(2026, 11, 23),
                     None, 18446744073709551615)
    assert second[1] == Decimal(100) and second[5] == Decimal("0.1")
    assert type(second[5]) is Decimal


def test_an_empty_answer_is_an_empty_table() -> None:
    assert parse_typed(b"").rows == []


def test_text_of_values() -> None:
    assert fmt(Decimal("404.500000000000000000")) == "404.5"
    assert fmt(Decimal("0E-18")) == "0"
    assert fmt(Decimal("-0.000000000000000001")) == "-0.000000000000000001"
    assert fmt(Decimal("1E+3")) == "1000"
    assert fmt(None) == ""
    assert fmt(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "2026-01-02 03:04:05.000006"


def test_string_literals_are_quoted() -> None:
    assert quote("alice") == "'alice'"
    assert quote("o'brien\\") == "'o\\'brien\\\\'"
