"""A Debezium envelope decodes into a change or fails with EnvelopeError, whatever the bytes.

The bridge agents dead-letter :class:`EnvelopeError` (a ContractError) and stop on anything
else. For each captured table: rows generated from the row contract's JSON Schema, in
envelopes with any valid position, decode exactly, and the bridge turns them into its outputs
without raising; mutations of key and value (the shared hostile mutations of
``tests/unit/topics/fuzzing.py``) decode into in-range changes or raise EnvelopeError, never
one from the last-resort net. Below, a table of the specific envelopes that escaped.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from cdc.bridge.envelope import (
    RECONCILE_CONNECTOR,
    ROW_CONTRACTS,
    Change,
    EnvelopeError,
    Op,
    Tombstone,
    decode,
)
from cdc.bridge.orders import apply_order_change
from cdc.bridge.transfers import transfer_outputs
from tests.unit.cdc.debezium import ORDER_ID, envelope, key, order_row
from tests.unit.topics.fuzzing import assert_closed_values, from_schema, mutated
from topics.catalogue import MAX_PAYLOAD_BYTES, ContractError, by_name
from topics.contracts.base import INT64_MAX, TS_MAX, TS_MIN

TABLES = sorted(ROW_CONTRACTS)
_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
VALID = settings(max_examples=100, deadline=None, suppress_health_check=_HEALTH)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=_HEALTH)
_SPAN_US = (TS_MAX - TS_MIN) // timedelta(microseconds=1)


@cache
def _rows(table: str) -> st.SearchStrategy[dict[str, Any]]:
    return from_schema(TypeAdapter(ROW_CONTRACTS[table]).json_schema(mode="validation"))


@st.composite
def _messages(draw: st.DrawFn, table: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(key, envelope) of a valid change of ``table``: any op, position and commit time."""
    row = draw(_rows(table))
    op = draw(st.sampled_from(["c", "u", "d", "r"]))
    reread = op == "r" and draw(st.booleans())
    lsn = None if reread else draw(st.integers(0, INT64_MAX))
    ts_us = draw(st.integers(0, _SPAN_US - 1))
    source = {
        "version": "3.4.0.Final", "connector": RECONCILE_CONNECTOR if reread else "postgresql",
        "name": "cdc", "ts_ms": ts_us // 1000, "ts_us": ts_us, "db": "strikeflow",
        "snapshot": draw(st.sampled_from(["false", "true", "first", "last", "incremental"])),
        "schema": "public", "table": table, "txId": None if reread else draw(
            st.integers(0, INT64_MAX)), "lsn": lsn, "xmin": None,
    }
    value = {"before": row if op == "d" else None, "after": None if op == "d" else row,
             "source": source, "transaction": None, "op": op, "ts_ms": ts_us // 1000}
    return {"id": row["id"]}, value


def _outputs_of(change: Change) -> None:
    """What the bridge does next with a decoded change raises nothing the agents let through
    (they catch ValidationError and ContractError around the order's event)."""
    if change.table == "orders" and change.op is not Op.DELETE:
        try:
            result = apply_order_change(None, change)
        except (ValidationError, ContractError):
            return
        if result.event is not None:
            by_name("settlement.orders").encode(result.event)
    if change.table == "transfers" and change.op in (Op.CREATE, Op.READ):
        for topic, _key, record in transfer_outputs(change.row):
            by_name(topic).encode(record)


def _accepted(got: Change | Tombstone) -> None:
    assert 0 < len(got.key) <= 200
    if isinstance(got, Tombstone):
        return
    assert_closed_values(got.row.model_dump(), got.table)
    pos = got.position
    assert TS_MIN <= pos.committed_at < TS_MAX
    for number in (pos.lsn, pos.tx_id):
        assert number is None or 0 <= number <= INT64_MAX
    _outputs_of(got)


@pytest.mark.parametrize("table", TABLES)
def test_valid_changes_decode_exactly(table: str) -> None:
    @VALID
    @given(message=_messages(table))
    def check(message: tuple[dict[str, Any], dict[str, Any]]) -> None:
        raw_key, value = message
        got = decode(f"cdc.public.{table}", json.dumps(raw_key), json.dumps(value).encode())
        assert isinstance(got, Change)
        image = value["before"] if got.op is Op.DELETE else value["after"]
        assert got.row == ROW_CONTRACTS[table].model_validate(image)
        assert got.position.committed_at == TS_MIN + timedelta(
            microseconds=value["source"]["ts_us"])
        _accepted(got)

    check()


@pytest.mark.parametrize("table", TABLES)
def test_mutated_changes_decode_or_raise_envelope_error(table: str) -> None:
    topic = f"cdc.public.{table}"
    messages = _messages(table)  # mutated from one drawn message, not three

    @FUZZ
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        good_key, good_value = data.draw(messages)
        which = data.draw(st.sampled_from(["value", "value", "value", "key", "both"]))
        raw_key: bytes | None = json.dumps(good_key).encode()
        raw_value: bytes | None = json.dumps(good_value).encode()
        if which != "key":
            raw_value = data.draw(mutated(st.just(good_value)))
        if which != "value":
            raw_key = data.draw(mutated(st.just(good_key)) | st.none())
        if which == "key" and data.draw(st.booleans()):
            raw_value = None  # a tombstone
        try:
            got = decode(topic, raw_key, raw_value)
        except EnvelopeError as exc:
            assert not exc.unexpected, exc
            assert exc.reason in {"malformed", "unexpected_schema", "invalid", "unexpected_table",
                                  "unexpected_op"}
            return
        _accepted(got)

    check()


@settings(max_examples=60, deadline=None)
@given(raw_key=st.binary(max_size=60) | st.none(), raw_value=st.binary(max_size=200))
def test_random_bytes_are_envelope_errors(raw_key: bytes | None, raw_value: bytes) -> None:
    with pytest.raises(EnvelopeError) as info:
        decode("cdc.public.orders", raw_key, raw_value)
    assert not info.value.unexpected


# -- regressions: the envelopes that escaped ----------------------------------------------------
TOPIC = "cdc.public.orders"


def _with_source(**changes: Any) -> bytes:
    value = json.loads(envelope(order_row()))
    value["source"] |= changes
    for name, new in changes.items():
        if new is _ABSENT:
            del value["source"][name]
    return json.dumps(value).encode()


_ABSENT = object()


def _text_of(**row: Any) -> bytes:
    return envelope(order_row(**row))


def _unescaped(**row: Any) -> str:
    """The envelope as text with non-ASCII characters written as themselves."""
    return json.dumps(json.loads(envelope(order_row())) | {"after": order_row(**row)},
                      ensure_ascii=False)


@pytest.mark.parametrize(
    ("raw_key", "raw_value", "fragment"),
    [
        # source timestamps out of range: OverflowError / OSError / ValueError from datetime
        (key(), _with_source(ts_us=10**20), "source.ts_us"),
        (key(), _with_source(ts_us=-1), "source.ts_us"),
        (key(), _with_source(ts_us=2**63), "source.ts_us"),
        (key(), _with_source(ts_us=_ABSENT, ts_ms=10**20), "source.ts_ms"),
        (key(), _with_source(ts_us=_ABSENT, ts_ms=-86_400_000), "source.ts_ms"),
        (key(), _with_source(ts_us=_ABSENT, ts_ms=7_258_118_400_000), "source.ts_ms"),  # 2200
        (key(), _with_source(ts_us=1.5e15), "source.ts_us is not an integer"),
        (key(), _with_source(ts_us=True), "source.ts_us is not an integer"),
        (key(), _with_source(ts_us=_ABSENT, ts_ms=_ABSENT), "neither ts_us nor ts_ms"),
        # positions beyond 64 bits, unhashable or odd values where strings belong
        (key(), _with_source(lsn=2**64), "source.lsn"),
        (key(), _with_source(txId=-1), "source.txId"),
        (key(), _with_source(connector=["postgresql"]), "source.connector <list of 1>"),
        (key(), _with_source(snapshot=[[["false"]]]), "source.snapshot is not a string"),
        (key(), _with_source(table={"orders": 1}), "names table <dict of 1>"),
        # deep nesting: RecursionError from the json module
        (key(), b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"[" * 100_000, envelope(order_row()), "nested too deeply"),
        (key(), envelope(order_row(fee=json.loads("[" * 50 + "1" + "]" * 50))), "fee"),
        # not JSON, or JSON the parsers disagree on
        (key(), envelope(order_row())[:-1] + b',"op":"c"}', "duplicate key"),
        (key(), envelope(order_row()).replace(b'"ts_ms":1795441961177', b'"ts_ms":NaN'),
         "NaN is not a JSON number"),
        (key(), envelope(order_row(client_order_id="x")).replace(
            b'"client_order_id":"x"', b'"client_order_id":"\\ud800"'), "lone UTF-16"),
        (key(), _unescaped(client_order_id="c\ud800"), "lone UTF-16"),  # text, not bytes
        (key(), b"\xff" + envelope(order_row()), "not JSON"),
        (key(), envelope(order_row()).decode().encode("utf-16"), "not JSON"),
        (key(), b" " * (MAX_PAYLOAD_BYTES + 1), "more than the"),
        (key(), b"1" + b"0" * 5000, "not JSON"),  # past Python's int digit limit
        (key(), _text_of(strike="1E+100"), "20 digits before the point"),
        (key(), _text_of(updated_at="9999-12-31T23:59:59.999999-23:59"), "timestamp must be"),
        (key(), _text_of(client_order_id="c\x00"), "client_order_id"),
        # keys: booleans, huge ids, no id
        (b'{"id": true}', envelope(order_row()), "key's id"),
        (b'{"id": 100000000000000000000000000000}', envelope(order_row()), "key's id"),
        (json.dumps({"id": "x" * 201}).encode(), envelope(order_row()), "key's id"),
        (b'{"id": [1]}', envelope(order_row()), "key's id"),
        (b"[1]", envelope(order_row()), "the key is not"),
        (key(), json.dumps({**json.loads(envelope(order_row())), "op": ["c"]}).encode(),
         "op <list of 1>"),
    ],
)
def test_edge_envelopes_are_malformed(raw_key: bytes | None, raw_value: bytes | str,
                                      fragment: str) -> None:
    with pytest.raises(EnvelopeError) as info:
        decode(TOPIC, raw_key, raw_value)
    assert fragment in str(info.value)
    assert info.value.reason in ("malformed", "invalid", "unexpected_table")
    assert not info.value.unexpected


def test_an_envelope_error_is_a_contract_error() -> None:
    """One ``except ContractError`` catches every input's refusal; the text stays the detail."""
    with pytest.raises(ContractError) as info:
        decode(TOPIC, key(), b"[1, 2]")
    assert isinstance(info.value, EnvelopeError) and info.value.reason == "malformed"
    assert str(info.value) == "the envelope is a list, not an object"


def test_commit_times_are_exact_to_the_microsecond() -> None:
    """A float of epoch seconds rounds ``.999999`` up to the next second at today's epochs."""
    for ts_us in (1795441961999999, 0, _SPAN_US - 1):
        change = decode(TOPIC, key(), _with_source(ts_us=ts_us))
        assert isinstance(change, Change)
        assert change.position.committed_at == TS_MIN + timedelta(microseconds=ts_us)
    change = decode(TOPIC, key(), _with_source(ts_us=_ABSENT, ts_ms=1795441961999))
    assert isinstance(change, Change)
    assert change.position.committed_at == datetime(2026, 11, 23, 13, 52, 41, 999000,
                                                    tzinfo=UTC)


def test_decimals_in_json_numbers_are_read_exactly() -> None:
    """Debezium writes NUMERIC as strings; a number is read as the decimal it spells, not
    through a binary float."""
    raw = envelope(order_row()).replace(b'"strike":"86000.000000000000000000"',
                                        b'"strike":86000.123456789012345678')
    change = decode(TOPIC, key(), raw)
    assert isinstance(change, Change)
    assert change.row.strike == Decimal("86000.123456789012345678")


def test_the_last_resort_marks_what_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    import cdc.bridge.envelope as module

    def explode(*_: Any) -> None:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(module, "_committed_at", explode)
    with pytest.raises(EnvelopeError) as info:
        decode(TOPIC, key(), envelope(order_row()))
    assert info.value.unexpected and info.value.reason == "malformed"
    assert "OverflowError: date value out of range" in str(info.value)


def test_the_settlement_event_keeps_all_38_digits() -> None:
    """``normalize()`` in the default 28-digit context rounded NUMERIC(38, 18) values."""
    big = "12345678901234567890.123456789012345678"
    change = decode(TOPIC, key(), envelope(order_row(premium=big, total=big, fee="0")))
    assert isinstance(change, Change)
    event = apply_order_change(None, change).event
    assert event is not None and event.premium == Decimal(big)
    assert event.order_id.hex == ORDER_ID.replace("-", "")
