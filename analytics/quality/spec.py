"""What a suite is: a sunk table's schema, its per-row rules, its keys and its cross-checks.

A suite is written once per table and used twice:

* on each sink batch (:mod:`analytics.quality.screen`): the row's shape and Python types, the
  per-row rules and uniqueness of ``batch_key`` within the batch;
* over the stored table (:mod:`analytics.quality.check`): the table's ClickHouse schema, the
  same per-row rules, uniqueness of ``table_key`` and the cross-table checks (SQL whose result
  frame has expectations of its own).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CrossCheck",
    "TableSuite",
    "between",
    "in_set",
    "matches",
    "non_negative",
    "nonempty",
    "not_after",
    "positive",
    "python_type",
    "unique_within_row",
    "zero",
]

Expectations = Callable[[], list[Any]]


def _gxe() -> Any:
    import great_expectations.expectations as gxe

    return gxe


# -- small builders: each returns fresh GX expectation objects ---------------------------------
def positive(*columns: str) -> list[Any]:
    return [_gxe().ExpectColumnValuesToBeBetween(column=c, min_value=0, strict_min=True)
            for c in columns]


def non_negative(*columns: str) -> list[Any]:
    return [_gxe().ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in columns]


def zero(*columns: str) -> list[Any]:
    return [_gxe().ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=0)
            for c in columns]


def in_set(column: str, values: set[Any] | list[Any]) -> list[Any]:
    return [_gxe().ExpectColumnValuesToBeInSet(column=column, value_set=sorted(values))]


def matches(column: str, regex: str) -> list[Any]:
    return [_gxe().ExpectColumnValuesToMatchRegex(column=column, regex=regex)]


def nonempty(*columns: str) -> list[Any]:
    return [_gxe().ExpectColumnValueLengthsToBeBetween(column=c, min_value=1) for c in columns]


def not_after(low: str, high: str, strict: bool = False) -> list[Any]:
    """``low <= high`` on every row (``<`` when strict)."""
    return [_gxe().ExpectColumnPairValuesAToBeGreaterThanB(column_A=high, column_B=low,
                                                           or_equal=not strict)]


def unique_within_row(*columns: str) -> list[Any]:
    """No two of ``columns`` equal on a row (a trade's maker and taker order differ)."""
    return [_gxe().ExpectSelectColumnValuesToBeUniqueWithinRecord(column_list=list(columns))]


def between(column: str, low: Any, high: Any) -> list[Any]:
    return [_gxe().ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)]


# -- ClickHouse types ------------------------------------------------------------------------
_WRAPPERS = re.compile(r"^(Nullable|LowCardinality)\((.*)\)$")
_PYTHON = (("Decimal", "Decimal"), ("DateTime", "datetime"), ("Date", "date"), ("UInt", "int"),
           ("Int", "int"), ("Float", "float"), ("Bool", "bool"), ("String", "str"),
           ("FixedString", "str"), ("UUID", "UUID"), ("Array", "list"), ("Map", "dict"),
           ("Enum", "str"))


def _unwrap(ch_type: str) -> tuple[str, bool]:
    nullable = False
    while (m := _WRAPPERS.match(ch_type)) is not None:
        nullable = nullable or m.group(1) == "Nullable"
        ch_type = m.group(2)
    return ch_type, nullable


def python_type(ch_type: str) -> tuple[str, bool]:
    """The Python type name a sink row carries for a ClickHouse column, and if it may be None."""
    inner, nullable = _unwrap(ch_type)
    for prefix, name in _PYTHON:
        if inner.startswith(prefix):
            return name, nullable
    raise ValueError(f"no Python type known for ClickHouse type {ch_type!r}")


@dataclass(frozen=True)
class CrossCheck:
    """A rule across rows or tables: ``sql`` (``{db}`` is the database; ``{settled}`` is a
    condition on ``ts_init`` leaving out rows too recent for every sink to have caught up) and
    the expectations its result frame must meet."""

    name: str
    sql: str
    expectations: Expectations
    needs: tuple[str, ...] = ()  # other tables the SQL reads; skipped while one is missing


@dataclass(frozen=True)
class TableSuite:
    table: str
    schema: dict[str, str]  # column -> ClickHouse type, exactly as system.columns shows it
    batch_key: tuple[str, ...]  # unique within a sink batch
    table_key: tuple[str, ...]  # unique in the table read with FINAL
    rows: Expectations = list
    cross: tuple[CrossCheck, ...] = ()
    final: bool = True  # read with FINAL (ReplacingMergeTree)
    notes: str = ""
    _cache: dict[str, list[Any]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.schema)

    def _cached(self, kind: str, build: Callable[[], list[Any]]) -> list[Any]:
        if kind not in self._cache:
            self._cache[kind] = build()
        return self._cache[kind]

    def batch_expectations(self) -> list[Any]:
        """The row's shape, the per-row rules and uniqueness within a sink batch.

        Column types and nulls are not re-checked per value here: the contract has typed every
        field and ClickHouse's typed insert refuses the rest (a dead letter), while GX's
        per-value type check costs ~10 ms a column a batch; the table's types are checked
        against ``system.columns`` by :meth:`schema_expectations` instead.
        """

        def build() -> list[Any]:
            gxe = _gxe()
            return [gxe.ExpectTableColumnsToMatchOrderedList(column_list=list(self.columns)),
                    *self.rows(), _unique(self.batch_key)]

        return self._cached("batch", build)

    def table_expectations(self) -> list[Any]:
        """The per-row rules and key uniqueness, over the stored table."""
        return self._cached("table", lambda: [*self.rows(), _unique(self.table_key)])

    def schema_expectations(self) -> list[Any]:
        """Over ``system.columns`` of the table: exactly these columns with these types."""
        expected = [f"{c} {t}" for c, t in self.schema.items()]
        return self._cached("schema", lambda: [
            _gxe().ExpectColumnDistinctValuesToEqualSet(column="column_type",
                                                        value_set=expected,
                                                        meta={"label": "schema"})])


def _unique(columns: tuple[str, ...]) -> Any:
    gxe = _gxe()
    if len(columns) == 1:
        return gxe.ExpectColumnValuesToBeUnique(column=columns[0])
    return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(columns))
