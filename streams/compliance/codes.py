"""Numbered result codes of compliance (the 7xxx block of the venue's code table).

Why numbers: a refused deposit, withdrawal or order travels to the client, to logs and to
dashboards, and an AML case to the compliance officers' queue; a stable integer outlives any
renaming. The venue's blocks are matching 1xxx, the counter service 4xxx, pre-trade risk 5xxx;
compliance takes 7xxx. Inside the block:

* 7001-7099 — the account's KYC status refuses the action, whatever its tier;
* 7101-7199 — the account's KYC tier refuses the action (not allowed, or over a limit);
* 7201-7299 — the request itself is malformed (nothing was looked up);
* 7301-7399 — AML screening rules: the code a :class:`~streams.compliance.aml.Case` carries.

A number, once published, keeps its meaning forever: to drop a code, move its number to
:data:`RETIRED` and never hand it out again (a unit test enforces both rules).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["RETIRED", "SUBSYSTEM_RANGE", "ComplianceCode", "describe"]

#: Inclusive range of numbers this subsystem may use.
SUBSYSTEM_RANGE = range(7000, 8000)

#: Numbers once published and never to be reused (none retired yet).
RETIRED: frozenset[int] = frozenset()


class ComplianceCode(IntEnum):
    """Why compliance refused an action, or which AML rule opened a case."""

    # -- 7001-7099: KYC status ------------------------------------------------------------
    KYC_REQUIRED = 7001
    KYC_PENDING = 7002
    KYC_REJECTED = 7003
    ACCOUNT_SUSPENDED = 7004

    # -- 7101-7199: KYC tier --------------------------------------------------------------
    DEPOSIT_NOT_ALLOWED = 7101
    DEPOSIT_LIMIT_EXCEEDED = 7102
    WITHDRAWAL_NOT_ALLOWED = 7103
    DAILY_WITHDRAWAL_LIMIT_EXCEEDED = 7104
    TRADING_NOT_ALLOWED = 7105
    ORDER_NOTIONAL_LIMIT_EXCEEDED = 7106

    # -- 7201-7299: malformed request -----------------------------------------------------
    INVALID_AMOUNT = 7201
    UNKNOWN_TIER = 7202

    # -- 7301-7399: AML rules (cases, not refusals) ---------------------------------------
    AML_VELOCITY_COUNT = 7301
    AML_VELOCITY_OUTFLOW = 7302
    AML_STRUCTURING = 7303
    AML_WASH_TRADE = 7304
    AML_ROUND_TRIP = 7305
    AML_SANCTIONED_ADDRESS = 7306


_DESCRIPTIONS: dict[ComplianceCode, str] = {
    ComplianceCode.KYC_REQUIRED: "identity not verified yet: start KYC to do this",
    ComplianceCode.KYC_PENDING: "identity verification in progress: not allowed until verified",
    ComplianceCode.KYC_REJECTED: "identity verification was rejected",
    ComplianceCode.ACCOUNT_SUSPENDED: "account suspended by compliance",
    ComplianceCode.DEPOSIT_NOT_ALLOWED: "the account's KYC tier does not allow deposits",
    ComplianceCode.DEPOSIT_LIMIT_EXCEEDED: "deposit would exceed the KYC tier's deposit limit",
    ComplianceCode.WITHDRAWAL_NOT_ALLOWED: "the account's KYC tier does not allow withdrawals",
    ComplianceCode.DAILY_WITHDRAWAL_LIMIT_EXCEEDED:
        "withdrawal would exceed the KYC tier's daily withdrawal limit",
    ComplianceCode.TRADING_NOT_ALLOWED: "the account's KYC tier does not allow trading",
    ComplianceCode.ORDER_NOTIONAL_LIMIT_EXCEEDED:
        "order notional above the KYC tier's maximum order notional",
    ComplianceCode.INVALID_AMOUNT: "amount must be a finite Decimal (> 0; totals >= 0)",
    ComplianceCode.UNKNOWN_TIER: "the tier table has no row for the account's tier",
    ComplianceCode.AML_VELOCITY_COUNT: "too many transfers of one account within the window",
    ComplianceCode.AML_VELOCITY_OUTFLOW: "too much USDT withdrawn by one account in the window",
    ComplianceCode.AML_STRUCTURING:
        "several transfers each just under the reporting threshold within the window",
    ComplianceCode.AML_WASH_TRADE: "buyer and seller are the same or related accounts",
    ComplianceCode.AML_ROUND_TRIP:
        "bought and sold back (or the reverse) with related accounts at about the same price",
    ComplianceCode.AML_SANCTIONED_ADDRESS: "transfer to or from a sanctioned address",
}


def describe(code: int) -> str:
    """Human text for a code (for logs and dashboards; clients key on the number)."""
    try:
        return _DESCRIPTIONS[ComplianceCode(code)]
    except ValueError:
        return f"unknown code {code}"
