"""Rows of the order database that concern an account → its activity (and the ledger):
a USDT transfer becomes ``FundsTransferred`` and a ledger posting; a KYC row becomes
``KycChanged`` (pre-trade risk gates orders with it)."""

from __future__ import annotations

from typing import Any

from streams.ledger.postings import transfer_posting
from streams.ledger.records import ledger_entries
from topics.contracts import FundsTransferred, KycChanged
from topics.contracts.cdc import KycRow, TransferRow

__all__ = ["kyc_outputs", "transfer_outputs"]


def transfer_outputs(row: TransferRow) -> list[tuple[str, bytes, Any]]:
    """``(topic, key, record)``: the signed transfer for the risk agent, and its legs."""
    amount = row.amount if row.kind == "deposit" else -row.amount
    account = row.account_id
    moved = FundsTransferred(event_id=f"transfer:{row.id}", ts_event=row.created_at,
                             account=account, transfer_id=str(row.id), amount=amount,
                             reference=row.reference, address=row.address)
    posting = transfer_posting(transfer_id=str(row.id), account=account, amount=amount,
                               reference=row.reference)
    out: list[tuple[str, bytes, Any]] = [("accounts.activity", account.encode(), moved)]
    out += [("ledger", e.account.encode(), e)
            for e in ledger_entries(posting, row.created_at, f"transfer:{row.id}")]
    return out


def kyc_outputs(row: KycRow) -> list[tuple[str, bytes, Any]]:
    """The account's KYC record as it now stands; ``version`` (µs of ``updated_at``, moved
    by a trigger on every change) lets risk keep the newest whatever order re-reads come in."""
    version = round(row.updated_at.timestamp() * 1_000_000)
    changed = KycChanged(event_id=f"kyc:{row.id}:{version}", ts_event=row.updated_at,
                         account=row.id, status=row.status, tier=row.tier, version=version)
    return [("accounts.activity", row.id.encode(), changed)]
