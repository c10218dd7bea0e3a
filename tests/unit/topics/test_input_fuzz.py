"""Every input topic answers any payload with its own ContractError only.

Agents dead-letter :class:`ContractError`; any other exception escaping ``decode`` crashes or
stalls a worker. For each input topic of the catalogue (a new one is covered automatically):

* payloads generated from the topic's exported JSON Schema decode, and round-trip;
* mutations of them (types swapped, fields dropped or added, duplicate keys, edge timestamps
  and decimals, deep nesting, truncation, bad encodings, random bytes) either decode into a
  model whose values are all in range and which round-trips, or raise ContractError, never
  one that came through the decoder's last-resort net (``unexpected``);

and below, a table of the specific payloads that once escaped or were wrongly accepted.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from cdc.bridge.envelope import ROW_CONTRACTS, table_of_topic
from topics.catalogue import CATALOGUE, MAX_PAYLOAD_BYTES, ContractError, TopicSpec, by_name
from topics.schema import DIALECT, export_schemas

from .fuzzing import CROSS_FIELD_MENDS, assert_closed_values, from_schema, mutated

INPUTS = [spec for spec in CATALOGUE if spec.input]
DECODED = [spec for spec in INPUTS if spec.contract is not None]
# Per input topic: 120 generated, 150 mutated and 40 random payloads; ~40 s on 2 cores.
_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
VALID = settings(max_examples=120, deadline=None, suppress_health_check=_HEALTH)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=_HEALTH)


def _name(spec: TopicSpec) -> str:
    return spec.name


def _payloads(spec: TopicSpec) -> st.SearchStrategy[Any]:
    assert spec.contract is not None
    return from_schema(spec.contract.json_schema(mode="validation"))


def _accepted(spec: TopicSpec, model: Any) -> None:
    """What decode returned is a contract instance in range, and its wire form decodes to it."""
    assert isinstance(model, BaseModel)
    assert_closed_values(model.model_dump(), spec.name)
    assert spec.decode(spec.encode(model)) == model


def _field_names(spec: TopicSpec) -> set[str]:
    from topics.catalogue import _model_types

    assert spec.contract is not None
    return {name for kind in _model_types(spec.contract) for name in kind.model_fields}


def test_every_input_topic_is_covered() -> None:
    """Topics without a contract carry Debezium envelopes: the envelope's fuzz test covers
    them. Another contract-less input topic would be decoded by nothing tested here."""
    assert DECODED, "the catalogue has input topics with contracts"
    for spec in INPUTS:
        if spec.contract is None:
            assert table_of_topic(spec.name) in ROW_CONTRACTS, spec.name


@pytest.mark.parametrize("spec", DECODED, ids=_name)
def test_what_the_schema_admits_decodes_and_round_trips(spec: TopicSpec) -> None:
    """Schema-valid payloads decode, except where a rule across fields (a limit order needs a
    price, a candle's low <= high), which JSON Schema does not carry, refuses them."""
    fields = _field_names(spec)
    seen: Counter[str] = Counter()

    payloads = _payloads(spec)
    mend = CROSS_FIELD_MENDS.get(spec.name)
    if mend is not None:
        payloads = st.one_of(payloads, payloads.map(mend))

    @VALID
    @given(payload=payloads)
    def check(payload: Any) -> None:
        raw = json.dumps(payload).encode()
        try:
            model = spec.decode(raw)
        except ContractError as exc:
            assert not exc.unexpected, exc
            assert spec.contract is not None
            with pytest.raises(ValidationError) as info:
                spec.contract.validate_json(raw)
            for error in info.value.errors():
                # the model's own validator: no field in the location, a ValueError
                assert error["type"] == "value_error", (error, payload)
                assert not fields & {str(part) for part in error["loc"]}, (error, payload)
            seen["cross-field"] += 1
            return
        _accepted(spec, model)
        seen["decoded"] += 1

    check()
    assert seen["decoded"], f"no generated payload passed the cross-field rules: {seen}"


@pytest.mark.parametrize("spec", DECODED, ids=_name)
def test_mutated_payloads_decode_or_raise_contract_error(spec: TopicSpec) -> None:
    @FUZZ
    @given(raw=mutated(_payloads(spec)))
    def check(raw: bytes) -> None:
        try:
            model = spec.decode(raw)
        except ContractError as exc:
            assert not exc.unexpected, exc
            assert exc.topic == spec.name
            return
        _accepted(spec, model)

    check()


@pytest.mark.parametrize("spec", INPUTS, ids=_name)
@settings(max_examples=40, deadline=None)
@given(raw=st.binary(max_size=200) | st.text(max_size=100))
def test_random_bytes_are_contract_errors(spec: TopicSpec, raw: bytes | str) -> None:
    with pytest.raises(ContractError) as info:
        spec.decode(raw)
    assert not info.value.unexpected


def test_exported_schemas_are_valid_and_carry_the_limits(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for path in export_schemas(tmp_path):
        schema = json.loads(path.read_text())
        assert schema["$schema"] == DIALECT
        jsonschema.Draft202012Validator.check_schema(schema)
        assert str(MAX_PAYLOAD_BYTES) in schema["description"]
    ticks = json.loads((tmp_path / "md.ticks.schema.json").read_text())["properties"]
    assert ticks["ts_event"]["format"] == "date-time"
    assert ticks["ts_event"]["formatMinimum"] == "1970-01-01T00:00:00Z"
    assert ticks["ts_event"]["formatExclusiveMaximum"] == "2200-01-01T00:00:00Z"
    assert (ticks["price"]["maxDecimalPlaces"], ticks["price"]["maxIntegerDigits"]) == (9, 20)
    assert ticks["trade_id"]["maximum"] == 2**63 - 1
    assert ticks["event_id"]["maxLength"] == 200


@pytest.mark.parametrize("spec", DECODED, ids=_name)
def test_the_generator_keeps_to_the_schema(spec: TopicSpec) -> None:
    """The payloads the tests above call valid are valid by a JSON Schema validator too."""
    jsonschema = pytest.importorskip("jsonschema")
    assert spec.contract is not None
    validator = jsonschema.Draft202012Validator(spec.contract.json_schema(mode="validation"))

    @settings(max_examples=20, deadline=None, suppress_health_check=_HEALTH)
    @given(payload=_payloads(spec))
    def check(payload: Any) -> None:
        validator.validate(payload)

    check()


# -- regressions: the payloads that escaped or were accepted ------------------------------------
def _submit(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "submit", "command_id": "c1", "ts_sent": "2026-11-23T12:00:00Z",
        "account": "acc-1", "symbol": "BTC-USDT", "client_order_id": "o1", "side": "buy",
        "order_type": "market", "qty": "1.5",
    }
    return base | overrides


def _fill(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "fill", "event_id": "fill:t1:maker", "ts_event": "2026-11-23T12:00:00Z",
        "account": "acc-1", "symbol": "BTC-USDT", "trade_id": "t1", "order_id": "e1",
        "side": "buy", "liquidity": "maker", "price": "91000.5", "qty": "0.1",
        "cash": "-9100.05", "fee": "0",
    }
    return base | overrides


def _tick(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": "binance:BTC-USDT:1", "ts_event": "2026-11-23T12:00:00.123456Z",
        "venue": "binance", "symbol": "BTC-USDT", "trade_id": 1, "price": "91000.1",
        "qty": "0.25", "side": "buy",
    }
    return base | overrides


_RANGE = "timestamp must be from 1970-01-01T00:00:00Z"
_WHOLE = "no more than 20 digits before the point"
_NOTATION = "digits with an optional point and exponent"


@pytest.mark.parametrize(
    ("topic", "payload", "fragment"),
    [
        # timestamps at the edge of datetime's range raised OverflowError (astimezone)
        ("orders.requests", _submit(ts_sent="9999-12-31T23:59:59.999999-23:59"), _RANGE),
        ("orders.requests", _submit(ts_sent="0001-01-01T00:00:00+01:00"), _RANGE),
        # timestamps the venue cannot use were accepted
        ("orders.requests", _submit(ts_sent="0001-01-01T00:00:00Z"), _RANGE),
        ("orders.requests", _submit(ts_sent="1969-12-31T23:59:59.999999Z"), _RANGE),
        ("orders.requests", _submit(ts_sent="1970-01-01T00:30:00+01:00"), _RANGE),
        ("orders.requests", _submit(ts_sent="2200-01-01T00:00:00Z"), _RANGE),
        ("orders.requests", _submit(ts_sent="2199-12-31T23:00:00-05:00"), _RANGE),
        ("orders.requests", _submit(ts_sent=-1), _RANGE),
        ("md.ticks", _tick(ts_event="2026-11-23T12:00:00"), "must carry a timezone"),
        # a positive exponent was not counted: 1E+100 passed as a quantity
        ("orders.requests", _submit(qty="1E+100"), _WHOLE),
        ("orders.requests", _submit(qty="1E+20"), _WHOLE),
        ("orders.requests", _submit(qty="1E+999999999999999999"), _WHOLE),
        ("orders.requests", _submit(qty=10**30), _WHOLE),
        ("md.ticks", _tick(price="1" * 21), _WHOLE),  # 9-place types fit Decimal(38, 18) too
        ("orders.requests", _submit(qty="1e-30"), "no more than 18 decimal places"),
        # normalize() in the 28-digit default context rounded the 19th decimal away: accepted
        ("orders.requests", _submit(qty="12345678901234567890.1234567890123456781"),
         "no more than 18 decimal places"),
        ("orders.requests", _submit(qty="0.0000000000000000001"), "no more than 18 decimal"),
        ("orders.requests", _submit(qty="1E-999999999999999999"), "no more than 18 decimal"),
        ("md.ticks", _tick(qty="0.0000000001"), "no more than 9 decimal places"),
        ("orders.requests", _submit(qty="-0"), "greater than 0"),
        ("orders.requests", _submit(qty="NaN"), "finite number"),
        ("orders.requests", _submit(qty="-Infinity"), "finite number"),
        # spellings Decimal() takes but no other language parses the same way
        ("orders.requests", _submit(qty=" 1"), _NOTATION),
        ("orders.requests", _submit(qty="1_000"), _NOTATION),
        ("orders.requests", _submit(qty="\u0661"), _NOTATION),
        ("orders.requests", _submit(qty="9" * 101), _NOTATION),
        # JSON numbers with a fraction: already a binary float, not exact
        ("orders.requests", _submit(qty=0.1), "should be a JSON string (or integer)"),
        ("orders.requests", _submit(qty=1e-7), "should be a JSON string (or integer)"),
        ("orders.requests", _submit(qty=True), "Decimal input should be"),
        # integers beyond 64 bits, floats and booleans where integers belong
        ("md.ticks", _tick(trade_id=2**63), "less than or equal to 9223372036854775807"),
        ("md.ticks", _tick(trade_id=1.5), "trade_id"),
        ("md.ticks", _tick(trade_id=True), "trade_id"),
        ("orders.requests", _submit(order_type="trailing_stop", trail_ticks=10**100),
         "trail_ticks"),
        # ids: control characters, length
        ("orders.requests", _submit(command_id="a\x00b"), "command_id: String should match"),
        ("orders.requests", _submit(command_id="x" * 201), "at most 200 characters"),
        ("orders.requests", _submit(symbol="BTC-" + "1" * 61), "at most 64 characters"),
        ("accounts.activity", _fill(trade_id="t\x001"), "trade_id: String should match"),
        ("md.index", {"event_id": "i", "ts_event": "2026-11-23T12:00:00Z", "underlying": "BTC",
                      "price": "1", "venues_used": ["a" * 40]}, "venues_used.0"),
    ],
)
def test_edge_payloads_are_contract_errors(topic: str, payload: dict[str, Any],
                                           fragment: str) -> None:
    with pytest.raises(ContractError) as info:
        by_name(topic).decode(json.dumps(payload).encode())
    assert fragment in str(info.value)
    assert not info.value.unexpected


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,  # RecursionError in a recursive parser
        b'{"type":"submit","qty":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        b'{"type": "submit", "qty": NaN}', b'{"type": "submit", "qty": Infinity}',
        b"\xff\xfe{", b'{"type": "submit", "command_id": "\xed\xa0\x80"}',  # bad UTF-8
        '{"type": "cancel", "command_id": "\ud800"}',  # a lone surrogate in text
        b'{"type": "cancel", "command_id": "\\ud800"}',  # ... and as an escape
        json.dumps(_submit()).encode("utf-16"),
        b"[]", b"1", b"null", b'"submit"', b"true", b"", b"   ", None,
        json.dumps(_submit(command_id="x" * MAX_PAYLOAD_BYTES)).encode(),  # too large
        json.dumps(_submit())[:-1].encode(),  # truncated
    ],
)
def test_malformed_payloads_are_contract_errors(raw: bytes | str | None) -> None:
    with pytest.raises(ContractError) as info:
        by_name("orders.requests").decode(raw)
    assert not info.value.unexpected


