"""KYC gates in the counter service, against the real PostgreSQL: refusals carry compliance's
7xxx code and write nothing; accounts without a KYC row keep working unless KYC is required."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from cdc.config import CdcConfig
from cdc.counter import CounterService, OrderRequest
from cdc.domain import CounterError
from infra.settings import Settings
from streams.compliance import ComplianceCode, KycState

pytestmark = pytest.mark.postgres

D = Decimal


def _rows(settings: Settings, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.postgres.dsn()) as conn:
        return conn.execute(sql, args).fetchall()


def _written(settings: Settings, account: str) -> tuple[int, int, Decimal]:
    """(transfers, orders, balance) of the account: what a refusal must leave alone."""
    return _rows(settings, "SELECT (SELECT count(*) FROM transfers WHERE account_id = %s), "
                           "(SELECT count(*) FROM orders WHERE account_id = %s), "
                           "(SELECT balance FROM balances WHERE account_id = %s)",
                 account, account, account)[0]


def _refused(code: ComplianceCode, call: Callable[[], Any]) -> CounterError:
    with pytest.raises(CounterError) as info:
        call()
    assert info.value.code is code, info.value
    assert str(info.value).startswith(f"{int(code)} {code.name}")
    return info.value


def _account(counter: CounterService, status: str | None, tier: int = 0) -> str:
    account = f"kyc-{uuid.uuid4().hex[:10]}"
    counter.open_account(account)
    if status is not None:
        assert counter.set_kyc(account, status, tier)
    return account


def _btc(counter: CounterService) -> str:
    """A BTC option far from expiry (tens of USDT a contract)."""
    return max((p for p in counter.products() if p.underlying == "BTC"),
               key=lambda p: (p.expiry, p.id)).id


def test_unverified_accounts_may_deposit_a_little_and_nothing_else(
        cdc_stack: Settings, counter: CounterService) -> None:
    account = _account(counter, "none")
    counter.deposit(account, D(600), "d1")
    counter.deposit(account, D(400), "d2")  # exactly the 1,000 USDT of tier 0
    before = _written(cdc_stack, account)
    _refused(ComplianceCode.DEPOSIT_LIMIT_EXCEEDED, lambda: counter.deposit(account, D(1), "d3"))
    _refused(ComplianceCode.KYC_REQUIRED, lambda: counter.withdraw(account, D(10), "w1"))
    _refused(ComplianceCode.KYC_REQUIRED,
             lambda: counter.place_order(account, _btc(counter), D(1), "o1"))
    (outcome,) = counter.place_orders([OrderRequest(account, _btc(counter), D(1), "o2")])
    assert isinstance(outcome, CounterError) and outcome.code is ComplianceCode.KYC_REQUIRED
    assert _written(cdc_stack, account) == before  # nothing written by any refusal
    assert counter.deposit(account, D(400), "d2").replayed  # a repeat gets its first answer


def test_tier_one_limits_withdrawals_per_day_and_orders_by_notional(
        cdc_stack: Settings, counter: CounterService) -> None:
    account = _account(counter, "verified", 1)
    counter.deposit(account, D(100_000), "funding")
    counter.withdraw(account, D(1_500), "w1")
    counter.withdraw(account, D(500), "w2")  # 2,000 today: the limit, inclusive
    before = _written(cdc_stack, account)
    _refused(ComplianceCode.DAILY_WITHDRAWAL_LIMIT_EXCEEDED,
             lambda: counter.withdraw(account, D(1), "w3"))
    product = _btc(counter)
    small = counter.place_order(account, product, D(1), "small")
    assert small.total <= 10_000
    err = _refused(ComplianceCode.ORDER_NOTIONAL_LIMIT_EXCEEDED,
                   lambda: counter.place_order(account, product, D(5_000), "big"))
    assert "> 10000" in err.detail
    (placed, big) = counter.place_orders([OrderRequest(account, product, D(1), "small2"),
                                          OrderRequest(account, product, D(5_000), "big2")])
    assert not isinstance(placed, CounterError)
    assert isinstance(big, CounterError)
    assert big.code is ComplianceCode.ORDER_NOTIONAL_LIMIT_EXCEEDED
    transfers, orders, _ = _written(cdc_stack, account)
    assert (transfers, orders) == (before[0], before[1] + 2)  # only the two small orders


@pytest.mark.parametrize(("status", "code"), [("suspended", ComplianceCode.ACCOUNT_SUSPENDED),
                                               ("rejected", ComplianceCode.KYC_REJECTED)])
def test_suspended_and_rejected_accounts_move_nothing(
        cdc_stack: Settings, counter: CounterService, status: str,
        code: ComplianceCode) -> None:
    account = _account(counter, "verified", 3)
    counter.deposit(account, D(50_000), "funding")
    assert counter.set_kyc(account, status, 3)
    assert not counter.set_kyc(account, status, 3)  # unchanged: no new row version
    before = _written(cdc_stack, account)
    _refused(code, lambda: counter.deposit(account, D(10), "d"))
    _refused(code, lambda: counter.withdraw(account, D(10), "w"))
    _refused(code, lambda: counter.place_order(account, _btc(counter), D(1), "o"))
    assert _written(cdc_stack, account) == before
    assert counter.kyc(account) == KycState(account, status, 3)


def test_no_kyc_row_is_not_gated_unless_required(
        cdc_stack: Settings, counter: CounterService, cfg: CdcConfig) -> None:
    account = _account(counter, None)
    counter.deposit(account, D(5_000), "legacy")  # as before KYC existed
    strict = CounterService(counter.pool, counter.prices, counter.terms, require_kyc=True)
    _refused(ComplianceCode.DEPOSIT_LIMIT_EXCEEDED, lambda: strict.deposit(account, D(1), "d"))
    _refused(ComplianceCode.KYC_REQUIRED, lambda: strict.withdraw(account, D(1), "w"))
    _refused(ComplianceCode.KYC_REQUIRED,
             lambda: strict.place_order(account, _btc(counter), D(1), "o"))
    assert counter.withdraw(account, D(1), "w-legacy").balance_after == D(4_999)


def test_the_address_of_a_transfer_is_kept(cdc_stack: Settings, counter: CounterService) -> None:
    account = _account(counter, "verified", 2)
    done = counter.deposit(account, D(100), "with-address", address="0xAbC123")
    assert _rows(cdc_stack, "SELECT address FROM transfers WHERE id = %s",
                 done.transfer_id) == [("0xAbC123",)]
