"""Between the topics' contracts and compliance's pure domain: pure functions, no Faust.

* :func:`group_of` / :func:`relations_for` — who is related to whom: the configured groups
  (one owner, household or firm), and sub-accounts ``<master>:<sub>`` of one master, which a
  venue opens for one customer (their trades with each other move nothing between owners);
* :func:`transfer_of` / :func:`trade_of` — the screener's inputs from ``FundsTransferred``
  and ``Trade``, at the venue time the agent read them at (broker log-append time);
* :func:`case_event` — a :class:`~streams.compliance.aml.Case` as the ``ComplianceCase`` of
  ``compliance.cases``, whose ``event_id`` is the case id (the same on every replay).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

from streams.compliance.aml import Case, Trade, Transfer
from topics.contracts import FundsTransferred
from topics.contracts import Trade as TradeEvent
from topics.contracts.compliance import CaseEvidence, ComplianceCase

__all__ = ["case_event", "group_of", "relations_for", "trade_of", "transfer_of"]


def group_of(account: str, related: Mapping[str, str]) -> str | None:
    """The account's group: the configured one, else ``sub:<master>`` for a sub-account
    ``<master>:<sub>`` (house accounts ``house:*`` are the venue's own, not a customer's)."""
    group = related.get(account)
    if group is not None:
        return group
    master, sep, _ = account.partition(":")
    if sep and master and master != "house":
        return f"sub:{master}"
    return None


def relations_for(accounts: tuple[str, ...], related: Mapping[str, str]) -> dict[str, str]:
    """The relation map the screener needs for these accounts (only the grouped ones)."""
    out: dict[str, str] = {}
    for account in accounts:
        group = group_of(account, related)
        if group is not None:
            out[account] = group
    return out


def _ms(ts_ns: int) -> int:
    return ts_ns // 1_000_000


def transfer_of(event: FundsTransferred, venue_ns: int) -> Transfer:
    """The screener's transfer: signed amount → direction, at the venue's time."""
    return Transfer.from_signed(event.transfer_id or event.event_id, event.account,
                                event.amount, _ms(venue_ns), event.address)


def trade_of(event: TradeEvent, venue_ns: int) -> Trade:
    """The screener's trade: buyer and seller from the maker/taker view."""
    return Trade.from_aggressor(event.trade_id, event.symbol, event.price, event.qty,
                                event.aggressor_side, event.maker_account,
                                event.taker_account, _ms(venue_ns))


def case_event(case: Case, source: Literal["transfers", "trades"],
               causation_id: str | None = None) -> ComplianceCase:
    """The case on ``compliance.cases``; ``ts_event`` is when its evidence completed."""
    return ComplianceCase(
        event_id=case.case_id, ts_event=datetime.fromtimestamp(case.opened_ts_ms / 1000, UTC),
        causation_id=causation_id, case_id=case.case_id, rule=case.rule,  # type: ignore[arg-type]
        code=int(case.code), account=case.account, accounts=list(case.accounts),
        severity=case.severity, summary=case.summary[:1000], source=source,
        evidence=[CaseEvidence(kind=e.kind, event_id=e.event_id, account=e.account,
                               side=e.side, amount=e.amount, ts_ms=e.ts_ms,  # type: ignore[arg-type]
                               symbol=e.symbol, price=e.price, qty=e.qty,
                               counterparty=e.counterparty, address=e.address)
                  for e in case.evidence])
