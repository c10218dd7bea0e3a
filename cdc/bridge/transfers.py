"""A USDT transfer row from the order database → account activity and a ledger posting."""

from __future__ import annotations

from typing import Any

from streams.ledger.postings import transfer_posting
from streams.ledger.records import ledger_entries
from topics.contracts import FundsTransferred
from topics.contracts.cdc import TransferRow

__all__ = ["transfer_outputs"]


def transfer_outputs(row: TransferRow) -> list[tuple[str, bytes, Any]]:
    """``(topic, key, record)``: the signed transfer for the risk agent, and its legs."""
    amount = row.amount if row.kind == "deposit" else -row.amount
    account = row.account_id
    moved = FundsTransferred(event_id=f"transfer:{row.id}", ts_event=row.created_at,
                             account=account, transfer_id=str(row.id), amount=amount,
                             reference=row.reference)
    posting = transfer_posting(transfer_id=str(row.id), account=account, amount=amount,
                               reference=row.reference)
    out: list[tuple[str, bytes, Any]] = [("accounts.activity", account.encode(), moved)]
    out += [("ledger", e.account.encode(), e)
            for e in ledger_entries(posting, row.created_at, f"transfer:{row.id}")]
    return out
