"""Builders shared by the settlement unit tests: an option order event, a fixed book."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from streams.settlement.venue import Book, SimulatedVenue
from topics.contracts.cdc import OptionOrderEvent, option_order_event_id

D = Decimal
ORDERED_AT = datetime(2026, 1, 5, 12, tzinfo=UTC)
NOW_S = ORDERED_AT.timestamp() + 1
EXPIRY = datetime(2026, 1, 9, 8, tzinfo=UTC)
#: BTC-USDT: bids 99990 x 0.5, 99980 x 2; asks 100010 x 0.3, 100020 x 5 (mid 100000)
BOOK: Book = ([(D(99_990), D("0.5")), (D(99_980), D(2))],
              [(D(100_010), D("0.3")), (D(100_020), D(5))])


def option_order(option_type: str = "call", contracts: str = "1", strike: str = "100000",
                 n: int = 1, underlying: str = "BTC") -> OptionOrderEvent:
    order_id = uuid.UUID(int=n)
    premium, fee = D("3000") * D(contracts), D("1.5") * D(contracts)
    letter = "C" if option_type == "call" else "P"
    return OptionOrderEvent(
        event_id=option_order_event_id(order_id, "open"), ts_event=ORDERED_AT,
        order_id=order_id, account="acc-1", client_order_id=f"co-{n}",
        product=f"{underlying}-20260109-{strike}-{letter}", underlying=underlying,
        strike=D(strike), expiry=EXPIRY, option_type=option_type, contract_size=D(1),
        side="buy", contracts=D(contracts), underlying_price=D(100_000), iv=D("0.5"),
        price=D(3000), premium=premium, fee=fee, total=premium + fee, status="open",
        ordered_at=ORDERED_AT, source="stream")


def venue(path: Path, book: Book | None = BOOK, *, failure_rate: float = 0.0,
          fee_rate: str = "0.001", slippage_bps: str = "0") -> SimulatedVenue:
    return SimulatedVenue(path / "venue.sqlite", lambda symbol: book, fee_rate=D(fee_rate),
                          slippage_bps=D(slippage_bps), failure_rate=failure_rate)
