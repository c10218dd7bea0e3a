"""Reports from fixed query results: summaries, CSV layout and PDF text (no ClickHouse)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from rich.console import Console

from analytics.query import Table
from analytics.reports.daily import daily
from analytics.reports.model import Report, Section
from analytics.reports.render import to_csv, to_pdf, write
from analytics.reports.statement import statement
from strikeflow.summary import build

D = Decimal
T = datetime(2026, 11, 23, 9, tzinfo=UTC)


class FakeStore:
    """Answers a query with the table registered for the first view or table it names."""

    def __init__(self, answers: dict[str, Table]) -> None:
        self.answers = answers
        self.sql: list[str] = []

    def __call__(self, sql: str) -> Table:
        self.sql.append(sql)
        for needle, table in self.answers.items():
            if needle in sql:
                return table
        raise AssertionError(f"unexpected query: {sql}")


def _t(columns: str, *rows: tuple[object, ...]) -> Table:
    names = columns.split()
    return Table(names, ["String"] * len(names), list(rows))


DAILY = {
    "trading_daily": _t("symbol trades volume notional vwap open high low close",
                        ("BTC-USDT", 2, D(3), D("270000.5"), D("90000.166666666666666666"),
                         D(1), D(1), D(1), D(1)),
                        ("ETH-USDT", 5, D(10), D("32000"), D(3200), D(1), D(1), D(1), D(1))),
    "fees_daily": _t("symbol fees entries", ("BTC-USDT", D("27.00005"), 4),
                     ("ETH-USDT", D("3.2"), 10)),
    "volume_by_venue": _t("venue symbol trades volume notional"),
    "trades_notional": _t("account trades volume notional", ("alice", 3, D(4), D("100"))),
    "hedges FINAL": _t("time venue symbol side qty avg_price slippage_bps fee order_id",
                       (T, "binance", "BTC-USDT", "buy", D("0.1"), D(90000), D(1), D("0.9"),
                        "o1")),
    "settlement_reconciliation": _t("status orders ordered_premium booked_premium",
                                    ("not_booked", 2, D(10), D(0)), ("ok", 7, D(70), D(70))),
    "settlement_results": _t("state steps premium fee", ("booked", 7, D(70), D(7))),
    "expiries FINAL": _t("underlying expiry settlement_price"),
}


def test_daily_summary_adds_up_the_sections() -> None:
    store = FakeStore(DAILY)
    report = daily(store, date(2026, 11, 23), "db1", top=5)
    summary = dict(report.summary)
    assert summary["trades"] == 7
    assert summary["notional (USDT)"] == D("302000.5")
    assert summary["fees paid (USDT)"] == D("30.20005")
    assert summary["hedges"] == 1 and summary["hedge fees (USDT)"] == D("0.9")
    assert summary["option orders reconciled ok"] == "7 of 9"
    assert all("db1." in sql and "'2026-11-23'" in sql for sql in store.sql)
    assert "LIMIT 5" in next(s for s in store.sql if "trades_notional" in s)


def test_csv_has_the_summary_then_each_section() -> None:
    report = daily(FakeStore(DAILY), date(2026, 11, 23))
    rows = list(csv.reader(io.StringIO(to_csv(report).decode())))
    assert rows[0] == ["# StrikeFlow daily report 2026-11-23",
                       "UTC day; figures from ClickHouse (de-duplicated tables)"]
    assert ["notional (USDT)", "302000.5"] in rows
    i = rows.index(["# Trading by instrument (venue: strikeflow)"])
    assert rows[i + 1][:4] == ["symbol", "trades", "volume", "notional"]
    assert rows[i + 2][:5] == ["BTC-USDT", "2", "3", "270000.5", "90000.166666666666666666"]
    assert rows[i + 4] == []  # a blank line before the next section


def test_pdf_carries_the_figures() -> None:
    report = daily(FakeStore(DAILY), date(2026, 11, 23))
    data = to_pdf(report, compress=False)
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    for text in (b"StrikeFlow daily report 2026-11-23", b"270000.5",
                 b"90000.166666666666666666", b"Hedges", b"binance", rb"\(none\)"):
        assert text in data, text
    assert to_pdf(report).startswith(b"%PDF-")


def test_write_names_files_after_the_report(tmp_path) -> None:  # type: ignore[no-untyped-def]
    report = Report("daily-x", "t", "s", [], [Section("a", ["c"], [(1,)])])
    paths = write(report, tmp_path / "out", ("csv", "pdf"))
    assert [p.name for p in paths] == ["daily-x.csv", "daily-x.pdf"]
    assert paths[0].read_text().splitlines()[-1] == "1"


STATEMENT = {  # the ledger query first: the opening's needle appears in it too
    "OVER": _t("time kind symbol reference amount balance",
               (T, "trade", "BTC-USDT", "r1", D("-40.5"), D("59.5")),
               (T, "fee", "BTC-USDT", "r1", D("-0.04"), D("59.46")),
               (T, "transfer", "", "r2", D("10"), D("69.46"))),
    "ts_event < toDateTime64": _t("opening", (D(100),)),
    "positions FINAL": _t("symbol qty"),
    "account_pnl": _t("realized_pnl unrealized_pnl pnl", (D(5), D(-2), D(3))),
}


def test_statement_summary_and_period() -> None:
    store = FakeStore(STATEMENT)
    report = statement(store, "alice-1", date(2026, 11, 1), date(2026, 11, 23), "db2")
    assert dict(report.summary) == {
        "opening balance": D(100), "credits": D(10), "debits": D("-40.54"),
        "closing balance": D("69.46"), "fees in period": D("0.04"), "realized PnL": D(5),
        "unrealized PnL": D(-2), "PnL": D(3)}
    assert report.name == "statement-alice-1-2026-11-01-2026-11-23"
    ledger_sql = next(s for s in store.sql if "OVER" in s)
    assert "'2026-11-01 00:00:00'" in ledger_sql and "'2026-11-24 00:00:00'" in ledger_sql
    assert "toDecimal128('100', 18)" in ledger_sql


def test_statement_of_an_account_with_nothing() -> None:
    empty = {"OVER": _t("time amount kind"), "ts_event < toDateTime64": _t("opening", (None,)),
             "positions FINAL": _t("symbol"), "account_pnl": _t("realized_pnl")}
    report = statement(FakeStore(empty), "nobody", None, date(2026, 11, 23))
    assert dict(report.summary)["closing balance"] == 0
    assert report.name == "statement-nobody-start-2026-11-23"


@pytest.mark.parametrize(("account", "start", "error"), [
    ("alice' OR 1=1 --", None, "not an account id"),
    ("alice", date(2026, 12, 1), "after"),
])
def test_statement_refuses_bad_input(account: str, start: date | None, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        statement(FakeStore({}), account, start, date(2026, 11, 23))


def test_summary_renders_counts_trading_and_reconciliation() -> None:
    store = FakeStore({
        "UNION ALL": Table(["t", "n"], ["String", "UInt64"], [("trades", 399), ("ledger", 12)]),
        "sink_dead_letters": _t("n", (4,)),
        "trading_daily": _t("symbol trades volume notional vwap fees",
                            ("BTC-USDT", 399, D("12.5"), D("1125000.25"), D("90000.02"),
                             D("1.5"))),
        "settlement_reconciliation": _t("status n", ("ok", 100)),
    })
    console = Console(record=True, width=200)
    console.print(build(store))
    text = console.export_text()
    assert "trades" in text and "399" in text and "1125000.25" in text
    assert "sink_dead_letters" in text and " 4 " in text.replace("│", " ")
    assert "ok" in text and "100" in text
    assert "settlement_orders" in text  # tables with no rows are listed with 0
