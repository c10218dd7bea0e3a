"""Compliance reports of a period: what screening did (cases by rule and severity, transfers
and trades screened, KYC status counts) and the audit export (cases, order events and
transfers, in time order) for a regulator or an auditor.

KYC records live in PostgreSQL, the one authority on them (the counter service gates money
with them in its transactions); the caller reads their counts there and hands them in, so
the report never shows a second, possibly stale, copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from analytics.reports.model import Fetch, Report, Section, quote

__all__ = ["audit_export", "compliance_report"]


def _period(start: date, end: date) -> tuple[str, str]:
    """``[start, end]`` whole UTC days as a half-open ClickHouse time range."""
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    low = quote(f"{start.isoformat()} 00:00:00")
    high = quote(f"{(end + timedelta(days=1)).isoformat()} 00:00:00")
    return (f"toDateTime64({low}, 6, 'UTC')", f"toDateTime64({high}, 6, 'UTC')")


def _count(section: Section, column: str) -> int:
    i = section.columns.index(column)
    return sum(int(r[i] or 0) for r in section.rows)


def compliance_report(fetch: Fetch, start: date, end: date, db: str = "strikeflow",
                      kyc: Sequence[tuple[str, int, int]] | None = None) -> Report:
    """Cases by rule, transfers and trades screened, KYC counts (``(status, tier, accounts)``
    rows from the order database; ``None``: not available)."""
    low, high = _period(start, end)
    when = f"ts_event >= {low} AND ts_event < {high}"
    by_rule = Section.of("AML cases by rule", fetch(
        f"SELECT rule, code, severity, count() AS cases, uniqExact(account) AS accounts "
        f"FROM {db}.compliance_cases FINAL WHERE {when} GROUP BY rule, code, severity "
        f"ORDER BY code, severity"), note="each case once (upserted by case id)")
    cases = Section.of("Cases", fetch(
        f"SELECT ts_event AS opened, case_id, rule, severity, accounts, summary "
        f"FROM {db}.compliance_cases FINAL WHERE {when} ORDER BY ts_event, case_id"))
    screened = Section.of("Screened", fetch(
        f"SELECT 'transfers' AS input, count() AS events, "
        f"countIf(amount > 0) AS deposits, countIf(amount < 0) AS withdrawals, "
        f"sum(abs(amount)) AS usdt FROM {db}.ledger FINAL "
        f"WHERE kind = 'transfer' AND NOT startsWith(account, 'house:') AND {when} "
        f"UNION ALL SELECT 'trades', count(), 0, 0, sum(price * qty) FROM {db}.trades FINAL "
        f"WHERE {when}"), note="every customer transfer and every trade of the period")
    sections = [by_rule, screened]
    if kyc is not None:
        sections.append(Section("KYC status counts (order database, now)",
                                 ["status", "tier", "accounts"], [tuple(r) for r in kyc]))
    sections.append(cases)
    return Report(
        name=f"compliance-{start.isoformat()}-{end.isoformat()}",
        title="Compliance report", subtitle=f"{start.isoformat()} to {end.isoformat()} (UTC)",
        summary=[("cases", _count(by_rule, "cases")),
                 ("transfers screened", screened.rows[0][1] if screened.rows else 0),
                 ("trades screened", screened.rows[1][1] if len(screened.rows) > 1 else 0)],
        sections=sections)


def audit_export(fetch: Fetch, start: date, end: date, db: str = "strikeflow",
                 account: str | None = None, limit: int = 100_000) -> Report:
    """The audit trail of a period (optionally one account's): AML cases, order events and
    transfers, each in time order, at most ``limit`` rows a section (the note says so)."""
    low, high = _period(start, end)
    when = f"ts_event >= {low} AND ts_event < {high}"
    who = f" AND account = {quote(account)}" if account else ""
    whose_case = (f" AND has(splitByChar(',', accounts), {quote(account)})" if account else "")
    n = int(limit)
    cases = Section.of("AML cases", fetch(
        f"SELECT ts_event AS time, case_id, rule, code, severity, accounts, summary, evidence "
        f"FROM {db}.compliance_cases FINAL WHERE {when}{whose_case} "
        f"ORDER BY ts_event, case_id LIMIT {n}"))
    orders = Section.of("Order events", fetch(
        f"SELECT ts_event AS time, event_id, account, symbol, kind, client_order_id, side, "
        f"price, qty, leaves_qty, trade_id, reason_code, reason FROM {db}.order_events FINAL "
        f"WHERE {when}{who} ORDER BY ts_event, event_id LIMIT {n}"))
    transfers = Section.of("Transfers", fetch(
        f"SELECT ts_event AS time, event_id, account, amount, reference FROM {db}.ledger FINAL "
        f"WHERE kind = 'transfer' AND NOT startsWith(account, 'house:') AND {when}{who} "
        f"ORDER BY ts_event, event_id LIMIT {n}"))
    for section in (cases, orders, transfers):
        if len(section.rows) >= n:
            object.__setattr__(section, "note", f"first {n} rows only: narrow the period")
    scope = f", account {account}" if account else ""
    return Report(
        name=f"audit-{start.isoformat()}-{end.isoformat()}" + (f"-{account}" if account
                                                                else ""),
        title="Audit export", subtitle=f"{start.isoformat()} to {end.isoformat()} (UTC){scope}",
        summary=[("cases", len(cases.rows)), ("order events", len(orders.rows)),
                 ("transfers", len(transfers.rows))],
        sections=[cases, orders, transfers])
