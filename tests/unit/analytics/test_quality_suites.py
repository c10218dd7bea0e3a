"""The suites on sink batches: a good batch of every table passes, bad rows are held back with
the expectations they broke, and only they (GX really runs; no ClickHouse needed)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka import Message

from analytics.quality.screen import QUARANTINE_COLUMNS, RESULT_COLUMNS, screen, screen_table
from analytics.quality.spec import python_type
from analytics.quality.suites import DEAD_LETTER_TABLES, SCREENED, SUITES
from sinks.clickhouse import MAPPINGS
from tests.integration.analytics import seed

BY_TABLE = {m.table: m for m in MAPPINGS}


def _sample() -> dict[str, list[list[Any]]]:
    trades, events, ledger, positions = seed._trading()
    index, marks = seed._marketdata()
    orders, results, hedges, expiries, alerts = seed._settlement()
    models = {"candles": seed._candles(), "trades": trades, "order_events": events,
              "ledger": ledger, "positions": positions, "risk_alerts": alerts,
              "index_prices": index, "option_marks": marks, "settlement_orders": orders,
              "settlement_results": results, "hedges": hedges, "expiries": expiries}
    return {t: [BY_TABLE[t].to_row(m) for m in ms] for t, ms in models.items()}


SAMPLE = _sample()


def _batch(table: str, rows: list[list[Any]]) -> list[tuple[list[Any], Message]]:
    topic = BY_TABLE[table].topic
    return [(row, Message(topic=topic, partition=0, offset=100 + i, key=b"k", value=b"{}"))
            for i, row in enumerate(rows)]


def _rows(table: str) -> list[list[Any]]:
    return [list(r) for r in SAMPLE[table]]


def _set(row: list[Any], table: str, column: str, value: Any) -> None:
    row[BY_TABLE[table].columns.index(column)] = value


def test_every_sunk_table_has_a_suite_in_its_mappings_column_order() -> None:
    assert set(BY_TABLE) - DEAD_LETTER_TABLES == SCREENED
    for table, mapping in BY_TABLE.items():
        assert SUITES[table].columns == mapping.columns, table


def test_python_types_follow_clickhouse_types() -> None:
    assert python_type("LowCardinality(Nullable(String))") == ("str", True)
    assert python_type("Nullable(Decimal(38, 18))") == ("Decimal", True)
    assert python_type("DateTime64(6, 'UTC')") == ("datetime", False)
    with pytest.raises(ValueError, match="no Python type"):
        python_type("IPv4")


@pytest.mark.parametrize("table", sorted(SAMPLE))
def test_a_good_batch_passes_whole(table: str) -> None:
    data = _batch(table, _rows(table))
    good, held, outcome = screen_table(table, BY_TABLE[table].columns, data)
    assert outcome.success, outcome.failures
    assert good == data and len(held) == 0 and held.results == []


def _candle_vwap_above_high(rows: list[list[Any]]) -> None:
    _set(rows[2], "candles", "vwap", Decimal("999999"))


def _trade_self_cross(rows: list[list[Any]]) -> None:
    _set(rows[1], "trades", "taker_order_id", rows[1][BY_TABLE["trades"].columns.index(
        "maker_order_id")])


def _trade_conflicting_duplicate(rows: list[list[Any]]) -> None:
    rows[3] = list(rows[2])
    _set(rows[3], "trades", "price", Decimal("1"))


def _ledger_unknown_kind(rows: list[list[Any]]) -> None:
    _set(rows[0], "ledger", "kind", "gift")


def _position_negative_margin(rows: list[list[Any]]) -> None:
    _set(rows[1], "positions", "maintenance_margin", Decimal("-1"))


def _order_event_negative_qty(rows: list[list[Any]]) -> None:
    _set(rows[4], "order_events", "leaves_qty", Decimal("-0.01"))


def _mark_delta_out_of_range(rows: list[list[Any]]) -> None:
    _set(rows[0], "option_marks", "delta", Decimal("1.5"))


def _hedge_zero_price(rows: list[list[Any]]) -> None:
    _set(rows[0], "hedges", "avg_price", Decimal("0"))


def _expiry_window_after_expiry(rows: list[list[Any]]) -> None:
    c = BY_TABLE["expiries"].columns
    rows[0][c.index("twap_window_start")] = rows[0][c.index("expiry")]


def _settlement_state_unknown(rows: list[list[Any]]) -> None:
    _set(rows[5], "settlement_results", "state", "lost")


def _order_negative_fee(rows: list[list[Any]]) -> None:
    _set(rows[0], "settlement_orders", "fee", Decimal("-2"))


def _index_zero_price(rows: list[list[Any]]) -> None:
    _set(rows[7], "index_prices", "price", Decimal("0"))


def _alert_unknown_level(rows: list[list[Any]]) -> None:
    _set(rows[0], "risk_alerts", "level", "panic")


CASES = [
    ("candles", _candle_vwap_above_high,
     {"expect_column_pair_values_a_to_be_greater_than_b(high,vwap)"}, {2}),
    ("trades", _trade_self_cross,
     {"expect_select_column_values_to_be_unique_within_record(maker_order_id,taker_order_id)"},
     {1}),
    ("trades", _trade_conflicting_duplicate,
     {"expect_column_values_to_be_unique(event_id)"}, {2, 3}),
    ("ledger", _ledger_unknown_kind, {"expect_column_values_to_be_in_set(kind)"}, {0}),
    ("positions", _position_negative_margin,
     {"expect_column_values_to_be_between(maintenance_margin)"}, {1}),
    ("order_events", _order_event_negative_qty,
     {"expect_column_values_to_be_between(leaves_qty)"}, {4}),
    ("option_marks", _mark_delta_out_of_range,
     {"expect_column_values_to_be_between(delta)"}, {0}),
    ("hedges", _hedge_zero_price, {"expect_column_values_to_be_between(avg_price)"}, {0}),
    ("expiries", _expiry_window_after_expiry,
     {"expect_column_pair_values_a_to_be_greater_than_b(expiry,twap_window_start)"}, {0}),
    ("settlement_results", _settlement_state_unknown,
     {"expect_column_values_to_be_in_set(state)"}, {5}),
    ("settlement_orders", _order_negative_fee, {"expect_column_values_to_be_between(fee)"}, {0}),
    ("index_prices", _index_zero_price, {"expect_column_values_to_be_between(price)"}, {7}),
    ("risk_alerts", _alert_unknown_level, {"expect_column_values_to_be_in_set(level)"}, {0}),
]


@pytest.mark.parametrize(("table", "spoil", "expected", "bad_rows"), CASES,
                         ids=[f"{c[0]}-{c[1].__name__.strip('_')}" for c in CASES])
def test_bad_rows_are_held_back_with_the_expectations_they_broke(
        table: str, spoil: Any, expected: set[str], bad_rows: set[int]) -> None:
    rows = _rows(table)
    spoil(rows)
    data = _batch(table, rows)
    good, held, outcome = screen_table(table, BY_TABLE[table].columns, data)
    assert set(outcome.failed_names) == expected
    assert len(good) == len(data) - len(bad_rows)
    offsets = {r[QUARANTINE_COLUMNS.index("source_offset")] for r in held.quarantine}
    assert offsets == {100 + i for i in bad_rows}
    for q in held.quarantine:
        assert set(q[QUARANTINE_COLUMNS.index("failed")]) == expected
        assert q[QUARANTINE_COLUMNS.index("table")] == table
    assert {r[RESULT_COLUMNS.index("expectation")] for r in held.results} == expected
    assert all(r[RESULT_COLUMNS.index("success")] is False for r in held.results)


def test_an_identical_replay_within_a_batch_is_not_a_duplicate() -> None:
    rows = _rows("trades")
    rows.append(list(rows[0]))  # the same trade delivered twice
    data = _batch("trades", rows)
    good, held, outcome = screen_table("trades", BY_TABLE["trades"].columns, data)
    assert outcome.success and good == data and len(held) == 0


def test_a_re_emission_with_a_new_envelope_and_equal_decimals_is_not_a_duplicate() -> None:
    rows = _rows("positions")
    again = list(rows[0])
    c = BY_TABLE["positions"].columns
    again[c.index("ts_init")] = again[c.index("ts_init")] + timedelta(minutes=5)
    again[c.index("ts_event")] = again[c.index("ts_event")] + timedelta(minutes=5)
    again[c.index("avg_price")] = Decimal(again[c.index("avg_price")]).quantize(Decimal("1E-12"))
    rows.append(again)
    good, held, outcome = screen_table("positions", c, _batch("positions", rows))
    assert outcome.success and len(good) == len(rows) and len(held) == 0
    changed = list(again)
    changed[c.index("qty")] = Decimal("7")  # the same event id, another position
    rows.append(changed)
    good, held, outcome = screen_table("positions", c, _batch("positions", rows))
    assert outcome.failed_names == [
        "expect_compound_columns_to_be_unique(account,symbol,seq,event_id)"]
    assert len(held) == 3  # the first copy, its re-emission and the conflicting one


def test_a_batch_of_the_wrong_shape_is_held_back_whole() -> None:
    rows = [r[:-1] for r in _rows("ledger")]  # a mapping that lost a column
    data = _batch("ledger", rows)
    good, held, outcome = screen_table("ledger", BY_TABLE["ledger"].columns, data)
    assert good == []
    assert len(held) == len(data)
    assert "expect_table_columns_to_match_ordered_list()" in outcome.failed_names


def test_screen_keeps_good_tables_and_collects_what_it_held() -> None:
    candles = _rows("candles")
    _candle_vwap_above_high(candles)
    rows = {"candles": _batch("candles", candles), "trades": _batch("trades", _rows("trades"))}
    good, held = screen(rows, MAPPINGS)
    assert len(good["candles"]) == len(candles) - 1
    assert good["trades"] == rows["trades"]
    assert len(held) == 1 and len(held.results) == 1
    calls: list[tuple[str, int]] = []
    held.insert(lambda table, columns, data: calls.append((table, len(data))))
    assert calls == [("quarantine", 1), ("quality_results", 1)]
    _, again = screen(rows, MAPPINGS)  # a replayed batch: the same ids, so it upserts
    assert again.quarantine[0][QUARANTINE_COLUMNS.index("batch_id")] == \
        held.quarantine[0][QUARANTINE_COLUMNS.index("batch_id")]


def test_warm_up_registers_every_screened_suite_once() -> None:
    from analytics.quality import engine
    from analytics.quality.screen import warm_up

    warm_up()
    registered = {name for name, _ in engine._state["suites"]}
    assert registered >= SCREENED
    before = len(engine._state["suites"])
    warm_up()
    screen_table("ledger", BY_TABLE["ledger"].columns, _batch("ledger", _rows("ledger")))
    assert len(engine._state["suites"]) == before  # the screen reuses what warm_up built
