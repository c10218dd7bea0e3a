"""KYC in pre-trade risk: ``KycChanged`` on the account's activity, orders gated by the tier."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from streams.risk import AccountState, RiskCode
from streams.risk.records import CORE
from tests.unit.streams.risk.risk_support import CATALOGUE, NOW, decide, deposit, submit
from topics.contracts import KycChanged

D = Decimal


def kyc(state: AccountState, status: str, tier: int, version: int) -> bool:
    return state.apply(KycChanged(event_id=f"kyc:{state.account}:{version}",
                                  ts_event=NOW + timedelta(microseconds=version),
                                  account=state.account, status=status, tier=tier,
                                  version=version), CATALOGUE)


def funded() -> AccountState:
    state = AccountState("acc-1")
    deposit(state, "10000000")
    return state


def test_no_record_is_not_gated_unless_kyc_is_required() -> None:
    state = funded()
    assert decide(state, submit(qty="5", price="100000")).accepted  # 500,000 USDT
    state.require_kyc = True
    refused = decide(state, submit(qty="0.001", price="100000"))
    assert refused.code is RiskCode.KYC_TRADING_NOT_ALLOWED  # no record = unverified


@pytest.mark.parametrize(("status", "tier", "qty", "code"), [
    ("verified", 1, "0.1", None),  # 10,000 USDT: exactly the tier-1 limit
    ("verified", 1, "0.10001", RiskCode.KYC_ORDER_LIMIT),
    ("verified", 2, "2.5", None),
    ("verified", 2, "2.50001", RiskCode.KYC_ORDER_LIMIT),
    ("verified", 3, "50", None),
    ("verified", 0, "0.001", RiskCode.KYC_TRADING_NOT_ALLOWED),
    ("pending", 3, "0.001", RiskCode.KYC_TRADING_NOT_ALLOWED),
    ("suspended", 3, "0.001", RiskCode.KYC_TRADING_NOT_ALLOWED),
    ("rejected", 2, "0.001", RiskCode.KYC_TRADING_NOT_ALLOWED),
])
def test_the_tier_gates_the_order_notional(status: str, tier: int, qty: str,
                                           code: RiskCode | None) -> None:
    state = funded()
    kyc(state, status, tier, 1)
    decision = decide(state, submit(qty=qty, price="100000"))
    assert decision.code is code


def test_reduce_only_is_never_gated() -> None:
    state = funded()
    kyc(state, "suspended", 0, 1)
    assert decide(state, submit(qty="0.01", reduce_only=True)).code \
        is RiskCode.REDUCE_ONLY_WOULD_INCREASE  # past KYC: refused only for what it is


def test_the_newest_version_wins_and_a_replay_changes_nothing() -> None:
    state = funded()
    assert kyc(state, "verified", 2, 20)
    assert kyc(state, "verified", 1, 10)  # an older row re-read later
    assert state.kyc == ["verified", 2, 20]
    assert not kyc(state, "verified", 2, 20)  # the same id again: applied once
    assert state.kyc == ["verified", 2, 20]


def test_the_kyc_record_survives_the_store() -> None:
    state = funded()
    kyc(state, "verified", 1, 5)
    parts = state.changes()
    again = AccountState.load("acc-1", parts.get)
    assert again is not None and again.kyc == ["verified", 1, 5]
    assert parts[CORE]["kyc"] == ["verified", 1, 5]
    assert decide(again, submit(qty="1", price="100000")).code is RiskCode.KYC_ORDER_LIMIT
