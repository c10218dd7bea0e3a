"""Great Expectations, run in-process on pandas frames: one ephemeral context for the process.

GX is imported on first use (it takes seconds), the context lives as long as the process, and a
suite is registered once. :func:`validate` first asks GX only for pass/fail (the cheap result
format); only when that fails does it ask again for the failing row numbers, so a clean batch
costs one pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["Failure", "Outcome", "expectation_name", "validate", "warm_up"]

_lock = threading.Lock()
_state: dict[str, Any] = {}


@dataclass(frozen=True)
class Failure:
    """One expectation that failed: its name, the failing rows (``None``: the frame as a whole)
    and what GX observed."""

    name: str
    rows: tuple[int, ...] | None
    detail: str


@dataclass(frozen=True)
class Outcome:
    suite: str
    rows: int
    expectations: tuple[str, ...]
    failures: tuple[Failure, ...]

    @property
    def success(self) -> bool:
        return not self.failures

    @property
    def failed_names(self) -> list[str]:
        return [f.name for f in self.failures]


def expectation_name(expectation: Any) -> str:
    """``expect_column_values_to_be_between(price)``: the GX type and the columns it looks at
    (an expectation or its configuration in a result)."""
    config = getattr(expectation, "configuration", expectation)
    kwargs = config.kwargs
    cols = [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)]
    if not config.type.startswith("expect_table_"):  # a table's whole column list is noise
        cols += list(kwargs.get("column_list") or [])
    label = (config.meta or {}).get("label")
    inner = ",".join([*cols, label] if label else cols)
    return f"{config.type}({inner})"


def _context() -> Any:
    if "context" not in _state:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        for noisy in ("great_expectations", "great_expectations.core"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False,
                                                             metric_calculations=False)
        _state["context"] = context
        _state["batch"] = (context.data_sources.add_pandas("strikeflow")
                           .add_dataframe_asset("frames")
                           .add_batch_definition_whole_dataframe("whole"))
        _state["suites"] = {}
    return _state["context"]


def _suite(name: str, expectations: Sequence[Any]) -> Any:
    import great_expectations as gx

    suites: dict[str, Any] = _state["suites"]
    key = (name, tuple(expectation_name(e) for e in expectations))
    if key not in suites:
        # GX binds an expectation to the suite it joins: suites are built from fresh objects.
        copies = [e.copy(deep=True) for e in expectations]
        for e in copies:
            e.id = None
        suite_name = f"{name}#{len(suites)}"
        suites[key] = _state["context"].suites.add(
            gx.ExpectationSuite(name=suite_name, expectations=copies))
    return suites[key]


def _detail(result: Any) -> str:
    info = result.exception_info or {}
    messages = [v.get("exception_message") for v in info.values() if isinstance(v, dict)]
    if info.get("raised_exception") and info.get("exception_message"):
        messages.append(info["exception_message"])
    messages = [m for m in messages if m]
    if messages:
        return "error: " + "; ".join(dict.fromkeys(messages))
    res = result.result or {}
    if "observed_value" in res:
        return f"observed {res['observed_value']!r}"[:500]
    sample = res.get("partial_unexpected_list") or []
    return f"{res.get('unexpected_count', '?')} unexpected, e.g. {sample[:3]!r}"[:500]


def validate(name: str, expectations: Sequence[Any], frame: pd.DataFrame) -> Outcome:
    """Run ``expectations`` over ``frame``; failures name the rows GX found (by position)."""
    frame = frame.reset_index(drop=True)
    with _lock:
        _context()
        suite = _suite(name, expectations)
        batch = _state["batch"].get_batch(batch_parameters={"dataframe": frame})
        quick = batch.validate(suite, result_format="BOOLEAN_ONLY")
        names = tuple(expectation_name(r.expectation_config) for r in quick.results)
        if quick.success:
            return Outcome(name, len(frame), names, ())
        full = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    failures = []
    for r in full.results:
        if r.success:
            continue
        rows = (r.result or {}).get("unexpected_index_list")
        raised = bool((r.exception_info or {}).get("raised_exception")) or any(
            isinstance(v, dict) and v.get("raised_exception")
            for v in (r.exception_info or {}).values())
        failures.append(Failure(expectation_name(r.expectation_config),
                                None if rows is None or raised else tuple(int(i) for i in rows),
                                _detail(r)))
    return Outcome(name, len(frame), names, tuple(failures))


def warm_up(suites: dict[str, Sequence[Any]]) -> None:
    """Import GX and register ``suites`` (name -> expectations) now, so the first sink batch
    does not pay the seconds it takes."""
    with _lock:
        _context()
        for name, expectations in suites.items():
            _suite(name, expectations)
