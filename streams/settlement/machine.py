"""The acceptance service's per-order state machine: pending → hedging → hedged → booked.

Pure: the venue is passed in, the clock too. :func:`advance` moves one order as far as it can
and returns what to publish; the agent stores the record after each call. Nothing here
depends on having stored a step before taking the next: the venue de-duplicates by the hedge's
client order id (``hedge:<order id>``) and every output id is deterministic, so resuming from
any stored state — or replaying the same order event — hedges once and books once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from streams.ledger.postings import hedge_posting
from streams.ledger.records import ledger_entries
from streams.marketdata.pricing import PricingError
from streams.settlement.booking import option_sale_outputs
from streams.settlement.hedging import hedge_for_option_sale
from streams.settlement.venue import VenueAdapter, VenueError, VenueFill
from topics.contracts import HedgeFill, SettlementResult
from topics.contracts.cdc import OptionOrderEvent

__all__ = ["DONE", "Settlement", "advance", "start"]

DONE = frozenset({"booked", "failed"})
Output = tuple[str, bytes, Any]


@dataclass
class Settlement:
    order_id: str
    account: str
    partition: int
    product: str
    underlying: str
    premium: str
    fee: str
    state: str = "pending"
    attempts: int = 0
    next_at: float = 0.0  # epoch seconds: not before this (retry backoff)
    hedge_symbol: str = ""
    hedge_side: str = ""
    hedge_qty: str = "0"
    reason: str | None = None
    fill: dict[str, str] | None = None
    expiry: str = ""  # ISO, of the option sold: the expiry timer settles it

    @property
    def hedge_id(self) -> str:
        return f"hedge:{self.order_id}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Settlement:
        return cls(**data)


def start(event: OptionOrderEvent, partition: int) -> Settlement:
    """A new settlement for an order that became ``open`` (bought and paid)."""
    record = Settlement(order_id=str(event.order_id), account=event.account,
                        partition=partition, product=event.product,
                        underlying=event.underlying, premium=str(event.premium),
                        fee=str(event.fee), expiry=event.expiry.isoformat())
    try:
        hedge = hedge_for_option_sale(
            underlying=event.underlying, option_type=event.option_type, strike=event.strike,
            expiry=event.expiry, underlying_price=event.underlying_price, iv=event.iv,
            contracts=event.contracts, contract_size=event.contract_size, at=event.ordered_at)
    except (PricingError, KeyError) as exc:
        record.state, record.reason = "failed", f"no hedge: {exc}"
        return record
    record.hedge_symbol, record.hedge_side, record.hedge_qty = (hedge.symbol, hedge.side,
                                                                str(hedge.qty))
    return record


def _now(now_s: float) -> datetime:
    return datetime.fromtimestamp(now_s, UTC)


def _result(s: Settlement, now: datetime) -> Output:
    fill = s.fill or {}
    return ("settlement.results", s.order_id.encode(), SettlementResult(
        event_id=f"settlement:{s.order_id}:{s.state}", ts_event=now,
        causation_id=f"option-order:{s.order_id}:open", order_id=s.order_id,
        account=s.account, state=s.state, product=s.product, underlying=s.underlying,
        premium=Decimal(s.premium), fee=Decimal(s.fee), hedge_id=s.hedge_id,
        hedge_symbol=s.hedge_symbol or None, hedge_side=s.hedge_side or None,
        hedge_qty=Decimal(s.hedge_qty), hedge_price=Decimal(fill["avg_price"]) if fill
        else None, attempts=s.attempts, reason=s.reason))


def _booking(s: Settlement, now: datetime) -> list[Output]:
    out = option_sale_outputs(order_id=s.order_id, account=s.account, product=s.product,
                              premium=Decimal(s.premium), fee=Decimal(s.fee), ts=now)
    if not s.fill:
        return out  # nothing to hedge: the sale alone
    f = s.fill
    fill = VenueFill(f["venue"], s.hedge_id, s.hedge_symbol, s.hedge_side, Decimal(f["qty"]),
                     Decimal(f["avg_price"]), Decimal(f["reference_price"]), Decimal(f["fee"]))
    out.append(("settlement.hedges", s.underlying.encode(), HedgeFill(
        event_id=f"hedge-fill:{s.hedge_id}", ts_event=now, causation_id=s.order_id,
        hedge_id=s.hedge_id, order_id=s.order_id, venue=fill.venue, symbol=fill.symbol,
        underlying=s.underlying, side=fill.side, qty=fill.qty, avg_price=fill.avg_price,
        reference_price=fill.reference_price, slippage_bps=fill.slippage_bps, fee=fill.fee)))
    posting = hedge_posting(hedge_id=s.hedge_id, venue=fill.venue, symbol=fill.symbol,
                            side=fill.side, qty=fill.qty, price=fill.avg_price, fee=fill.fee)
    out += [("ledger", e.account.encode(), e)
            for e in ledger_entries(posting, now, f"settlement:{s.order_id}")]
    return out


def advance(s: Settlement, venue: VenueAdapter, now_s: float, *, retry_initial_s: float,
            retry_max_s: float) -> list[Output]:
    """Move ``s`` forward until booked, failed, or waiting for a retry; what to publish."""
    out: list[Output] = []
    now = _now(now_s)
    if s.state in DONE:
        return [_result(s, now)] if s.state == "failed" else out
    if s.next_at > now_s:
        return out
    if s.state == "pending":
        out.append(_result(s, now))
        s.state = "hedging"
        out.append(_result(s, now))
    if s.state == "hedging":
        if Decimal(s.hedge_qty) > 0:
            try:
                fill = venue.place_market_order(client_order_id=s.hedge_id,
                                                symbol=s.hedge_symbol, side=s.hedge_side,
                                                qty=Decimal(s.hedge_qty))
            except VenueError as exc:
                s.attempts += 1
                s.reason = str(exc)
                s.next_at = now_s + min(retry_initial_s * 2 ** (s.attempts - 1), retry_max_s)
                return out
            s.fill = {"venue": fill.venue, "qty": str(fill.qty),
                      "avg_price": str(fill.avg_price),
                      "reference_price": str(fill.reference_price), "fee": str(fill.fee)}
        s.attempts += 1
        s.state, s.reason = "hedged", None
        out.append(_result(s, now))
    if s.state == "hedged":
        out += _booking(s, now)
        s.state = "booked"
        out.append(_result(s, now))
    return out
