"""Compliance: an account's KYC record as it changes (on ``accounts.activity``, for pre-trade
risk) and the AML cases screening raises (on ``compliance.cases``, for compliance officers).

A case is an internal record: it is never a notification to the account it is about (telling
a customer they are under AML review is "tipping off", which the law forbids), so it goes to
ClickHouse and the audit index only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from topics.contracts.base import (
    Contract,
    Event,
    Id,
    Money,
    NonNegativeInt64,
    PositiveDecimal,
    Quantity,
    Symbol,
    Text,
)

__all__ = ["CaseEvidence", "ComplianceCase", "KycChanged", "KycStatusName", "Severity"]

AccountId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
KycStatusName = Literal["none", "pending", "verified", "rejected", "suspended"]
Severity = Literal["low", "medium", "high", "critical"]


class KycChanged(Event):
    """The account's KYC record in the order database changed (CDC of ``account_kyc``).
    ``event_id`` is ``kyc:<account>:<updated_at µs>``: a re-read row is the same event, and
    ``version`` (the row's ``updated_at`` in µs) orders changes, so risk keeps the newest."""

    type: Literal["kyc"] = "kyc"
    account: AccountId
    status: KycStatusName
    tier: int = Field(ge=0, le=3)
    version: NonNegativeInt64


class CaseEvidence(Contract):
    """One event a case cites, from ``account``'s side: ``amount`` is the USDT moved
    (transfer amount, or trade notional); ``side`` deposit/withdrawal/buy/sell."""

    kind: Literal["transfer", "trade"]
    event_id: Id
    account: AccountId
    side: Literal["deposit", "withdrawal", "buy", "sell"]
    amount: Money
    ts_ms: NonNegativeInt64
    symbol: Symbol | None = None
    price: PositiveDecimal | None = None
    qty: Quantity | None = None
    counterparty: AccountId | None = None
    address: Text | None = None


class ComplianceCase(Event):
    """An AML case: which rule (its 73xx ``code``), which accounts, how urgent, and the
    evidence. ``event_id`` is the case id (``<rule>:<account>:<first evidence id>``), the same
    on every replay; ``ts_event`` is the venue time of the event that completed the evidence.
    """

    case_id: Id
    rule: Literal["velocity_count", "velocity_outflow", "structuring", "wash_trade",
                  "round_trip", "sanctioned_address"]
    code: int = Field(ge=7300, le=7399)
    account: AccountId
    accounts: list[AccountId] = Field(min_length=1, max_length=16)
    severity: Severity
    summary: Text
    source: Literal["transfers", "trades"]
    evidence: list[CaseEvidence] = Field(min_length=1, max_length=1000)
