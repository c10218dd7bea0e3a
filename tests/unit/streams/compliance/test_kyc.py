"""KYC gates: every status and tier against the documented table, at and over each limit."""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType

import pytest

from streams.compliance import (
    DEFAULT_TIER_LIMITS,
    MAX_TIER,
    ComplianceCode,
    ComplianceError,
    GateResult,
    KycState,
    KycStatus,
    TierLimits,
    check_deposit,
    check_order,
    check_withdrawal,
    describe,
    venue_day,
)

D = Decimal
C = ComplianceCode
OK = None


def kyc(status: str, tier: int = 0) -> KycState:
    return KycState("acc-1", status, tier)


@pytest.mark.parametrize(("status", "tier", "amount", "before", "expected"), [
    # tier 0 (none / pending / verified at 0): up to 1,000 USDT in total
    ("none", 0, "1000", "0", OK),
    ("none", 0, "1000.01", "0", C.DEPOSIT_LIMIT_EXCEEDED),
    ("pending", 0, "500", "500", OK),
    ("pending", 0, "500.01", "500", C.DEPOSIT_LIMIT_EXCEEDED),
    ("verified", 0, "1", "1000", C.DEPOSIT_LIMIT_EXCEEDED),
    # a recorded tier does not count before verification
    ("none", 3, "1000.01", "0", C.DEPOSIT_LIMIT_EXCEEDED),
    ("pending", 2, "5000", "0", C.DEPOSIT_LIMIT_EXCEEDED),
    # verified tiers 1-3: no deposit limit
    ("verified", 1, "1000000", "5000000", OK),
    ("verified", 2, "1000000", "0", OK),
    ("verified", 3, "1000000000", "0", OK),
    # status refusals, whatever the tier
    ("rejected", 0, "1", "0", C.KYC_REJECTED),
    ("rejected", 3, "1", "0", C.KYC_REJECTED),
    ("suspended", 3, "1", "0", C.ACCOUNT_SUSPENDED),
    # malformed amounts
    ("verified", 3, "0", "0", C.INVALID_AMOUNT),
    ("verified", 3, "-1", "0", C.INVALID_AMOUNT),
    ("verified", 3, "NaN", "0", C.INVALID_AMOUNT),
    ("verified", 3, "Infinity", "0", C.INVALID_AMOUNT),
    ("verified", 3, "1", "-0.01", C.INVALID_AMOUNT),
])
def test_check_deposit(status: str, tier: int, amount: str, before: str,
                       expected: ComplianceCode | None) -> None:
    result = check_deposit(kyc(status, tier), D(amount), D(before))
    assert result.allowed is (expected is None)
    assert result.code == expected


@pytest.mark.parametrize(("status", "tier", "amount", "today", "expected"), [
    ("none", 0, "1", "0", C.KYC_REQUIRED),
    ("pending", 0, "1", "0", C.KYC_PENDING),
    ("pending", 3, "1", "0", C.KYC_PENDING),
    ("verified", 0, "1", "0", C.WITHDRAWAL_NOT_ALLOWED),
    ("verified", 1, "2000", "0", OK),
    ("verified", 1, "2000.01", "0", C.DAILY_WITHDRAWAL_LIMIT_EXCEEDED),
    ("verified", 1, "1000", "1000", OK),
    ("verified", 1, "1000", "1000.01", C.DAILY_WITHDRAWAL_LIMIT_EXCEEDED),
    ("verified", 1, "0.01", "2000", C.DAILY_WITHDRAWAL_LIMIT_EXCEEDED),
    ("verified", 2, "50000", "0", OK),
    ("verified", 2, "50000.01", "0", C.DAILY_WITHDRAWAL_LIMIT_EXCEEDED),
    ("verified", 2, "25000", "25000", OK),
    ("verified", 3, "1000000000", "1000000000", OK),
    ("rejected", 3, "1", "0", C.KYC_REJECTED),
    ("suspended", 3, "1", "0", C.ACCOUNT_SUSPENDED),
    ("verified", 3, "0", "0", C.INVALID_AMOUNT),
    ("verified", 3, "-5", "0", C.INVALID_AMOUNT),
    ("verified", 3, "5", "-1", C.INVALID_AMOUNT),
    ("verified", 3, "5", "NaN", C.INVALID_AMOUNT),
])
def test_check_withdrawal(status: str, tier: int, amount: str, today: str,
                          expected: ComplianceCode | None) -> None:
    result = check_withdrawal(kyc(status, tier), D(amount), D(today))
    assert result.allowed is (expected is None)
    assert result.code == expected


@pytest.mark.parametrize(("status", "tier", "notional", "expected"), [
    ("none", 0, "1", C.KYC_REQUIRED),
    ("none", 2, "1", C.KYC_REQUIRED),
    ("pending", 1, "1", C.KYC_PENDING),
    ("verified", 0, "1", C.TRADING_NOT_ALLOWED),
    ("verified", 1, "10000", OK),
    ("verified", 1, "10000.01", C.ORDER_NOTIONAL_LIMIT_EXCEEDED),
    ("verified", 2, "250000", OK),
    ("verified", 2, "250000.01", C.ORDER_NOTIONAL_LIMIT_EXCEEDED),
    ("verified", 3, "100000000", OK),
    ("rejected", 1, "1", C.KYC_REJECTED),
    ("suspended", 2, "1", C.ACCOUNT_SUSPENDED),
    ("verified", 1, "0", C.INVALID_AMOUNT),
    ("verified", 1, "-Infinity", C.INVALID_AMOUNT),
])
def test_check_order(status: str, tier: int, notional: str,
                     expected: ComplianceCode | None) -> None:
    result = check_order(kyc(status, tier), D(notional))
    assert result.allowed is (expected is None)
    assert result.code == expected


