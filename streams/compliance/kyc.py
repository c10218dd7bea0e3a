"""KYC: each account's verification status and tier, the tier table, and the gates.

Why pure gates: the counter service (deposits, withdrawals) and pre-trade risk (orders) must
refuse the same things for the same reasons, replays must answer as the first time did, and
tests must not need a database. So a gate is a function of the account's KYC record, the
amount and the totals the caller already knows (what was deposited before, what was
withdrawn today) — it never reads a clock or a store. Which venue day "today" is, is the
caller's business (:func:`venue_day` gives the UTC day of a venue timestamp).

How status and tier combine:

* ``rejected`` and ``suspended`` refuse everything (7003, 7004) — funds of such an account
  are returned by an operator, outside these gates;
* ``none`` and ``pending`` get tier 0's rights whatever tier is recorded (a tier is only
  earned by verification); what tier 0 refuses is answered 7001 / 7002 so the client learns
  what to do next;
* ``verified`` gets the rights of its recorded tier; refusals are the 71xx codes.

The default tier table (:data:`DEFAULT_TIER_LIMITS`), all amounts in USDT:

====  ============================  =======  ========  =====  ==============  ==============
tier  meaning                       deposit  withdraw  trade  daily withdraw  max order
====  ============================  =======  ========  =====  ==============  ==============
0     unverified (email only)       ≤ 1,000  no        no     —               —
      in total
1     basic (ID document, selfie)   yes      yes       yes    2,000           10,000
2     full (proof of address,       yes      yes       yes    50,000          250,000
      source of funds)
3     enhanced due diligence        yes      yes       yes    unlimited       unlimited
      (institutions, large traders)
====  ============================  =======  ========  =====  ==============  ==============

Tier 0 lets a new customer fund an account while verification runs, but the money cannot
leave or be traded before identity is known; 1,000 USDT keeps that exposure small. Tier 1's
daily withdrawal stays well under the 10,000 USDT reporting threshold that AML screening
(:mod:`streams.compliance.aml`) watches. Limits are inclusive: exactly the limit is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from streams.compliance.codes import ComplianceCode, describe
from streams.compliance.errors import ComplianceError

__all__ = [
    "DEFAULT_TIER_LIMITS",
    "MAX_TIER",
    "GateResult",
    "KycState",
    "KycStatus",
    "TierLimits",
    "check_deposit",
    "check_order",
    "check_withdrawal",
    "venue_day",
]

MAX_TIER = 3
_DAY_MS = 86_400_000


class KycStatus(StrEnum):
    """Where an account's identity verification stands."""

    NONE = "none"
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


def _limit(value: Decimal | None, name: str) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise ComplianceError(f"{name} must be a finite Decimal >= 0 or None, not {value!r}")


@dataclass(frozen=True, slots=True)
class TierLimits:
    """What one KYC tier may do. ``None`` as a limit means unlimited.

    ``deposit_limit_usdt`` caps the account's deposits in total (lifetime), which only makes
    sense for a tier an account is meant to leave (tier 0); the daily withdrawal limit is
    per venue day; the order limit is per order (price times quantity in USDT).
    """

    may_deposit: bool
    may_withdraw: bool
    may_trade: bool
    daily_withdrawal_limit_usdt: Decimal | None
    max_order_notional_usdt: Decimal | None
    deposit_limit_usdt: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("may_deposit", "may_withdraw", "may_trade"):
            if not isinstance(getattr(self, name), bool):
                raise ComplianceError(f"{name} must be a bool")
        _limit(self.daily_withdrawal_limit_usdt, "daily_withdrawal_limit_usdt")
        _limit(self.max_order_notional_usdt, "max_order_notional_usdt")
        _limit(self.deposit_limit_usdt, "deposit_limit_usdt")


#: The venue's tier table (see the module docstring for why these numbers).
DEFAULT_TIER_LIMITS: Mapping[int, TierLimits] = MappingProxyType({
    0: TierLimits(may_deposit=True, may_withdraw=False, may_trade=False,
                  daily_withdrawal_limit_usdt=Decimal(0), max_order_notional_usdt=Decimal(0),
                  deposit_limit_usdt=Decimal(1_000)),
    1: TierLimits(may_deposit=True, may_withdraw=True, may_trade=True,
                  daily_withdrawal_limit_usdt=Decimal(2_000),
                  max_order_notional_usdt=Decimal(10_000)),
    2: TierLimits(may_deposit=True, may_withdraw=True, may_trade=True,
                  daily_withdrawal_limit_usdt=Decimal(50_000),
                  max_order_notional_usdt=Decimal(250_000)),
    3: TierLimits(may_deposit=True, may_withdraw=True, may_trade=True,
                  daily_withdrawal_limit_usdt=None, max_order_notional_usdt=None),
})


@dataclass(frozen=True, slots=True)
class KycState:
    """One account's KYC record: status and tier (0..3). ``status`` accepts the plain
    strings too and is stored as a :class:`KycStatus`."""

    account: str
    status: KycStatus = KycStatus.NONE
    tier: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.account, str) or not self.account:
            raise ComplianceError("account must be a non-empty str")
        try:
            object.__setattr__(self, "status", KycStatus(self.status))
        except ValueError:
            raise ComplianceError(f"unknown KYC status {self.status!r}") from None
        if type(self.tier) is not int or not 0 <= self.tier <= MAX_TIER:
            raise ComplianceError(f"tier must be an int in 0..{MAX_TIER}, not {self.tier!r}")

    @property
    def effective_tier(self) -> int | None:
        """The tier whose rights apply: the recorded one once verified, 0 before, none
        (``None``) once rejected or suspended."""
        if self.status is KycStatus.VERIFIED:
            return self.tier
        if self.status in (KycStatus.NONE, KycStatus.PENDING):
            return 0
        return None

    def to_record(self) -> dict[str, Any]:
        return {"account": self.account, "status": self.status.value, "tier": self.tier}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> KycState:
        return cls(record["account"], record["status"], record["tier"])


