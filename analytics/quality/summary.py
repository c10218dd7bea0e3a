"""A few lines on data quality for the demo: what the sink quarantined, and a check run now."""

from __future__ import annotations

from dataclasses import dataclass, field

from analytics.quality.check import Report, run_checks
from analytics.quality.store import open_store
from infra.settings import Settings

__all__ = ["QualitySummary", "summary"]


@dataclass(frozen=True, repr=False)
class QualitySummary:
    quarantined: dict[str, int]  # table -> rows held back by the sink's screen
    alerts: int  # failed expectations recorded on sink batches
    report: Report | None = None
    failing: dict[str, list[str]] = field(default_factory=dict)  # suite -> failed checks

    @property
    def ok(self) -> bool:
        return not self.quarantined and (self.report is None or self.report.success)

    def __str__(self) -> str:
        return "data quality: " + "\n              ".join(self.lines())

    def __rich__(self) -> str:
        return ("[green]" if self.ok else "[red]") + "data quality:[/] " + \
            "\n              ".join(self.lines())

    def lines(self) -> list[str]:
        held = ", ".join(f"{t} {n}" for t, n in sorted(self.quarantined.items())) or "none"
        out = [f"quarantined rows: {held} · batch alerts: {self.alerts}"]
        if self.report is not None:
            suites = self.report.by_suite()
            passed = sum(1 for rs in suites.values() if all(r.success for r in rs))
            out.append(f"analytics check: {passed}/{len(suites)} suites pass"
                       + "".join(f"; {s} fails {', '.join(c)}" for s, c in self.failing.items()))
        return out


def summary(settings: Settings, check: bool = True, settle_s: float = 10.0) -> QualitySummary:
    """Read the quarantine and batch alerts (through the running sink, or the store) and, with
    ``check``, run every suite over the tables now."""
    db = settings.clickhouse.database
    with open_store(settings) as store:
        held = store.read(f"SELECT toString(table) AS table, count() AS n "
                          f"FROM {db}.quarantine FINAL GROUP BY table")
        alerts = store.read(f"SELECT count() AS n FROM {db}.quality_results FINAL "
                            f"WHERE kind = 'batch' AND NOT success")
        report = run_checks(store.read, db, settle_s=settle_s) if check else None
    failing = {} if report is None else {
        suite: [r.check for r in results if not r.success]
        for suite, results in report.by_suite().items() if not all(r.success for r in results)}
    return QualitySummary({str(t): int(n) for t, n in zip(held["table"], held["n"], strict=True)},
                          int(alerts["n"].iloc[0]), report, failing)
