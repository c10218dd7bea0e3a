"""Booking a simplified option the house sold: the ledger posting, and the same payment as
activity for the risk agent (so the account's cash there matches its ledger balance)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from streams.ledger.postings import option_sale_posting
from streams.ledger.records import ledger_entries
from topics.contracts import PremiumPaid

__all__ = ["option_sale_outputs"]


def option_sale_outputs(*, order_id: str, account: str, product: str, premium: Decimal,
                        fee: Decimal, ts: datetime) -> list[tuple[str, bytes, Any]]:
    """``(topic, key, record)``: the posting's legs on ``ledger``, the payment on
    ``accounts.activity``; ids from the order id, so a re-booking re-emits the same."""
    posting = option_sale_posting(order_id=order_id, account=account, product=product,
                                  premium=premium, fee=fee)
    out: list[tuple[str, bytes, Any]] = [
        ("ledger", e.account.encode(), e)
        for e in ledger_entries(posting, ts, f"settlement:{order_id}")]
    out.append(("accounts.activity", account.encode(), PremiumPaid(
        event_id=posting.posting_id, ts_event=ts, causation_id=f"settlement:{order_id}",
        account=account, order_id=order_id, product=product, amount=-(premium + fee))))
    return out
