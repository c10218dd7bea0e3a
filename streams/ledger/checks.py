"""The ledger's proofs: every posting balances, the whole ledger sums to zero, every
account's balance is the sum of its entries, and clearing is flat once trades are complete."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from streams.ledger.postings import CLEARING

__all__ = ["LedgerCheck", "check_ledger"]


@dataclass
class LedgerCheck:
    entries: int = 0
    duplicates: int = 0
    total: Decimal = Decimal(0)
    balances: dict[str, Decimal] = field(default_factory=dict)
    unbalanced_postings: dict[str, Decimal] = field(default_factory=dict)
    mismatched_accounts: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (self.total == 0 and not self.unbalanced_postings
                and not self.mismatched_accounts)

    def problems(self) -> list[str]:
        out = []
        if self.total != 0:
            out.append(f"entries sum to {self.total}, not 0")
        out += [f"posting {p} sums to {t}" for p, t in self.unbalanced_postings.items()]
        out += [f"account {a}: expected {exp}, ledger says {got}"
                for a, (exp, got) in self.mismatched_accounts.items()]
        return out


def check_ledger(entries: Iterable[tuple[str, str, str, Decimal]],
                 expected_balances: Mapping[str, Decimal] | None = None,
                 clearing_flat: bool = False) -> LedgerCheck:
    """Check ``(entry id, posting id, account, amount)`` rows, counting each entry id once
    (a replayed entry is the same entry). ``expected_balances`` (for example the risk
    agent's cash per account) must equal the ledger's; ``clearing_flat`` also requires the
    clearing account to be at zero (true once every trade's two fills are booked)."""
    seen: set[str] = set()
    check = LedgerCheck()
    per_posting: dict[str, Decimal] = defaultdict(Decimal)
    balances: dict[str, Decimal] = defaultdict(Decimal)
    for entry_id, posting_id, account, amount in entries:
        if entry_id in seen:
            check.duplicates += 1
            continue
        seen.add(entry_id)
        check.entries += 1
        per_posting[posting_id] += amount
        balances[account] += amount
        check.total += amount
    check.balances = dict(balances)
    check.unbalanced_postings = {p: t for p, t in per_posting.items() if t != 0}
    for account, expected in (expected_balances or {}).items():
        got = balances.get(account, Decimal(0))
        if got != expected:
            check.mismatched_accounts[account] = (expected, got)
    if clearing_flat and balances.get(CLEARING, Decimal(0)) != 0:
        check.mismatched_accounts[CLEARING] = (Decimal(0), balances[CLEARING])
    return check
