"""Each sink mapping reads fields its topic's contract has, and turns a message into a row."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from sinks.clickhouse import MAPPINGS
from tests.unit.analytics.samples import sample
from topics.catalogue import CATALOGUE, _model_types, by_name

SAMPLE = sample("unit01")


@pytest.mark.parametrize("mapping", MAPPINGS, ids=lambda m: m.topic)
def test_columns_are_fields_of_the_contract(mapping) -> None:  # type: ignore[no-untyped-def]
    (model,) = _model_types(by_name(mapping.topic).contract)
    # an agent's dead letter also says which .dlq topic held it
    named = {"dead_letter_topic"} if mapping.table == "stream_dead_letters" else set()
    assert set(mapping.columns) - named <= set(model.model_fields), mapping.topic
    assert len(set(mapping.columns)) == len(mapping.columns)


def test_every_analytic_topic_has_a_table() -> None:
    dead = {m.topic for m in MAPPINGS if m.table == "stream_dead_letters"}
    assert dead == {s.dead_letter for s in CATALOGUE if s.dead_letter}
    assert {m.topic for m in MAPPINGS} - dead == {
        "trades", "orders.events", "ledger", "positions", "md.candles", "md.index", "md.marks",
        "settlement.results", "settlement.hedges", "settlement.expiries", "risk.alerts",
        "settlement.orders", "rfq.events", "compliance.cases", "routing.reports"}
    assert {m.topic for m in MAPPINGS} - dead == {t for t, _, _ in SAMPLE.messages}


@pytest.mark.parametrize("topic", sorted({t for t, _, _ in SAMPLE.messages}))
def test_a_message_becomes_a_row_in_column_order(topic: str) -> None:
    mapping = next(m for m in MAPPINGS if m.topic == topic)
    message = next(msg for t, _, msg in SAMPLE.messages if t == topic)
    decoded = by_name(topic).decode(by_name(topic).encode(message))  # the wire, both ways
    row = mapping.to_row(decoded)
    assert len(row) == len(mapping.columns)
    for column, value in zip(mapping.columns, row, strict=True):
        if column == "order_id" and topic == "settlement.orders":
            assert value == str(message.order_id)  # a UUID is written as its text
        elif column == "legs" and topic == "rfq.events":  # one readable line
            assert value == "buy 1 BTC-20261225-100000-C + sell 1 BTC-20261225-110000-C"
        elif topic == "compliance.cases" and column == "accounts":
            assert value == ",".join(message.accounts)  # one line, the case's account first
        elif topic == "compliance.cases" and column == "evidence":  # the JSON the officer reads
            assert json.loads(value)[0] == {**message.evidence[0].model_dump(
                mode="json", exclude_none=True)}
        else:
            assert value == getattr(message, column)
        assert not isinstance(value, float)


def test_money_keeps_every_decimal() -> None:
    trade = next(m for t, _, m in SAMPLE.messages if t == "trades")
    mapping = next(m for m in MAPPINGS if m.topic == "trades")
    row = mapping.to_row(trade.model_copy(update={"price": Decimal("90000.123456789")}))
    assert row[mapping.columns.index("price")] == Decimal("90000.123456789")