def test_exact_decimals_are_accepted_and_come_back_canonical() -> None:
    spec = by_name("orders.requests")
    biggest = "99999999999999999999.999999999999999999"  # NUMERIC(38, 18)'s largest
    assert spec.decode(json.dumps(_submit(qty=biggest))).qty == Decimal(biggest)
    assert spec.decode(json.dumps(_submit(qty="1E+19"))).qty == Decimal(10**19)
    assert spec.decode(json.dumps(_submit(qty=5))).qty == Decimal(5)  # JSON integers: exact
    trailing = spec.decode(json.dumps(_submit(qty="1." + "0" * 40)))
    assert json.loads(spec.encode(trailing))["qty"] == "1.000000000000000000"
    zero_fee = by_name("accounts.activity").decode(json.dumps(_fill(fee="0E-1000000")))
    assert json.loads(by_name("accounts.activity").encode(zero_fee))["fee"] == "0"


def test_edges_of_the_time_range_are_accepted_in_any_offset() -> None:
    spec = by_name("orders.requests")
    first = spec.decode(json.dumps(_submit(ts_sent="1970-01-01T01:00:00+01:00")))
    last = spec.decode(json.dumps(_submit(ts_sent="2199-12-31T18:59:59.999999-05:00")))
    assert first.ts_sent.isoformat() == "1970-01-01T00:00:00+00:00"
    assert last.ts_sent.isoformat() == "2199-12-31T23:59:59.999999+00:00"


def test_duplicate_keys_take_the_last_value() -> None:
    """The decision for topics: pydantic's parser, which every consumer decodes with, keeps
    the last; finding duplicates would need a second parse of every message. (The Debezium
    envelope, parsed in Python anyway, refuses them.)"""
    raw = json.dumps(_submit(qty="1"))[:-1] + ', "qty": "2"}'
    assert by_name("orders.requests").decode(raw).qty == Decimal(2)


def test_a_tombstone_is_a_contract_error() -> None:
    with pytest.raises(ContractError, match="no value"):
        by_name("md.ticks").decode(None)


def test_the_last_resort_names_what_escaped() -> None:
    """A bug the types miss still becomes a dead letter, marked ``unexpected``."""

    class Exploding:
        def validate_json(self, raw: object) -> None:
            raise OverflowError("date value out of range")

    spec = replace(by_name("md.ticks"), contract=Exploding())  # type: ignore[arg-type]
    with pytest.raises(ContractError) as info:
        spec.decode(b"{}")
    assert info.value.unexpected
    assert "OverflowError: date value out of range" in str(info.value)
