"""``strikeflow analytics check``: run the suites, show suite → pass/fail, store the results."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from analytics.quality.check import Report, run_checks
from analytics.quality.store import open_store, save_json, save_results
from infra.settings import Settings

__all__ = ["check_command", "report_table"]


def report_table(report: Report) -> Table:
    table = Table("suite", "result", "checks", "failed expectations",
                  title=f"data quality {report.ts:%Y-%m-%d %H:%M:%S}Z")
    for suite, results in report.by_suite().items():
        ok = all(r.success for r in results)
        failed = [f"{r.check}: {f.name} — {f.detail}" for r in results if r.outcome
                  for f in r.outcome.failures]
        skipped = [f"{r.check}: skipped ({r.skipped})" for r in results if r.skipped]
        table.add_row(suite, "[green]pass[/]" if ok else "[red]FAIL[/]",
                      str(sum(1 for r in results if r.outcome)), "\n".join(failed + skipped))
    return table


def check_command(settings: Settings, console: Console, tables: Sequence[str],
                  settle_s: float, limit: int) -> int:
    """Run, print, store; the exit status: 0 all passed, 1 a suite failed, 2 unknown table."""
    db = settings.clickhouse.database
    with open_store(settings) as store:
        try:
            report = run_checks(store.read, db, tables or None, settle_s, limit)
        except KeyError as exc:
            console.print(f"[red]{exc.args[0]}[/]")
            return 2
        stored = (f"{save_results(store.client, db, report)} rows in {db}.quality_results"
                  if store.client is not None else "the sink owns the store: JSON only")
    path = save_json(settings.data_dir, report)
    console.print(report_table(report))
    console.print(f"{'all suites passed' if report.success else 'FAILED'} · results: {stored}"
                  f" · {path}")
    return 0 if report.success else 1
