"""The cheap path of the sink screen against GX, the reference: on generated batches (good
rows of every table, with values spoiled, rows dropped, replayed and conflicting) the screen
keeps and quarantines exactly the rows GX alone would, and the cheap path only ever calls a
batch clean when GX finds it clean (GX really runs; no ClickHouse needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka import Message
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from analytics.quality.columns import certainly_clean, compile_checks
from analytics.quality.engine import validate
from analytics.quality.screen import QUARANTINE_COLUMNS, screen_table
from analytics.quality.suites import SCREENED, SUITES
from tests.unit.analytics.test_quality_suites import BY_TABLE, SAMPLE

TABLES = sorted(t for t in SAMPLE if t in SCREENED)

# Values a row of any column might carry by mistake: wrong sign, empty, null, wrong type,
# out of range, an unknown label, a timestamp where a number belongs …
ODD: list[Any] = [None, "", "junk", "BTC", "buy", Decimal("-1"), Decimal(0), Decimal("1.5"),
                  Decimal("-0.000001"), Decimal("1E+3"), 0, -1, 7, True, 1.5,
                  datetime(2026, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC),
                  "BTC-USDT", "m1", ["a"]]


def _message(table: str, i: int) -> Message:
    return Message(topic=BY_TABLE[table].topic, partition=i % 2, offset=1000 + i, key=b"k",
                   value=b"{}")


@st.composite
def batches(draw: st.DrawFn) -> tuple[str, list[list[Any]]]:
    """A table and a batch of its rows: sample rows, some spoiled, some repeated."""
    table = draw(st.sampled_from(TABLES))
    columns = BY_TABLE[table].columns
    good = SAMPLE[table]
    rows = [list(r) for r in draw(st.lists(st.sampled_from(good), min_size=1, max_size=12))]
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["odd", "other_row", "replay", "conflict"]))
        i = draw(st.integers(0, len(rows) - 1))
        c = draw(st.integers(0, len(columns) - 1))
        if kind == "odd":
            rows[i][c] = draw(st.sampled_from(ODD))
        elif kind == "other_row":  # a value of the same column from another good row
            rows[i][c] = draw(st.sampled_from(good))[c]
        elif kind == "replay":
            rows.append(list(rows[i]))
        else:
            rows.append(list(rows[i]))
            rows[-1][c] = draw(st.sampled_from(ODD + [r[c] for r in good]))
    return table, rows


def _comparable(held_rows: list[list[Any]]) -> list[tuple[Any, ...]]:
    """Quarantine rows without their timestamp (the only thing two runs may differ in)."""
    at = QUARANTINE_COLUMNS.index("ts_quarantined")
    return sorted(tuple(repr(v) for j, v in enumerate(r) if j != at) for r in held_rows)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_the_screen_holds_back_exactly_what_gx_alone_holds_back(
        batch: tuple[str, list[list[Any]]]) -> None:
    table, rows = batch
    columns = BY_TABLE[table].columns
    data = [(row, _message(table, i)) for i, row in enumerate(rows)]
    good, held, outcome = screen_table(table, columns, data)
    ref_good, ref_held, ref_outcome = screen_table(table, columns, data, cheap=False)
    event("GX judged the batch" if held.gx_tables else "clean on the cheap path")
    event("rows held back" if len(ref_held) else "nothing held back")
    assert [src.offset() for _, src in good] == [src.offset() for _, src in ref_good]
    assert _comparable(held.quarantine) == _comparable(ref_held.quarantine)
    assert outcome.failed_names == ref_outcome.failed_names
    assert len(held.results) == len(ref_held.results)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_the_cheap_path_calls_clean_only_what_gx_finds_clean(
        batch: tuple[str, list[list[Any]]]) -> None:
    import pandas as pd

    table, rows = batch
    columns = BY_TABLE[table].columns
    expectations = SUITES[table].batch_expectations()
    if certainly_clean(expectations, columns, rows):
        frame = pd.DataFrame(rows, columns=list(columns), dtype=object)
        assert validate(table, expectations, frame).success


@settings(max_examples=60, deadline=None)
@given(table=st.sampled_from(TABLES), data=st.data())
def test_generated_good_batches_pass_on_the_cheap_path(table: str, data: st.DataObject) -> None:
    """Any selection of good rows with distinct keys (a good batch) never reaches GX."""
    good = SAMPLE[table]
    picked = data.draw(st.lists(st.integers(0, len(good) - 1), min_size=1, unique=True))
    batch = [(list(good[i]), _message(table, n)) for n, i in enumerate(picked)]
    kept, held, outcome = screen_table(table, BY_TABLE[table].columns, batch)
    assert outcome.success and kept == batch and len(held) == 0
    assert held.gx_tables == 0 and held.gx_seconds == 0


@settings(max_examples=80, deadline=None)
@given(table=st.sampled_from(TABLES), data=st.data())
def test_a_spoiled_value_is_never_called_clean(table: str, data: st.DataObject) -> None:
    """A value breaking one of the suite's per-row rules sends the batch to GX, which holds
    that row back."""
    columns = BY_TABLE[table].columns
    rows = [list(r) for r in SAMPLE[table]]
    i = data.draw(st.integers(0, len(rows) - 1))
    c = data.draw(st.integers(0, len(columns) - 1))
    rows[i][c] = data.draw(st.sampled_from(ODD))
    batch = [(row, _message(table, n)) for n, row in enumerate(rows)]
    kept, held, _ = screen_table(table, columns, batch)
    if held.gx_tables == 0:  # the cheap path found it clean: so must GX
        _, ref_held, ref = screen_table(table, columns, batch, cheap=False)
        assert ref.success and len(ref_held) == 0
    else:
        assert len(kept) + len(held) == len(batch)


def test_every_screened_suite_is_within_the_cheap_path() -> None:
    for table in sorted(SCREENED):
        checks = compile_checks(SUITES[table].batch_expectations(), BY_TABLE[table].columns)
        assert checks is not None, table


@pytest.mark.parametrize("columns_changed", [True, False])
def test_a_mapping_that_disagrees_with_its_suite_goes_to_gx(columns_changed: bool) -> None:
    columns = list(BY_TABLE["ledger"].columns)
    if columns_changed:
        columns[0], columns[1] = columns[1], columns[0]
    expectations = SUITES["ledger"].batch_expectations()
    rows = [list(r) for r in SAMPLE["ledger"]]
    assert certainly_clean(expectations, columns, rows) is not columns_changed
