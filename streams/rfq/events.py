"""What happened to an RFQ, in the past tense, for an agent to publish.

Every event carries ``event_id`` = ``<rfq id>:<seq>`` with ``seq`` the RFQ's own gap-free
sequence number (from 1), the venue time it happened at (``ts_ms``) and the command that
caused it (``causation_id``): a replayed command yields the very same events, ids included,
so every downstream upsert by ``event_id`` takes effect once.

``to_record`` is the JSON form (Decimal as str, a ``type`` field naming the event);
:func:`event_from_record` reads it back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, ClassVar

from streams.rfq.codes import RfqCode, describe
from streams.rfq.values import BlockTrade, Leg, Quote

__all__ = [
    "EVENT_TYPES",
    "QuoteAdded",
    "QuoteCancelled",
    "QuoteRefused",
    "QuoteReplaced",
    "RfqAccepted",
    "RfqCancelled",
    "RfqClearing",
    "RfqEvent",
    "RfqExpired",
    "RfqNotCleared",
    "RfqOpened",
    "RfqRefused",
    "event_from_record",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class RfqEvent:
    """Fields every RFQ event has."""

    type: ClassVar[str] = "rfq_event"
    event_id: str
    rfq_id: str
    seq: int
    ts_ms: int
    causation_id: str

    def to_record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for f in fields(self):
            out[f.name] = _encode(getattr(self, f.name))
        if isinstance(getattr(self, "code", None), RfqCode):
            out["reason"] = describe(self.code)  # type: ignore[attr-defined]
        return out


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, RfqCode):
        return int(value)
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    if hasattr(value, "to_record"):
        return value.to_record()
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class RfqOpened(RfqEvent):
    type: ClassVar[str] = "rfq_opened"
    taker: str
    legs: tuple[Leg, ...]
    amount: Decimal
    one_sided: str | None  # buy | sell | None (two-sided)
    expires_ms: int
    quote_ttl_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class QuoteAdded(RfqEvent):
    type: ClassVar[str] = "quote_added"
    quote: Quote


@dataclass(frozen=True, slots=True, kw_only=True)
class QuoteReplaced(RfqEvent):
    """The maker's new quote on a side; its previous one there is gone."""

    type: ClassVar[str] = "quote_replaced"
    quote: Quote
    replaced_quote_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class QuoteCancelled(RfqEvent):
    type: ClassVar[str] = "quote_cancelled"
    quote_id: str
    maker: str
    side: str


@dataclass(frozen=True, slots=True, kw_only=True)
class QuoteRefused(RfqEvent):
    """A maker's quote or quote cancel refused (``action``: quote | cancel_quote)."""

    type: ClassVar[str] = "quote_refused"
    maker: str
    quote_id: str
    action: str
    code: RfqCode


@dataclass(frozen=True, slots=True, kw_only=True)
class RfqRefused(RfqEvent):
    """A taker's open, accept or cancel refused (``action``: open | accept | cancel)."""

    type: ClassVar[str] = "rfq_refused"
    account: str
    action: str
    code: RfqCode


@dataclass(frozen=True, slots=True, kw_only=True)
class RfqClearing(RfqEvent):
    """The taker accepted a quote: risk is asked to hold both sides of ``trade`` before it
    trades (``attempt`` is the accept's command id, which names the reservations)."""

    type: ClassVar[str] = "rfq_clearing"
    trade: BlockTrade
    attempt: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RfqNotCleared(RfqEvent):
    """Risk refused one side of the ``attempt`` to trade ``trade``: nothing traded, both
    sides' holds are released, the RFQ is open again (without the maker's quote if the
    maker was refused). ``code`` says which side; ``risk_code``/``risk_reason`` why."""

    type: ClassVar[str] = "rfq_not_cleared"
    trade: BlockTrade
    attempt: str
    account: str
    code: RfqCode
    risk_code: int
    risk_reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RfqAccepted(RfqEvent):
    """Both sides cleared: the block trade goes to matching."""

    type: ClassVar[str] = "rfq_accepted"
    trade: BlockTrade


@dataclass(frozen=True, slots=True, kw_only=True)
class RfqExpired(RfqEvent):
    type: ClassVar[str] = "rfq_expired"
    expires_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RfqCancelled(RfqEvent):
    type: ClassVar[str] = "rfq_cancelled"
    taker: str


EVENT_TYPES: dict[str, type[RfqEvent]] = {
    cls.type: cls for cls in (RfqOpened, QuoteAdded, QuoteReplaced, QuoteCancelled,
                              QuoteRefused, RfqRefused, RfqClearing, RfqNotCleared,
                              RfqAccepted, RfqExpired, RfqCancelled)
}

_DECODERS: dict[str, Callable[[Any], Any]] = {
    "legs": lambda v: tuple(Leg.from_record(leg) for leg in v),
    "amount": Decimal,
    "quote": Quote.from_record,
    "trade": BlockTrade.from_record,
    "code": RfqCode,
}


def event_from_record(data: dict[str, Any]) -> RfqEvent:
    """The event ``to_record`` wrote (an unknown ``type`` raises ``KeyError``)."""
    cls = EVENT_TYPES[data["type"]]
    kwargs = {f.name: _DECODERS.get(f.name, _same)(data[f.name]) for f in fields(cls)}
    return cls(**kwargs)


def _same(value: Any) -> Any:
    return value