@pytest.mark.parametrize("gate", [
    lambda k: check_deposit(k, 1.0),  # type: ignore[arg-type]
    lambda k: check_withdrawal(k, 1, D(0)),  # type: ignore[arg-type]
    lambda k: check_withdrawal(k, D(1), 0.0),  # type: ignore[arg-type]
    lambda k: check_order(k, 5),  # type: ignore[arg-type]
])
def test_money_that_is_not_a_decimal_is_refused(gate) -> None:  # type: ignore[no-untyped-def]
    assert gate(kyc("verified", 3)).code == C.INVALID_AMOUNT


def test_a_table_that_forbids_what_tier_0_would_do_names_the_next_step() -> None:
    closed = TierLimits(may_deposit=False, may_withdraw=False, may_trade=False,
                        daily_withdrawal_limit_usdt=None, max_order_notional_usdt=None)
    table = {0: closed, 1: DEFAULT_TIER_LIMITS[1]}
    assert check_deposit(kyc("none"), D(1), limits=table).code == C.KYC_REQUIRED
    assert check_deposit(kyc("pending"), D(1), limits=table).code == C.KYC_PENDING
    assert check_deposit(kyc("verified"), D(1), limits=table).code == C.DEPOSIT_NOT_ALLOWED
    assert check_order(kyc("verified", 2), D(1), limits=table).code == C.UNKNOWN_TIER


def test_the_default_table_never_gives_a_higher_tier_fewer_rights() -> None:
    assert sorted(DEFAULT_TIER_LIMITS) == list(range(MAX_TIER + 1))

    def more(a: Decimal | None, b: Decimal | None) -> bool:  # None = unlimited
        return a is None or (b is not None and a >= b)

    for tier in range(1, MAX_TIER + 1):
        hi, lo = DEFAULT_TIER_LIMITS[tier], DEFAULT_TIER_LIMITS[tier - 1]
        assert hi.may_deposit >= lo.may_deposit
        assert hi.may_withdraw >= lo.may_withdraw
        assert hi.may_trade >= lo.may_trade
        assert more(hi.daily_withdrawal_limit_usdt, lo.daily_withdrawal_limit_usdt)
        assert more(hi.max_order_notional_usdt, lo.max_order_notional_usdt)
        assert more(hi.deposit_limit_usdt, lo.deposit_limit_usdt)
    assert isinstance(DEFAULT_TIER_LIMITS, MappingProxyType)


def test_tier_1_daily_withdrawal_stays_under_the_reporting_threshold() -> None:
    limit = DEFAULT_TIER_LIMITS[1].daily_withdrawal_limit_usdt
    assert limit is not None and limit < D(10_000)


@pytest.mark.parametrize(("status", "tier"), [
    ("unknown", 0), ("verified", 4), ("verified", -1), ("verified", True), ("verified", "1"),
])
def test_kyc_state_refuses_what_is_not_a_status_or_tier(status: str, tier: int) -> None:
    with pytest.raises(ComplianceError):
        KycState("acc-1", status, tier)


def test_kyc_state_takes_plain_strings_and_round_trips() -> None:
    state = KycState("acc-1", "verified", 2)
    assert state.status is KycStatus.VERIFIED
    assert state.effective_tier == 2
    assert KycState.from_record(state.to_record()) == state
    assert state.to_record() == {"account": "acc-1", "status": "verified", "tier": 2}
    assert KycState("acc-1", "pending", 3).effective_tier == 0
    assert KycState("acc-1", "suspended", 3).effective_tier is None
    with pytest.raises(ComplianceError):
        KycState("", "none", 0)


@pytest.mark.parametrize("bad", [1.0, 5, D("NaN"), D(-1)])
def test_tier_limits_are_exact_and_non_negative(bad: object) -> None:
    with pytest.raises(ComplianceError):
        TierLimits(may_deposit=True, may_withdraw=True, may_trade=True,
                   daily_withdrawal_limit_usdt=bad,  # type: ignore[arg-type]
                   max_order_notional_usdt=None)


def test_gate_result_reads_as_a_bool_and_says_why() -> None:
    ok = check_order(kyc("verified", 1), D(1))
    assert ok and ok == GateResult.ok() and ok.code is None
    refused = check_order(kyc("verified", 1), D(20_000))
    assert not refused
    assert refused.reason.startswith(describe(C.ORDER_NOTIONAL_LIMIT_EXCEEDED))
    assert "20000 > 10000" in refused.reason


def test_venue_day_is_the_utc_day_of_venue_time() -> None:
    assert venue_day(0) == 0
    assert venue_day(86_399_999) == 0
    assert venue_day(86_400_000) == 1
