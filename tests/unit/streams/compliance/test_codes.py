"""The compliance block of the code table: numbered, in range, never reused."""

from __future__ import annotations

from streams.compliance import RETIRED, SUBSYSTEM_RANGE, ComplianceCode, describe
from streams.compliance.aml import RULES


def test_codes_are_unique_and_in_the_compliance_block() -> None:
    values = [c.value for c in ComplianceCode]
    assert len(values) == len(set(values))
    assert all(v in SUBSYSTEM_RANGE for v in values)
    assert range(7000, 8000) == SUBSYSTEM_RANGE


def test_retired_numbers_are_never_handed_out_again() -> None:
    assert not RETIRED & {c.value for c in ComplianceCode}
    assert all(n in SUBSYSTEM_RANGE for n in RETIRED)


def test_every_code_is_described() -> None:
    for code in ComplianceCode:
        assert describe(code) != f"unknown code {code.value}"
    assert describe(7999) == "unknown code 7999"


def test_every_aml_rule_has_its_own_code_in_the_73xx_range() -> None:
    codes = [code for code, _ in RULES.values()]
    assert len(codes) == len(set(codes))
    assert all(7301 <= c <= 7399 for c in codes)


def test_published_numbers_keep_their_meaning() -> None:
    # Clients and dashboards key on these numbers: changing one is a breaking change.
    assert ComplianceCode.KYC_REQUIRED == 7001
    assert ComplianceCode.ACCOUNT_SUSPENDED == 7004
    assert ComplianceCode.DAILY_WITHDRAWAL_LIMIT_EXCEEDED == 7104
    assert ComplianceCode.ORDER_NOTIONAL_LIMIT_EXCEEDED == 7106
    assert ComplianceCode.INVALID_AMOUNT == 7201
    assert ComplianceCode.AML_SANCTIONED_ADDRESS == 7306
