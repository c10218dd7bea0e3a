"""The compliance report and the audit export: SQL over the right tables, CSV and PDF out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from analytics.query import Table
from analytics.reports.compliance import audit_export, compliance_report
from analytics.reports.render import to_csv, to_pdf, write

T = datetime(2026, 12, 5, 9, tzinfo=UTC)


class Fetch:
    """Canned answers by the table a query reads; remembers the SQL."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, sql: str) -> Table:
        self.sql.append(sql)
        if "GROUP BY rule" in sql:
            return Table(["rule", "code", "severity", "cases", "accounts"], [],
                         [("structuring", 7303, "high", 2, 1), ("wash_trade", 7304, "high", 1, 1)])
        if "UNION ALL" in sql:
            return Table(["input", "events", "deposits", "withdrawals", "usdt"], [],
                         [("transfers", 7, 6, 1, Decimal("28500")),
                          ("trades", 40, 0, 0, Decimal("1250.5"))])
        if "compliance_cases" in sql:
            return Table(["opened", "case_id", "rule", "severity", "accounts", "summary"], [],
                         [(T, "structuring:a:u1", "structuring", "high", "a", "3 deposits")])
        return Table(["time", "event_id"], [], [(T, "e1")])


def test_the_report_counts_cases_inputs_and_kyc() -> None:
    fetch = Fetch()
    report = compliance_report(fetch, date(2026, 12, 1), date(2026, 12, 5), "db",
                               kyc=[("none", 0, 4), ("verified", 2, 3)])
    assert report.name == "compliance-2026-12-01-2026-12-05"
    assert dict(report.summary) == {"cases": 3, "transfers screened": 7, "trades screened": 40}
    assert [s.title for s in report.sections][2] == "KYC status counts (order database, now)"
    assert all("'2026-12-06 00:00:00'" in q for q in fetch.sql)  # --to is inclusive
    assert any("compliance_cases FINAL" in q for q in fetch.sql)
    csv = to_csv(report).decode()
    assert "structuring,7303,high,2,1" in csv and "verified,2,3" in csv
    assert to_pdf(report).startswith(b"%PDF")


def test_the_audit_export_of_one_account(tmp_path: Path) -> None:
    fetch = Fetch()
    report = audit_export(fetch, date(2026, 12, 5), date(2026, 12, 5), "db", account="a'b")
    assert [s.title for s in report.sections] == ["AML cases", "Order events", "Transfers"]
    assert all("'a\\'b'" in q for q in fetch.sql)  # quoted, never spliced
    paths = write(report, tmp_path, ("csv", "pdf"))
    assert [p.name for p in paths] == ["audit-2026-12-05-2026-12-05-a'b.csv",
                                       "audit-2026-12-05-2026-12-05-a'b.pdf"]


def test_a_period_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before"):
        compliance_report(Fetch(), date(2026, 12, 5), date(2026, 12, 1))
