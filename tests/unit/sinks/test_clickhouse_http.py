"""Parsing ClickHouse HTTP requests (no services)."""

from __future__ import annotations

import io

import lz4.frame
import pytest

from sinks.clickhouse_http import HttpError, parse, read_body


def test_sql_in_the_body() -> None:
    req = parse({"database": ["strikeflow"], "param_sym": ["BTC"]},
                b"SELECT 1 WHERE x = {sym:String}")
    assert (req.sql, req.data, req.database, req.params) == (
        "SELECT 1 WHERE x = {sym:String}", None, "strikeflow", {"sym": "BTC"})
    assert req.default_format == "TabSeparated"


def test_an_insert_statement_first_then_its_rows() -> None:
    req = parse({}, b"INSERT INTO db.t (a, b) FORMAT Native\n\x00\x01binary")
    assert req.sql == "INSERT INTO db.t (a, b) FORMAT Native"
    assert req.data == b"\x00\x01binary"


def test_an_insert_in_the_url_with_rows_in_the_body() -> None:
    req = parse({"query": ["INSERT INTO t FORMAT CSV"]}, b"1,2\n")
    assert (req.sql, req.data) == ("INSERT INTO t FORMAT CSV", b"1,2\n")


def test_a_query_split_between_url_and_body() -> None:
    req = parse({"query": ["SELECT"]}, b"42")
    assert (req.sql, req.data) == ("SELECT 42", None)


def test_empty_and_binary_queries_are_refused() -> None:
    with pytest.raises(HttpError):
        parse({}, b"  ")
    with pytest.raises(HttpError):
        parse({}, b"\xff\xfe")


def test_chunked_and_compressed_bodies() -> None:
    payload = lz4.frame.compress(b"SELECT 1")
    chunked = (f"{len(payload[:5]):x}\r\n".encode() + payload[:5] + b"\r\n"
               + f"{len(payload[5:]):x}\r\n".encode() + payload[5:] + b"\r\n0\r\n\r\n")
    headers = {"Transfer-Encoding": "chunked", "Content-Encoding": "lz4"}
    assert read_body(io.BytesIO(chunked), headers) == b"SELECT 1"
    with pytest.raises(HttpError):
        read_body(io.BytesIO(b"x"), {"Content-Length": "1", "Content-Encoding": "br"})
