"""`strikeflow compliance report` and `compliance audit` over the real chDB store (the sample
day of every analytic topic, sunk through the real Kafka) and PostgreSQL (KYC counts)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from analytics.clickhouse import open_client
from analytics.migrate import migrate
from infra.settings import Settings
from tests.integration.sinks.test_clickhouse_reports import _cli, _csv_sections, ch_settings
from tests.integration.sinks.test_clickhouse_topics import end_offsets, produce, run_sink
from tests.unit.analytics.samples import DAY, sample

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.postgres]

__all__ = ["ch_settings"]  # the fixture, re-used


def test_the_report_and_the_audit_export_of_a_day(ch_settings: Settings, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  cdc_stack: Settings) -> None:
    s = sample(uuid.uuid4().hex[:6])
    start = end_offsets(ch_settings)
    produce(ch_settings, s)
    client = open_client(ch_settings)
    migrate(client, ch_settings.clickhouse.database)
    run_sink(ch_settings, client, start)
    client.close()
    day = DAY.date().isoformat()
    _cli(ch_settings, monkeypatch, "compliance", "report", "--from", day, "--to", day,
         "-o", str(tmp_path))
    report = _csv_sections((tmp_path / f"compliance-{day}-{day}.csv").read_bytes())
    case_id = f"wash_trade:{s.alice}:{s.tag}-t1"
    assert ["wash_trade", "7304", "high", "1", "1"] in report["AML cases by rule"]
    assert any(row[1] == case_id for row in report["Cases"])
    screened = {r[0]: r[1:] for r in report["Screened"][1:]}
    assert int(screened["trades"][0]) >= 3 and int(screened["transfers"][0]) >= 1
    kyc = report["KYC status counts (order database, now)"]
    assert kyc[0] == ["status", "tier", "accounts"] and len(kyc) > 1
    assert (tmp_path / f"compliance-{day}-{day}.pdf").read_bytes().startswith(b"%PDF-")

    _cli(ch_settings, monkeypatch, "compliance", "audit", "--from", day, "--to", day,
         "--account", s.bob, "--format", "csv", "-o", str(tmp_path))
    audit = _csv_sections((tmp_path / f"audit-{day}-{day}-{s.bob}.csv").read_bytes())
    assert [r[1] for r in audit["AML cases"][1:]] == [case_id]  # bob is the case's 2nd account
    assert {r[2] for r in audit["Order events"][1:]} <= {s.bob}
    assert audit["Transfers"][0][:3] == ["time", "event_id", "account"]
