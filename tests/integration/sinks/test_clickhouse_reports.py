"""`strikeflow analytics query` (table, CSV, JSON, Parquet) and the canned reports, read live
through the running sink's endpoint and again straight from the store once it has stopped."""

from __future__ import annotations

import csv
import io
import json
import socket
import threading
import uuid
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from analytics.query import query_table
from infra.settings import Settings
from sinks.runner import run_clickhouse_sink
from strikeflow import cli
from tests.conftest import wait_for
from tests.integration.sinks.test_clickhouse_topics import end_offsets, group_at, produce
from tests.unit.analytics.samples import DAY, sample

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ch_settings(stack: Settings, tmp_path: Path) -> Settings:
    return stack.model_copy(update={"clickhouse": stack.clickhouse.model_copy(update={
        "dsn": f"chdb://{tmp_path / 'clickhouse'}", "flush_interval_s": 0.2,
        "query_port": _free_port()})})


def _cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    result = CliRunner().invoke(cli.main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _csv_sections(data: bytes) -> dict[str, list[list[str]]]:
    sections: dict[str, list[list[str]]] = {}
    current = "summary"
    for row in csv.reader(io.StringIO(data.decode())):
        if row and row[0].startswith("# ") and len(row) == 1:
            current = row[0][2:]
            sections[current] = []
        elif row:
            sections.setdefault(current, []).append(row)
    return sections


def test_queries_and_reports_live_and_from_the_store(ch_settings: Settings, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    s = sample(uuid.uuid4().hex[:6])
    start = end_offsets(ch_settings)
    produce(ch_settings, s)
    stop, ready = threading.Event(), threading.Event()
    runner = threading.Thread(target=run_clickhouse_sink, args=(ch_settings,), kwargs={
        "group_id": group_at(ch_settings, start), "stop": stop, "ready": ready,
        "max_seconds": 300})
    runner.start()
    try:
        assert ready.wait(60)
        db = ch_settings.clickhouse.database
        wait_for(lambda: query_table(ch_settings, f"SELECT count() FROM {db}.settlement_results"
                                     ).rows[0][0] == 6, 60, "the sink wrote the sample")
        sql = (f"SELECT symbol, trades, volume, notional, vwap FROM {db}.trading_daily "
               f"WHERE symbol = '{s.symbol}'")
        table = _cli(ch_settings, monkeypatch, "analytics", "query", sql)
        assert s.symbol in table and "404.5" in table
        as_csv = list(csv.reader(io.StringIO(
            _cli(ch_settings, monkeypatch, "analytics", "query", sql, "--format", "csv"))))
        assert as_csv[0] == ["symbol", "trades", "volume", "notional", "vwap"]
        assert [Decimal(v) for v in as_csv[1][1:]] == [3, 4, Decimal("404.5"),
                                                       Decimal("101.125")]
        as_json = json.loads(_cli(ch_settings, monkeypatch, "analytics", "query", sql,
                                  "--format", "json"), parse_float=Decimal)
        assert as_json["symbol"] == s.symbol and Decimal(str(as_json["notional"])) == \
            Decimal("404.5")
        out = tmp_path / "q.parquet"
        _cli(ch_settings, monkeypatch, "analytics", "query", sql, "--format", "parquet",
             "-o", str(out))
        parquet = pq.read_table(out).to_pylist()
        assert parquet[0]["symbol"] in (s.symbol, s.symbol.encode())
        assert parquet[0]["notional"] == Decimal("404.5")

        live = tmp_path / "live"
        _cli(ch_settings, monkeypatch, "analytics", "report", "daily", "--date",
             DAY.date().isoformat(), "-o", str(live))
        _cli(ch_settings, monkeypatch, "analytics", "report", "statement", "--account",
             s.alice, "--to", DAY.date().isoformat(), "-o", str(live))
    finally:
        stop.set()
        runner.join(60)
    assert not runner.is_alive()

    daily_csv = (live / f"daily-{DAY.date()}.csv").read_bytes()
    sections = _csv_sections(daily_csv)
    trading = sections["Trading by instrument (venue: strikeflow)"]
    assert trading[1][:5] == [s.symbol, "3", "4", "404.5", "101.125"]
    assert ["fees paid (USDT)", "1.904"] in sections["summary"]
    assert ["option orders reconciled ok", "1 of 3"] in sections["summary"]
    recon = {r[0]: r[1] for r in sections["Reconciliation of the day's option orders"][1:]}
    assert recon == {"not_booked": "1", "ok": "1", "premium_mismatch": "1"}
    assert (live / f"daily-{DAY.date()}.pdf").read_bytes().startswith(b"%PDF-")

    stem = f"statement-{s.alice}-start-{DAY.date()}"
    statement = _csv_sections((live / f"{stem}.csv").read_bytes())
    entries = statement["Ledger entries"]
    assert [r[-1] for r in entries[1:]] == ["1000", "999.596", "595.096", "593.596"]
    assert ["closing balance", "593.596"] in statement["summary"]
    assert ["PnL", "4.5"] in statement["summary"]
    assert (live / f"{stem}.pdf").read_bytes().startswith(b"%PDF-")

    # the sink has stopped: the same report, straight from the store, is the same file
    direct = tmp_path / "direct"
    _cli(ch_settings, monkeypatch, "analytics", "report", "daily", "--date",
         DAY.date().isoformat(), "--format", "csv", "-o", str(direct))
    assert (direct / f"daily-{DAY.date()}.csv").read_bytes() == daily_csv
