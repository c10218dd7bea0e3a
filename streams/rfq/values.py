"""The values of a block RFQ: its legs, the makers' quotes and the block trade an accept makes.

Sides are plain strings so records and events stay JSON as they are: a leg's side (and the
taker's side of the whole structure) is ``buy``/``sell``, a maker quotes the ``bid`` or the
``ask`` of the structure. The legs are written the way a *buyer* of the structure trades
them; a taker who sells the structure trades every leg the other way. Prices are Decimal USDT
per unit of ``amount``, quantities Decimal: never float.

Values do not validate on construction: the state machine refuses bad input with an
:class:`~streams.rfq.codes.RfqCode` (bad input never raises), and ``from_record`` trusts what
the state itself wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = [
    "QUOTE_SIDES",
    "TAKER_SIDES",
    "BlockTrade",
    "Leg",
    "LegFill",
    "Quote",
    "leg_sign",
    "opposite",
    "quote_side_for",
    "taker_side_of",
]

TAKER_SIDES = frozenset({"buy", "sell"})
QUOTE_SIDES = frozenset({"bid", "ask"})


def opposite(side: str) -> str:
    return "sell" if side == "buy" else "buy"


def leg_sign(side: str) -> int:
    """+1 for a leg the structure's buyer buys (it costs), -1 for one it sells."""
    return 1 if side == "buy" else -1


def quote_side_for(taker_side: str) -> str:
    """The quote side a taker trades against: a buyer lifts asks, a seller hits bids."""
    return "ask" if taker_side == "buy" else "bid"


def taker_side_of(quote_side: str) -> str:
    return "buy" if quote_side == "ask" else "sell"


@dataclass(frozen=True, slots=True)
class Leg:
    """One instrument of the structure, as its buyer trades it, ``ratio`` units per unit."""

    symbol: str
    side: str
    ratio: int = 1

    def to_record(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "side": self.side, "ratio": self.ratio}

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Leg:
        return cls(data["symbol"], data["side"], data["ratio"])


@dataclass(frozen=True, slots=True)
class Quote:
    """A maker's firm price for the whole structure, good while ``now < valid_until_ms``.

    ``seq`` is the RFQ event sequence number that created it: among equal prices the lower
    ``seq`` (the earlier quote) wins. A replacement is a new quote with a new id and ``seq``.
    """

    quote_id: str
    maker: str
    side: str  # bid | ask
    price: Decimal  # net USDT per unit of the structure; may be < 0 for a multi-leg one
    amount: Decimal
    created_ms: int
    valid_until_ms: int
    seq: int

    def live_at(self, now_ms: int) -> bool:
        return now_ms < self.valid_until_ms

    def to_record(self) -> dict[str, Any]:
        return {"quote_id": self.quote_id, "maker": self.maker, "side": self.side,
                "price": str(self.price), "amount": str(self.amount),
                "created_ms": self.created_ms, "valid_until_ms": self.valid_until_ms,
                "seq": self.seq}

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Quote:
        return cls(data["quote_id"], data["maker"], data["side"], Decimal(data["price"]),
                   Decimal(data["amount"]), data["created_ms"], data["valid_until_ms"],
                   data["seq"])


@dataclass(frozen=True, slots=True)
class LegFill:
    """What one leg of a block trade does: ``qty`` = amount * ratio at ``price`` per unit."""

    symbol: str
    taker_side: str
    maker_side: str
    qty: Decimal
    price: Decimal

    def to_record(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "taker_side": self.taker_side,
                "maker_side": self.maker_side, "qty": str(self.qty), "price": str(self.price)}

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> LegFill:
        return cls(data["symbol"], data["taker_side"], data["maker_side"],
                   Decimal(data["qty"]), Decimal(data["price"]))


@dataclass(frozen=True, slots=True)
class BlockTrade:
    """The trade an accepted RFQ makes, all legs at once. ``trade_id`` is ``rfq:<rfq id>``:
    an RFQ trades at most once, so replays and re-deliveries name the very same trade.

    ``side`` is the taker's side of the structure; ``price`` the net price of the accepted
    quote, which the legs' prices add up to exactly: sum(sign * ratio * leg price).
    """

    trade_id: str
    rfq_id: str
    quote_id: str
    taker: str
    maker: str
    side: str
    amount: Decimal
    price: Decimal
    ts_ms: int
    legs: tuple[LegFill, ...]

    def to_record(self) -> dict[str, Any]:
        return {"trade_id": self.trade_id, "rfq_id": self.rfq_id, "quote_id": self.quote_id,
                "taker": self.taker, "maker": self.maker, "side": self.side,
                "amount": str(self.amount), "price": str(self.price), "ts_ms": self.ts_ms,
                "legs": [leg.to_record() for leg in self.legs]}

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> BlockTrade:
        return cls(data["trade_id"], data["rfq_id"], data["quote_id"], data["taker"],
                   data["maker"], data["side"], Decimal(data["amount"]),
                   Decimal(data["price"]), data["ts_ms"],
                   tuple(LegFill.from_record(leg) for leg in data["legs"]))