@dataclass(frozen=True, slots=True)
class GateResult:
    """A gate's answer: allowed, or refused with a numbered code and a human reason. Truthy
    when allowed, so ``if not check_order(...)`` reads as it should."""

    allowed: bool
    code: ComplianceCode | None = None
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed

    @classmethod
    def ok(cls) -> GateResult:
        return _OK

    @classmethod
    def refuse(cls, code: ComplianceCode, detail: str = "") -> GateResult:
        text = describe(code)
        return cls(False, code, f"{text} ({detail})" if detail else text)


_OK = GateResult(True)


def venue_day(ts_ms: int) -> int:
    """The UTC day number of a venue timestamp (ms): the key of "withdrawn today"."""
    return ts_ms // _DAY_MS


def _bad_amount(value: object, *, positive: bool) -> bool:
    if not isinstance(value, Decimal) or not value.is_finite():
        return True
    return value <= 0 if positive else value < 0


def _rights(kyc: KycState, limits: Mapping[int, TierLimits]) -> TierLimits | GateResult:
    """The tier row that applies, or the refusal that ends the check first."""
    if kyc.status is KycStatus.REJECTED:
        return GateResult.refuse(ComplianceCode.KYC_REJECTED)
    if kyc.status is KycStatus.SUSPENDED:
        return GateResult.refuse(ComplianceCode.ACCOUNT_SUSPENDED)
    tier = kyc.effective_tier
    row = limits.get(tier) if tier is not None else None
    if row is None:
        return GateResult.refuse(ComplianceCode.UNKNOWN_TIER, f"tier {tier}")
    return row


def _not_allowed(kyc: KycState, tier_code: ComplianceCode, detail: str) -> GateResult:
    """Unverified accounts learn what to do next (verify); verified ones which tier rule."""
    if kyc.status is KycStatus.NONE:
        return GateResult.refuse(ComplianceCode.KYC_REQUIRED, detail)
    if kyc.status is KycStatus.PENDING:
        return GateResult.refuse(ComplianceCode.KYC_PENDING, detail)
    return GateResult.refuse(tier_code, detail)


def check_deposit(kyc: KycState, amount: Decimal, deposited_before: Decimal = Decimal(0),
                  limits: Mapping[int, TierLimits] = DEFAULT_TIER_LIMITS) -> GateResult:
    """May ``kyc``'s account deposit ``amount`` USDT, having deposited ``deposited_before``
    in total? (The total matters only for a tier with a deposit limit, i.e. tier 0.)

    Over the limit is a tier refusal (7102) even for unverified accounts: they may deposit,
    just not that much."""
    if _bad_amount(amount, positive=True) or _bad_amount(deposited_before, positive=False):
        return GateResult.refuse(ComplianceCode.INVALID_AMOUNT)
    row = _rights(kyc, limits)
    if isinstance(row, GateResult):
        return row
    if not row.may_deposit:
        return _not_allowed(kyc, ComplianceCode.DEPOSIT_NOT_ALLOWED, "deposit")
    cap = row.deposit_limit_usdt
    if cap is not None and deposited_before + amount > cap:
        return GateResult.refuse(ComplianceCode.DEPOSIT_LIMIT_EXCEEDED,
                                 f"{deposited_before} + {amount} > {cap}")
    return GateResult.ok()


def check_withdrawal(kyc: KycState, amount: Decimal, withdrawn_today: Decimal,
                     limits: Mapping[int, TierLimits] = DEFAULT_TIER_LIMITS) -> GateResult:
    """May ``kyc``'s account withdraw ``amount`` USDT, having withdrawn ``withdrawn_today``
    on this venue day? (Balance is not compliance's question: the counter service checks it.)
    """
    if _bad_amount(amount, positive=True) or _bad_amount(withdrawn_today, positive=False):
        return GateResult.refuse(ComplianceCode.INVALID_AMOUNT)
    row = _rights(kyc, limits)
    if isinstance(row, GateResult):
        return row
    if not row.may_withdraw:
        return _not_allowed(kyc, ComplianceCode.WITHDRAWAL_NOT_ALLOWED, "withdrawal")
    cap = row.daily_withdrawal_limit_usdt
    if cap is not None and withdrawn_today + amount > cap:
        return GateResult.refuse(ComplianceCode.DAILY_WITHDRAWAL_LIMIT_EXCEEDED,
                                 f"{withdrawn_today} + {amount} > {cap}")
    return GateResult.ok()


def check_order(kyc: KycState, notional: Decimal,
                limits: Mapping[int, TierLimits] = DEFAULT_TIER_LIMITS) -> GateResult:
    """May ``kyc``'s account place an order of ``notional`` USDT (price times quantity; the
    premium for an option)?"""
    if _bad_amount(notional, positive=True):
        return GateResult.refuse(ComplianceCode.INVALID_AMOUNT)
    row = _rights(kyc, limits)
    if isinstance(row, GateResult):
        return row
    if not row.may_trade:
        return _not_allowed(kyc, ComplianceCode.TRADING_NOT_ALLOWED, "order")
    cap = row.max_order_notional_usdt
    if cap is not None and notional > cap:
        return GateResult.refuse(ComplianceCode.ORDER_NOTIONAL_LIMIT_EXCEEDED,
                                 f"{notional} > {cap}")
    return GateResult.ok()
