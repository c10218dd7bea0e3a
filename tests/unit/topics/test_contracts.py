"""The contracts accept what producers should send and reject the rest, precisely."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from topics.catalogue import CATALOGUE, ContractError, by_name, dead_letter_of
from topics.contracts import Candle, SubmitOrder, Tick

TS = datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)


def _tick(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "event_id": "binance:BTC-USDT:1", "ts_event": "2026-11-23T12:00:00.123456Z",
        "venue": "binance", "symbol": "BTC-USDT", "trade_id": 1, "price": "91000.1",
        "qty": "0.25", "side": "buy",
    }
    return base | overrides


def test_tick_round_trip_keeps_money_exact_and_time_microseconds() -> None:
    spec = by_name("md.ticks")
    tick = spec.decode(json.dumps(_tick(price="91000.123456789", qty="0.000000001")))
    assert tick.price == Decimal("91000.123456789")
    wire = json.loads(spec.encode(tick))
    assert wire["price"] == "91000.123456789" and wire["qty"] == "0.000000001"
    assert wire["ts_event"] == "2026-11-23T12:00:00.123456Z"
    assert spec.decode(spec.encode(tick)) == tick


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"price": "-1"}, "price: Input should be greater than 0"),
        ({"price": "NaN"}, "price"),
        ({"price": 91000}, None),  # a JSON integer is exact: accepted
        # a JSON number with a fraction was parsed as a binary float: refused, not guessed
        ({"price": 0.1}, "price: Value error, Decimal input should be a JSON string"),
        ({"qty": "0"}, "qty: Input should be greater than 0"),
        ({"price": "1.0000000001"}, "price: Value error, Decimal input should have no more than 9"),
        ({"ts_event": "2026-11-23T12:00:00"}, "ts_event: Value error, timestamp must carry"),
        ({"symbol": "btcusdt"}, "symbol: String should match pattern"),
        ({"side": "long"}, "side: Input should be 'buy' or 'sell'"),
        ({"trade_id": -5}, "trade_id: Input should be greater than or equal to 0"),
        ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
    ],
)
def test_invalid_ticks_are_rejected_with_the_field_and_reason(
    overrides: dict[str, object], expected: str | None
) -> None:
    spec = by_name("md.ticks")
    payload = json.dumps(_tick(**overrides))
    if expected is None:
        assert spec.decode(payload).price == Decimal(91000)
        return
    with pytest.raises(ContractError) as info:
        spec.decode(payload)
    assert expected in str(info.value)
    assert info.value.topic == "md.ticks"


def test_malformed_json_is_a_contract_error_not_a_crash() -> None:
    with pytest.raises(ContractError, match=r"md\.ticks"):
        by_name("md.ticks").decode(b"\xff not json")


def test_timestamps_are_normalised_to_utc() -> None:
    tick = Tick.model_validate(_tick(ts_event="2026-11-23T14:00:00.000001+02:00"))
    assert tick.ts_event == datetime(2026, 11, 23, 12, 0, 0, 1, tzinfo=UTC)


def test_candle_rejects_inconsistent_ohlc() -> None:
    with pytest.raises(ValueError, match="low <= open"):
        Candle(event_id="c", ts_event=TS, symbol="BTC-USDT", interval="1m", window_start=TS,
               window_end=TS.replace(minute=1), open=Decimal(10), high=Decimal(9),
               low=Decimal(8), close=Decimal(9), volume=Decimal(1), notional=Decimal(9),
               vwap=Decimal(9), trades=1, version=1, final=False)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"order_type": "limit"}, "limit order needs a price"),
        ({"order_type": "stop", "price": None}, "stop order needs a trigger_price"),
        ({"order_type": "limit", "price": "1", "time_in_force": "GTD"}, "GTD order needs"),
        ({"order_type": "limit", "price": "1", "display_qty": "5"}, "display_qty must be"),
    ],
)
def test_submit_order_fields_must_fit_its_type(fields: dict[str, object], message: str) -> None:
    base = {"command_id": "c1", "ts_sent": TS, "account": "acc-1", "symbol": "BTC-USDT",
            "client_order_id": "o1", "side": "buy", "qty": "2"}
    with pytest.raises(ValueError, match=message):
        SubmitOrder.model_validate(base | fields)


def test_order_commands_are_a_discriminated_union() -> None:
    spec = by_name("orders.commands")
    cmd = spec.decode(json.dumps({"type": "cancel", "command_id": "c2",
                                  "ts_sent": "2026-11-23T12:00:00Z", "account": "a",
                                  "symbol": "ETH-USDT", "client_order_id": "o1"}))
    assert type(cmd).__name__ == "CancelOrder"
    with pytest.raises(ContractError, match="does not match any of the expected tags"):
        spec.decode(json.dumps({"type": "explode", "command_id": "c3"}))


def test_catalogue_is_consistent() -> None:
    names = [s.name for s in CATALOGUE]
    assert len(names) == len(set(names)), "topic names must be unique"
    for spec in CATALOGUE:
        if spec.input:
            assert dead_letter_of(spec.name).name == f"{spec.name}.dlq"
        if spec.cleanup == "compact":
            assert "retention.ms" not in spec.config()
    with pytest.raises(KeyError, match="not in the topic catalogue"):
        by_name("nope")


def test_json_schema_export_covers_every_contract(tmp_path: object) -> None:
    from pathlib import Path

    from topics.schema import export_schemas

    written = export_schemas(Path(str(tmp_path)))
    with_contract = [s for s in CATALOGUE if s.contract is not None]
    assert len(written) == len(with_contract)
    ticks = json.loads((Path(str(tmp_path)) / "md.ticks.schema.json").read_text())
    assert set(ticks["required"]) >= {"event_id", "ts_event", "price", "qty", "symbol"}
    assert ticks["additionalProperties"] is False


def test_every_topic_names_its_contract_by_its_models() -> None:
    """`strikeflow topics list` once printed pydantic's FieldInfo repr for the unions."""
    from topics.catalogue import CATALOGUE, by_name

    for spec in CATALOGUE:
        assert "FieldInfo" not in spec.contract_name and "(" not in spec.contract_name
    assert by_name("orders.requests").contract_name == (
        "SubmitOrder | CancelOrder | AmendOrder | MassCancel | CancelAll | SetMmpConfig | "
        "ResetMmp")
    assert by_name("orders.commands").contract_name == (
        "SubmitOrder | CancelOrder | AmendOrder | MassCancel | BlockTrade")
    assert by_name("md.alerts.commands").contract_name == "SetPriceAlert | CancelPriceAlert"
    assert by_name("cdc.public.orders").contract_name == "Debezium envelope"
