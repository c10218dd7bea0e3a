"""``analytics check`` over a real embedded ClickHouse (chDB in tmp_path) with migrations
applied: a consistent sample passes every suite; breaking the ledger, a trade's fills, a
position's account and a candle fails exactly the expectations that guard them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from analytics.migrate import migrate
from analytics.quality.check import Report, run_checks
from analytics.quality.store import parquet_reader, save_results
from topics.contracts import LedgerEntry, Position, Trade

from .seed import T0, insert, seed

pytestmark = pytest.mark.clickhouse
DB = "strikeflow"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Any]:
    import clickhouse_connect

    c = clickhouse_connect.get_client(dsn=f"chdb://{tmp_path / 'clickhouse'}")
    migrate(c, DB)
    seed(c, DB)
    yield c
    c.close()


def _check(client: Any, **kwargs: Any) -> Report:
    read = parquet_reader(lambda sql: bytes(client.raw_query(sql, fmt="Parquet")))
    return run_checks(read, DB, settle_s=0, **kwargs)


def _failed(report: Report) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for r in report.results:
        if r.outcome and r.outcome.failures:
            out[(r.suite, r.check)] = set(r.outcome.failed_names)
    return out


def test_a_consistent_store_passes_every_suite(client: Any) -> None:
    report = _check(client)
    assert report.success, _failed(report)
    checks = {(r.suite, r.check) for r in report.results}
    assert ("ledger", "postings_balance") in checks
    assert ("trades", "every_trade_has_maker_and_taker_fill") in checks
    assert all(r.outcome is not None for r in report.results)  # nothing skipped
    assert save_results(client, DB, report) == len(report.rows())
    stored = client.query(f"SELECT countIf(success), count() FROM {DB}.quality_results FINAL "
                          f"WHERE kind = 'check'").result_rows[0]
    assert stored[0] == stored[1] > 100


def _spoil(client: Any) -> None:
    ts = T0 + timedelta(minutes=8)
    insert(client, DB, "ledger", [LedgerEntry(  # a posting with one leg: money from nowhere
        event_id="gift:1:0", ts_event=ts, posting_id="gift:1", account="acct-x",
        amount=Decimal("1000"), kind="transfer", reference="gift")])
    insert(client, DB, "trades", [Trade(  # a trade no order event knows of
        event_id="BTC-USDT:999", ts_event=ts, symbol="BTC-USDT", trade_id="BTC-USDT:999",
        price=Decimal("90000"), qty=Decimal("0.5"), aggressor_side="sell",
        maker_order_id="BTC-USDT#7", taker_order_id="BTC-USDT#8", maker_account="acct-m",
        taker_account="acct-t", seq=999)])
    insert(client, DB, "positions", [Position(  # an account the ledger never saw
        event_id="position:ghost:1", ts_event=ts, account="ghost", symbol="ETH-USDT",
        qty=Decimal("1"), avg_price=Decimal("3200"), realized_pnl=Decimal(0),
        unrealized_pnl=Decimal(0), seq=1)])
    client.command(  # a stored candle whose VWAP is outside its range (written by hand)
        f"INSERT INTO {DB}.candles SELECT * REPLACE (vwap * 2 AS vwap, version + 1 AS version)"
        f" FROM {DB}.candles FINAL WHERE interval = '1m' ORDER BY window_start LIMIT 1")


def test_broken_invariants_fail_the_expectations_that_guard_them(client: Any) -> None:
    _spoil(client)
    report = _check(client)
    assert not report.success
    assert _failed(report) == {
        ("ledger", "postings_balance"): {"expect_column_values_to_be_between(total)"},
        ("ledger", "ledger_balances"): {"expect_column_values_to_be_between(total)"},
        ("trades", "every_trade_has_maker_and_taker_fill"): {
            "expect_column_values_to_be_between(maker_fills)",
            "expect_column_values_to_be_between(taker_fills)"},
        ("positions", "position_accounts_are_in_the_ledger"): {
            "expect_column_values_to_be_in_set(in_ledger)"},
        ("positions", "spot_positions_match_trades"): {  # the trade no position reflects
            "expect_column_values_to_be_between(difference)"},
        ("candles", "rows"): {"expect_column_pair_values_a_to_be_greater_than_b(high,vwap)"},
    }
    passing = {r.suite for r in report.results} - {s for s, _ in _failed(report)}
    assert {"order_events", "hedges", "settlement_results"} <= passing


def test_a_stale_position_fails_the_trades_check(client: Any) -> None:
    """What the demo showed: ClickHouse kept half of an account's position (0.06 where its
    trades add up to 0.12) while every row-level suite passed."""
    insert(client, DB, "positions", [Position(
        event_id="position:acct-t:BTC-USDT:13:stale", ts_event=T0 + timedelta(minutes=7),
        account="acct-t", symbol="BTC-USDT", qty=Decimal("0.06"), avg_price=Decimal("90005.5"),
        realized_pnl=Decimal(0), unrealized_pnl=Decimal(0), mark_price=Decimal("90020"),
        maintenance_margin=Decimal(0), seq=13)])
    report = _check(client, tables=["positions"])
    assert _failed(report) == {("positions", "spot_positions_match_trades"): {
        "expect_column_values_to_be_between(difference)"}}


def test_a_missing_table_fails_its_suite_and_skips_checks_that_need_it(client: Any) -> None:
    client.command(f"DROP TABLE {DB}.hedges")
    report = _check(client, tables=["hedges", "settlement_results"])
    assert _failed(report) == {("hedges", "schema"): {"table_exists"}}
    skipped = [r for r in report.results if r.outcome is None]
    assert [(r.suite, r.check) for r in skipped] == [
        ("settlement_results", "hedged_results_have_their_hedge")]
    with pytest.raises(KeyError, match="no suite"):
        _check(client, tables=["nope"])


def test_the_command_prints_stores_and_exits_non_zero(client: Any, tmp_path: Path) -> None:
    _spoil(client)
    client.close()  # chDB: one process per store; the command opens it itself
    env = dict(os.environ, STRIKEFLOW_DATA_DIR=str(tmp_path),
               STRIKEFLOW_CLICKHOUSE__DSN=f"chdb://{tmp_path / 'clickhouse'}",
               STRIKEFLOW_CLICKHOUSE__QUERY_PORT="1", COLUMNS="200")  # no sink to ask
    cmd = [sys.executable, "-m", "strikeflow.cli", "analytics", "check", "--settle-seconds", "0"]
    run = subprocess.run([*cmd, "-t", "ledger", "-t", "hedges"], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 1, run.stderr[-2000:]
    assert "FAIL" in run.stdout and "postings_balance" in run.stdout
    saved = sorted((tmp_path / "quality").glob("check-*.json"))
    assert len(saved) == 1
    result = json.loads(saved[0].read_text())
    assert result["success"] is False
    assert result["suites"]["hedges"]["rows"]["success"] is True
    assert result["suites"]["ledger"]["postings_balance"]["failed"][0]["expectation"] == \
        "expect_column_values_to_be_between(total)"
    ok = subprocess.run([*cmd, "-t", "hedges"], env=env, capture_output=True, text=True,
                        timeout=300)
    assert ok.returncode == 0, ok.stdout[-2000:]
    assert "all suites passed" in ok.stdout


def test_summary_reports_quarantine_and_a_check(client: Any, tmp_path: Path) -> None:
    from analytics.quality import summary
    from infra.settings import get_settings

    _spoil(client)
    client.insert(f"{DB}.quarantine", [["candles", "md.candles", 0, 7, "k", "{}", "{}",
                                        ["expect_column_values_to_be_between(vwap)"], "{}",
                                        "candles:1", T0]],
                  column_names=["table", "source_topic", "source_partition", "source_offset",
                                "key", "row", "payload", "failed", "detail", "batch_id",
                                "ts_quarantined"])
    client.close()
    base = get_settings()
    settings = base.model_copy(update={"clickhouse": base.clickhouse.model_copy(update={
        "dsn": f"chdb://{tmp_path / 'clickhouse'}", "query_port": 1})})
    result = summary(settings, settle_s=0)
    assert result.quarantined == {"candles": 1}
    assert not result.ok
    assert set(result.failing) == {"ledger", "trades", "positions", "candles"}
    assert "postings_balance" in result.failing["ledger"]
    lines = result.lines()
    assert lines[0].startswith("quarantined rows: candles 1")
    from analytics.quality.suites import SUITES
    failing = len(result.failing)
    assert f"{len(SUITES) - failing}/{len(SUITES)} suites pass" in lines[1]
    assert str(result).startswith("data quality: quarantined rows: candles 1")
