"""Builders shared by the market-data unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from topics.contracts import L2Update

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

Levels = list[tuple[str, str]]


def l2(venue: str, seq: int, seconds: float, bids: Levels = (), asks: Levels = (),  # type: ignore[assignment]
       snapshot: bool = False, symbol: str = "BTC-USDT") -> L2Update:
    return L2Update(
        event_id=f"{venue}:{symbol}:l2:{seq}:{seconds}", ts_event=T0 + timedelta(seconds=seconds),
        venue=venue, symbol=symbol, seq=seq, snapshot=snapshot,
        bids=[(Decimal(p), Decimal(q)) for p, q in bids],
        asks=[(Decimal(p), Decimal(q)) for p, q in asks])


def snap(venue: str, seq: int, seconds: float, mid: str, half: str = "0.5", size: str = "1",
         symbol: str = "BTC-USDT") -> L2Update:
    """A two-level snapshot centred on ``mid``."""
    m, h = Decimal(mid), Decimal(half)
    return l2(venue, seq, seconds, [(str(m - h), size), (str(m - 2 * h), size)],
              [(str(m + h), size), (str(m + 2 * h), size)], snapshot=True, symbol=symbol)
