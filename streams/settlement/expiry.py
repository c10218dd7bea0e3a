"""Option expiry, pure: the settlement price is the time-weighted average of the index over
the window before expiry (30 minutes by default), and every open position is cash-settled in
USDT at it. The result is a function of (underlying, expiry, index samples, positions) alone
and every id is derived from (underlying, expiry, account, instrument), so running an expiry
again over the same inputs produces the same records and the ledger changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from streams.ledger.fees import to_usdt
from streams.ledger.postings import Posting, expiry_posting

__all__ = ["ExpiryError", "ExpiryPosition", "Payout", "due_expiries", "settle_positions", "twap"]

_PRICE = Decimal("0.00000001")


class ExpiryError(ValueError):
    """An expiry that cannot be settled (no index in the window)."""


def twap(samples: Sequence[tuple[datetime, Decimal]], start: datetime,
         end: datetime) -> tuple[Decimal, int]:
    """Time-weighted average of a step function over ``[start, end]``: each sample holds until
    the next. The last sample before ``start`` covers the window's beginning; with none, the
    window starts at its first sample. Returns (price on the 1e-8 grid, samples used)."""
    ordered = sorted(samples)
    before = [s for s in ordered if s[0] <= start]
    inside = [s for s in ordered if start < s[0] <= end]
    steps = ([(start, before[-1][1])] if before else []) + inside
    if not steps:
        raise ExpiryError(f"no index price in the window {start.isoformat()} .. "
                          f"{end.isoformat()}")
    total, weighted = Decimal(0), Decimal(0)
    for (at, price), nxt in zip(steps, [*steps[1:], (end, None)], strict=True):
        seconds = Decimal(str((nxt[0] - at).total_seconds()))
        weighted += price * seconds
        total += seconds
    price = weighted / total if total > 0 else steps[-1][1]
    return price.quantize(_PRICE, rounding=ROUND_HALF_UP), len(steps)


@dataclass(frozen=True, slots=True)
class ExpiryPosition:
    account: str
    symbol: str
    qty: Decimal  # signed
    strike: Decimal
    right: str  # call | put
    contract_size: Decimal
    counterparty: str  # house:clearing (exchange positions) or house:options (sold by us)


@dataclass(frozen=True, slots=True)
class Payout:
    position: ExpiryPosition
    amount: Decimal  # signed: what the holder receives
    posting: Posting


def settle_positions(underlying: str, expiry: datetime, price: Decimal,
                     positions: Sequence[ExpiryPosition]) -> list[Payout]:
    """Cash-settle each position at ``price``: qty x contract size x intrinsic value."""
    label = expiry.strftime("%Y%m%dT%H%MZ")
    out = []
    for pos in sorted(positions, key=lambda p: (p.account, p.symbol)):
        if pos.right not in ("call", "put"):
            raise ExpiryError(f"{pos.symbol}: unknown option right {pos.right!r}")
        intrinsic = (max(price - pos.strike, Decimal(0)) if pos.right == "call"
                     else max(pos.strike - price, Decimal(0)))
        amount = to_usdt(pos.qty * pos.contract_size * intrinsic)
        posting = expiry_posting(underlying=underlying, expiry=label, account=pos.account,
                                 symbol=pos.symbol, payout=amount,
                                 counterparty=pos.counterparty)
        out.append(Payout(pos, amount, posting))
    return out


def window(expiry: datetime, seconds: int) -> tuple[datetime, datetime]:
    return expiry - timedelta(seconds=seconds), expiry


def due_expiries(candidates: set[tuple[str, datetime]], done: set[tuple[str, datetime]],
                 now: datetime, horizon: timedelta = timedelta(days=1)
                 ) -> list[tuple[str, datetime]]:
    """The (underlying, expiry) pairs that passed within ``horizon`` and are not ``done``:
    older ones are left to the operator (``strikeflow settlement expire``)."""
    return sorted(c for c in candidates if now - horizon < c[1] <= now and c not in done)
