"""Compliance: KYC gates (may this account deposit, withdraw, trade?) and AML screening
(transfers and trades in, numbered cases out), with the 7xxx block of the code table.

Pure domain code (no Faust, Kafka, HTTP or database, never the wall clock): the counter
service and pre-trade risk call the gates with what they already know, and an agent feeds
the :class:`Screener` in venue time, so a replay gives the same answers and the same cases.
"""

from streams.compliance.aml import (
    RULES,
    AmlRules,
    Case,
    Evidence,
    Screener,
    Trade,
    Transfer,
    normalize_address,
)
from streams.compliance.codes import RETIRED, SUBSYSTEM_RANGE, ComplianceCode, describe
from streams.compliance.errors import ComplianceError
from streams.compliance.kyc import (
    DEFAULT_TIER_LIMITS,
    MAX_TIER,
    GateResult,
    KycState,
    KycStatus,
    TierLimits,
    check_deposit,
    check_order,
    check_withdrawal,
    venue_day,
)

__all__ = [
    "DEFAULT_TIER_LIMITS",
    "MAX_TIER",
    "RETIRED",
    "RULES",
    "SUBSYSTEM_RANGE",
    "AmlRules",
    "Case",
    "ComplianceCode",
    "ComplianceError",
    "Evidence",
    "GateResult",
    "KycState",
    "KycStatus",
    "Screener",
    "TierLimits",
    "Trade",
    "Transfer",
    "check_deposit",
    "check_order",
    "check_withdrawal",
    "describe",
    "normalize_address",
    "venue_day",
]
