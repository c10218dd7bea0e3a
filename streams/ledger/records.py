"""Postings as the ``ledger`` topic's records (one :class:`LedgerEntry` per leg)."""

from __future__ import annotations

from datetime import datetime

from streams.ledger.postings import Posting
from topics.contracts import LedgerEntry

__all__ = ["ledger_entries"]


def ledger_entries(posting: Posting, ts_event: datetime,
                   causation_id: str | None = None) -> list[LedgerEntry]:
    return [LedgerEntry(event_id=entry_id, ts_event=ts_event, causation_id=causation_id,
                        posting_id=posting.posting_id, account=leg.account, amount=leg.amount,
                        kind=leg.kind, reference=posting.reference, symbol=leg.symbol)
            for entry_id, leg in posting.entries()]
