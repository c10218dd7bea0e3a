"""A per-account statement: ledger entries with a running balance, positions and PnL."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

from analytics.reports.model import Fetch, Report, Section, quote

__all__ = ["statement"]

_ACCOUNT = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")  # the contracts' account id


def _ts(day: date) -> str:
    return f"toDateTime64({quote(day.isoformat() + ' 00:00:00')}, 6, 'UTC')"


def statement(fetch: Fetch, account: str, start: date | None, end: date,
              db: str = "strikeflow") -> Report:
    """``start`` and ``end`` are inclusive UTC days; no ``start`` means from the first entry.
    Positions and PnL are the latest known (the ``positions`` topic keeps no history)."""
    if not _ACCOUNT.match(account):
        raise ValueError(f"not an account id: {account!r}")
    if start is not None and start > end:
        raise ValueError(f"--from {start} is after --to {end}")
    a, hi = quote(account), _ts(end + timedelta(days=1))
    lo = _ts(start) if start else _ts(date(1970, 1, 1))
    opening = fetch(f"SELECT sum(amount) AS opening FROM {db}.ledger FINAL "
                    f"WHERE account = {a} AND ts_event < {lo}").rows
    opening_balance = Decimal(opening[0][0]) if opening and opening[0][0] is not None \
        else Decimal(0)
    entries = Section.of("Ledger entries", fetch(
        f"SELECT ts_event AS time, kind, ifNull(toString(symbol), '') AS symbol, reference, "
        f"amount, toDecimal128({quote(str(opening_balance))}, 18) + sum(amount) OVER "
        f"(ORDER BY ts_event, event_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) "
        f"AS balance FROM {db}.ledger FINAL "
        f"WHERE account = {a} AND ts_event >= {lo} AND ts_event < {hi} "
        f"ORDER BY ts_event, event_id"), note="USDT; credit > 0, debit < 0")
    positions = Section.of("Positions (latest)", fetch(
        f"SELECT symbol, qty, avg_price, mark_price, realized_pnl, unrealized_pnl, "
        f"maintenance_margin, ts_event AS updated FROM {db}.positions FINAL "
        f"WHERE account = {a} ORDER BY symbol"))
    pnl = fetch(f"SELECT realized_pnl, unrealized_pnl, pnl FROM {db}.account_pnl "
                f"WHERE account = {a}").rows
    realized, unrealized, total = pnl[0] if pnl else (Decimal(0),) * 3
    amounts = [r[entries.columns.index("amount")] for r in entries.rows]
    kinds = [r[entries.columns.index("kind")] for r in entries.rows]
    summary = [
        ("opening balance", opening_balance),
        ("credits", sum((x for x in amounts if x > 0), Decimal(0))),
        ("debits", sum((x for x in amounts if x < 0), Decimal(0))),
        ("closing balance", opening_balance + sum(amounts, Decimal(0))),
        ("fees in period", -sum((x for x, k in zip(amounts, kinds, strict=True)
                                 if k == "fee"), Decimal(0))),
        ("realized PnL", realized), ("unrealized PnL", unrealized), ("PnL", total),
    ]
    span = f"{start.isoformat() if start else 'start'} to {end.isoformat()}"
    name = f"statement-{account.replace(':', '_')}-{start or 'start'}-{end}"
    return Report(name, f"Statement of {account}", f"{span} (UTC days, inclusive)", summary,
                  [entries, positions])
