"""Compliance: ``compliance_cases`` (AML cases with their evidence)."""

from __future__ import annotations

from typing import Any, get_args

from analytics.quality.spec import TableSuite, between, in_set, nonempty
from analytics.quality.suites.common import META
from topics.contracts.compliance import ComplianceCase

__all__ = ["COMPLIANCE_CASES"]

_RULES = set(get_args(ComplianceCase.model_fields["rule"].annotation))
_SEVERITIES = set(get_args(ComplianceCase.model_fields["severity"].annotation))


def _rows() -> list[Any]:
    return [*nonempty("event_id", "case_id", "account", "accounts", "evidence"),
            *in_set("rule", _RULES), *in_set("severity", _SEVERITIES),
            *in_set("source", {"transfers", "trades"}), *between("code", 7300, 7399)]


COMPLIANCE_CASES = TableSuite(
    table="compliance_cases",
    schema={"event_id": "String", "case_id": "String", "rule": "LowCardinality(String)",
            "code": "Int64", "account": "String", "accounts": "String",
            "severity": "LowCardinality(String)", "summary": "String",
            "source": "LowCardinality(String)", "evidence": "String", **META},
    batch_key=("event_id",),
    table_key=("event_id",),
    rows=_rows,
)
