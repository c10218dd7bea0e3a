"""AML cases in Elasticsearch: in the audit trail, searchable, never a notification."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sinks.search_index.documents import actions_for
from sinks.search_index.sink import SOURCES
from topics.acls import SEARCH_TOPICS
from topics.contracts import CaseEvidence, ComplianceCase

T = datetime(2026, 12, 5, 9, tzinfo=UTC)


def test_a_case_is_audited_once_by_its_id_and_never_notified() -> None:
    case = ComplianceCase(
        event_id="wash_trade:m:1:t1", ts_event=T, case_id="wash_trade:m:1:t1", rule="wash_trade",
        code=7304, account="m:1", accounts=["m:1", "m:2"], severity="high",
        summary="m:1 bought 2 BTC-USDT at 100 from related account m:2", source="trades",
        evidence=[CaseEvidence(kind="trade", event_id="t1", account="m:1", side="buy",
                               amount=Decimal("200"), ts_ms=1, symbol="BTC-USDT",
                               price=Decimal("100"), qty=Decimal("2"), counterparty="m:2")])
    actions = actions_for("compliance.cases", case, "script")
    assert [kind for kind, _ in actions] == ["audit"]  # telling the customer is tipping off
    (_, action), = actions
    doc = action["_source"]
    assert action["_id"] == case.case_id and action["_op_type"] == "create"
    assert (doc["kind"], doc["level"], doc["reason_code"], doc["symbol"], doc["trade_id"]) == \
        ("wash_trade", "high", 7304, "BTC-USDT", "t1")
    assert "aml case wash_trade:m:1:t1" in doc["message"] and "m:1, m:2" in doc["message"]
    assert "compliance.cases" in SOURCES and "compliance.cases" in SEARCH_TOPICS
