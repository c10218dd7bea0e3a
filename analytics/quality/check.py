"""Every suite over the stored tables: schema, per-row rules, keys, cross-table checks.

``read`` is any ``sql -> DataFrame``: the running sink's endpoint or the store opened directly
(:mod:`analytics.quality.store`). Rows are read with ``FINAL`` (what analysts see), at most
``limit`` per table, so a check's memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from analytics.quality.engine import Failure, Outcome, validate
from analytics.quality.spec import TableSuite
from analytics.quality.suites import SUITES

__all__ = ["CheckResult", "Report", "normalise", "run_checks"]

Read = Callable[[str], pd.DataFrame]
_FAR_FUTURE = "toDateTime64('2299-12-31 00:00:00', 6, 'UTC')"


@dataclass(frozen=True)
class CheckResult:
    suite: str
    check: str  # schema, rows, or a cross-check's name
    outcome: Outcome | None  # None: skipped
    skipped: str = ""

    @property
    def success(self) -> bool:
        return self.outcome is None or self.outcome.success


@dataclass(frozen=True)
class Report:
    run_id: str
    ts: datetime
    results: tuple[CheckResult, ...]

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    def by_suite(self) -> dict[str, list[CheckResult]]:
        out: dict[str, list[CheckResult]] = {}
        for r in self.results:
            out.setdefault(r.suite, []).append(r)
        return out

    def rows(self) -> list[list[Any]]:
        """``quality_results`` rows: one per expectation run, passed or failed."""
        out = []
        for r in self.results:
            if r.outcome is None:
                continue
            failed = {f.name: f for f in r.outcome.failures}
            for name in r.outcome.expectations:
                f = failed.get(name)
                unexpected = 0 if f is None else (r.outcome.rows if f.rows is None
                                                  else len(f.rows))
                out.append([self.run_id, "check", r.suite, r.check, name, f is None,
                            r.outcome.rows, unexpected, "" if f is None else f.detail, self.ts])
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "ts": self.ts.isoformat(), "success": self.success,
                "suites": {suite: {r.check: {"success": r.success, "skipped": r.skipped,
                                             "rows": r.outcome.rows if r.outcome else 0,
                                             "failed": [{"expectation": f.name,
                                                         "detail": f.detail}
                                                        for f in (r.outcome.failures
                                                                  if r.outcome else ())]}
                                   for r in results}
                           for suite, results in self.by_suite().items()}}


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals (LowCardinality) as plain objects, so every rule sees the values."""
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(object)
    return frame


def _fail(suite: str, check: str, name: str, detail: str) -> CheckResult:
    return CheckResult(suite, check, Outcome(suite, 0, (name,), (Failure(name, None, detail),)))


def _run(suite: TableSuite, check: str, expectations: list[Any], sql: str,
         read: Read) -> CheckResult:
    try:
        frame = normalise(read(sql))
    except Exception as exc:  # a query ClickHouse refuses is a failed check, not a crash
        return _fail(suite.table, check, "query", f"{type(exc).__name__}: {exc}"[:500])
    return CheckResult(suite.table, check, validate(f"{suite.table}.{check}", expectations,
                                                     frame))


def _check_suite(suite: TableSuite, db: str, read: Read, existing: set[str],
                 settle_s: float, limit: int) -> list[CheckResult]:
    t = suite.table
    if t not in existing:
        return [_fail(t, "schema", "table_exists", f"{db}.{t} does not exist")]
    results = [_run(suite, "schema", suite.schema_expectations(),
                    f"SELECT concat(name, ' ', type) AS column_type FROM system.columns "
                    f"WHERE database = '{db}' AND table = '{t}'", read)]
    final = " FINAL" if suite.final else ""
    results.append(_run(suite, "rows", suite.table_expectations(),
                        f"SELECT * FROM {db}.{t}{final} LIMIT {int(limit)}", read))
    before = (f"(now64(6) - toIntervalMillisecond({int(settle_s * 1000)}))" if settle_s > 0
              else _FAR_FUTURE)
    for cross in suite.cross:
        missing = [n for n in cross.needs if n not in existing]
        if missing:
            results.append(CheckResult(t, cross.name, None, f"missing {', '.join(missing)}"))
            continue
        sql = cross.sql.format(db=db, settled=f"ts_init <= {before}", settled_before=before)
        results.append(_run(suite, cross.name, cross.expectations(), sql, read))
    return results


def run_checks(read: Read, db: str, tables: Iterable[str] | None = None,
               settle_s: float = 10.0, limit: int = 1_000_000) -> Report:
    """Run the suites of ``tables`` (default: all). Rows younger than ``settle_s`` are left out
    of cross-table checks: another topic's sink may not have written their partners yet."""
    ts = datetime.now(UTC)
    chosen = list(tables) if tables else list(SUITES)
    unknown = [t for t in chosen if t not in SUITES]
    if unknown:
        raise KeyError(f"no suite for {unknown}; suites: {sorted(SUITES)}")
    names = read(f"SELECT name FROM system.tables WHERE database = '{db}'")
    existing = set(names["name"].astype(str)) if len(names) else set()
    results: list[CheckResult] = []
    for table in chosen:
        results += _check_suite(SUITES[table], db, read, existing, settle_s, limit)
    return Report(f"check:{ts.isoformat()}", ts, tuple(results))
