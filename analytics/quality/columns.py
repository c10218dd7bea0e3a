"""The cheap path of the sink screen: a suite's batch expectations checked column by column.

Great Expectations costs ~140 ms per table per sink batch, most of it fixed overhead (it hashes
the whole frame to name the batch, builds a metric graph, then answers) — paid by every clean
batch, i.e. nearly all of them. This module reads the *same* expectation objects a suite
builds (their GX type and kwargs: nothing is declared twice) and checks them over the batch's
columns with C-level builtins (``min``/``max``, ``set``, ``map`` with :mod:`operator`), a
fraction of a millisecond per 1,000 rows.

It answers only one question, conservatively: **is every row certainly clean?** ``True``
only when every expectation is of a kind it knows, with kwargs it knows, over values of types
whose comparison it knows to be the one GX makes (``str``, ``int``, ``Decimal``, aware
``datetime``; ``None`` skipped where GX skips nulls). Anything else — a failing row, an
unknown expectation, an unusual type, an exception — answers ``False`` and the batch goes
through GX exactly as before, which names the failing rows and the quarantine detail. So the
fast path can never let through a row GX would hold back (the property the unit tests check
with generated batches), and a batch that does hold bad rows is judged by GX alone.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = ["certainly_clean", "compile_checks"]

Columns = dict[str, tuple[Any, ...]]
Check = Callable[[Columns], bool]

_NUMBER = frozenset({int, Decimal})
_KEYS = frozenset({str, int})
_NONE = type(None)


def _kwargs(config: Any, known: set[str]) -> dict[str, Any] | None:
    """The expectation's kwargs if they are all ones this module understands (and ``mostly``
    is absent or 1: every row must pass), else None."""
    kwargs = dict(config.kwargs)
    if kwargs.pop("mostly", 1) != 1 or kwargs.pop("row_condition", None) is not None:
        return None
    kwargs.pop("condition_parser", None)
    kwargs.pop("result_format", None)
    kwargs.pop("catch_exceptions", None)
    return kwargs if set(kwargs) <= known else None


def _values(col: tuple[Any, ...], allowed: frozenset[type]) -> list[Any] | None:
    """The non-null values of a column if all are of ``allowed`` types, else None."""
    types = set(map(type, col))
    if _NONE in types:
        types.discard(_NONE)
        col = tuple(v for v in col if v is not None)
    return list(col) if types <= allowed else None


def _between(kw: dict[str, Any]) -> Check | None:
    column, low, high = kw["column"], kw.get("min_value"), kw.get("max_value")
    strict_low, strict_high = kw.get("strict_min", False), kw.get("strict_max", False)
    if low is None and high is None:
        return None
    if not all(b is None or type(b) in (int, float, Decimal) for b in (low, high)):
        return None

    def check(cols: Columns) -> bool:
        values = _values(cols[column], _NUMBER)
        if values is None:
            return False
        if not values:
            return True
        if low is not None:
            least = min(values)
            if least < low or (strict_low and least == low):
                return False
        if high is not None:
            most = max(values)
            if most > high or (strict_high and most == high):
                return False
        return True

    return check


def _in_set(kw: dict[str, Any]) -> Check | None:
    column, allowed = kw["column"], kw.get("value_set")
    if not allowed or not all(type(v) is str for v in allowed):
        return None
    allowed = frozenset(allowed)

    def check(cols: Columns) -> bool:
        values = _values(cols[column], frozenset({str}))
        return values is not None and allowed.issuperset(values)

    return check


def _regex(kw: dict[str, Any]) -> Check | None:
    column, search = kw["column"], re.compile(kw["regex"]).search

    def check(cols: Columns) -> bool:
        values = _values(cols[column], frozenset({str}))
        return values is not None and all(map(search, set(values)))

    return check


def _lengths(kw: dict[str, Any]) -> Check | None:
    column, low, high = kw["column"], kw.get("min_value"), kw.get("max_value")
    if kw.get("strict_min") or kw.get("strict_max") or (low is None and high is None):
        return None

    def check(cols: Columns) -> bool:
        values = _values(cols[column], frozenset({str}))
        if values is None:
            return False
        lengths = set(map(len, values))
        return not lengths or ((low is None or min(lengths) >= low)
                               and (high is None or max(lengths) <= high))

    return check


def _pair(kw: dict[str, Any]) -> Check | None:
    a, b = kw["column_A"], kw["column_B"]
    compare = operator.ge if kw.get("or_equal") else operator.gt
    if kw.get("ignore_row_if", "both_values_are_missing") != "both_values_are_missing":
        return None

    def check(cols: Columns) -> bool:
        left, right = cols[a], cols[b]
        kinds = set(map(type, left)) | set(map(type, right))
        if not (kinds <= _NUMBER or kinds == {datetime}):  # no nulls, comparable kinds
            return False
        if kinds == {datetime} and not all(v.tzinfo is not None for v in (*left, *right)):
            return False
        return all(map(compare, left, right))

    return check


def _unique(kw: dict[str, Any]) -> Check | None:
    column = kw["column"]

    def check(cols: Columns) -> bool:
        col = cols[column]
        values = _values(col, _KEYS)
        return values is not None and len(values) == len(col) and len(set(values)) == len(col)

    return check


def _compound_unique(kw: dict[str, Any]) -> Check | None:
    names = list(kw["column_list"])
    if kw.get("ignore_row_if", "all_values_are_missing") != "all_values_are_missing":
        return None

    def check(cols: Columns) -> bool:
        parts = [cols[c] for c in names]
        if not all(set(map(type, p)) <= _KEYS for p in parts):  # no nulls
            return False
        keys = set(zip(*parts, strict=True))
        return len(keys) == len(parts[0])

    return check


def _unique_within_record(kw: dict[str, Any]) -> Check | None:
    names = list(kw["column_list"])
    if kw.get("ignore_row_if", "all_values_are_missing") != "all_values_are_missing":
        return None

    def check(cols: Columns) -> bool:
        parts = [cols[c] for c in names]
        if not all(set(map(type, p)) == {str} for p in parts):  # no nulls
            return False
        if len(parts) == 2:
            return not any(map(operator.eq, *parts))
        return all(len(set(row)) == len(row) for row in zip(*parts, strict=True))

    return check


# GX type -> (kwargs understood, builder); the builder may still refuse (None) a combination
_KINDS: dict[str, tuple[set[str], Callable[[dict[str, Any]], Check | None]]] = {
    "expect_column_values_to_be_between": (
        {"column", "min_value", "max_value", "strict_min", "strict_max"}, _between),
    "expect_column_values_to_be_in_set": ({"column", "value_set"}, _in_set),
    "expect_column_values_to_match_regex": ({"column", "regex"}, _regex),
    "expect_column_value_lengths_to_be_between": (
        {"column", "min_value", "max_value", "strict_min", "strict_max"}, _lengths),
    "expect_column_pair_values_a_to_be_greater_than_b": (
        {"column_A", "column_B", "or_equal", "ignore_row_if"}, _pair),
    "expect_column_values_to_be_unique": ({"column"}, _unique),
    "expect_compound_columns_to_be_unique": ({"column_list", "ignore_row_if"},
                                             _compound_unique),
    "expect_select_column_values_to_be_unique_within_record": (
        {"column_list", "ignore_row_if"}, _unique_within_record),
}


def _columns_named(config: Any) -> list[str]:
    kw = config.kwargs
    return [*(kw[k] for k in ("column", "column_A", "column_B") if kw.get(k)),
            *(kw.get("column_list") or [])]


def compile_checks(expectations: Sequence[Any],
                   columns: Sequence[str]) -> list[Check] | None:
    """Checks for ``expectations`` over rows of ``columns``; None when any of them is beyond
    this module (the caller then always asks GX)."""
    checks: list[Check] = []
    for expectation in expectations:
        config = getattr(expectation, "configuration", expectation)
        if config.type == "expect_table_columns_to_match_ordered_list":
            if _kwargs(config, {"column_list"}) is None \
                    or list(config.kwargs["column_list"]) != list(columns):
                return None  # GX holds the whole batch back: let it say so
            continue
        known = _KINDS.get(config.type)
        if known is None or not set(_columns_named(config)) <= set(columns):
            return None
        kwargs = _kwargs(config, known[0])
        check = None if kwargs is None else known[1](kwargs)
        if check is None:
            return None
        checks.append(check)
    return checks


# (id of the expectations list, columns) -> (that list, its checks); a suite caches its list,
# so the same object comes back every batch (kept here too, so its id is never reused)
_compiled: dict[tuple[int, tuple[str, ...]], tuple[Sequence[Any], list[Check] | None]] = {}


def _checks_for(expectations: Sequence[Any], columns: tuple[str, ...]) -> list[Check] | None:
    key = (id(expectations), columns)
    hit = _compiled.get(key)
    if hit is None or hit[0] is not expectations:
        if len(_compiled) > 256:
            _compiled.clear()
        hit = _compiled[key] = (expectations, compile_checks(expectations, columns))
    return hit[1]


def certainly_clean(expectations: Sequence[Any], columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> bool:
    """True only if every row certainly meets every expectation (see the module's doc)."""
    checks = _checks_for(expectations, tuple(columns))
    if checks is None or not rows:
        return False
    width = len(columns)
    if any(len(r) != width for r in rows):
        return False
    cols: Columns = dict(zip(columns, zip(*rows, strict=True), strict=True))
    try:
        return all(check(cols) for check in checks)
    except Exception:  # an incomparable value, say: GX decides
        return False
