"""Positions, the USDT ledger, risk alerts and settlement results."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from topics.contracts.base import Event, Money, Symbol

__all__ = ["LedgerEntry", "Position", "RiskAlert", "SettlementResult"]


class LedgerEntry(Event):
    """One leg of a balanced double-entry posting in USDT (all legs of a posting sum to 0)."""

    posting_id: str
    account: str
    amount: Money = Field(description="credit > 0, debit < 0")
    kind: Literal["trade", "fee", "premium", "settlement", "transfer", "hedge", "expiry"]
    reference: str


class Position(Event):
    """The latest position of an account in an instrument (compacted by account|symbol)."""

    account: str
    symbol: Symbol
    qty: Decimal
    avg_price: Money
    realized_pnl: Money
    unrealized_pnl: Money
    mark_price: Money | None = None


class RiskAlert(Event):
    account: str
    kind: Literal["margin_call", "liquidation", "exposure_limit", "stop_loss", "price"]
    level: Literal["info", "warning", "critical"]
    message: str
    margin_ratio: Decimal | None = None


class SettlementResult(Event):
    """The outcome of settling one order: its hedge and its booking."""

    order_id: str
    account: str
    state: Literal["pending", "hedging", "hedged", "booked", "failed"]
    hedge_symbol: Symbol | None = None
    hedge_qty: Decimal | None = None
    hedge_price: Money | None = None
    premium: Money | None = None
