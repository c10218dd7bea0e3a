"""Block RFQs (request for quote), Deribit style: a taker asks for a price on a structure of
1..4 legs, makers quote its bid and ask, the taker accepts one and all legs trade at once.

Pure domain code (no Faust, Kafka or clock): :class:`RfqState` is one RFQ's state machine,
driven by commands with the venue's time, answering with :class:`Outcome` (a refusal
:class:`RfqCode` or ``None``, and past-tense events with deterministic ids).
"""

from streams.rfq.codes import RETIRED, RfqCode, RfqError, describe
from streams.rfq.events import (
    EVENT_TYPES,
    QuoteAdded,
    QuoteCancelled,
    QuoteRefused,
    QuoteReplaced,
    RfqAccepted,
    RfqCancelled,
    RfqClearing,
    RfqEvent,
    RfqExpired,
    RfqNotCleared,
    RfqOpened,
    RfqRefused,
    event_from_record,
)
from streams.rfq.pricing import net_price, split_net_price
from streams.rfq.state import (
    TRANSITIONS,
    Outcome,
    RfqConfig,
    RfqSpec,
    RfqState,
    RfqStatus,
    trade_id_for,
)
from streams.rfq.values import BlockTrade, Leg, LegFill, Quote

__all__ = [
    "EVENT_TYPES",
    "RETIRED",
    "TRANSITIONS",
    "BlockTrade",
    "Leg",
    "LegFill",
    "Outcome",
    "Quote",
    "QuoteAdded",
    "QuoteCancelled",
    "QuoteRefused",
    "QuoteReplaced",
    "RfqAccepted",
    "RfqCancelled",
    "RfqClearing",
    "RfqCode",
    "RfqConfig",
    "RfqError",
    "RfqEvent",
    "RfqExpired",
    "RfqNotCleared",
    "RfqOpened",
    "RfqRefused",
    "RfqSpec",
    "RfqState",
    "RfqStatus",
    "describe",
    "event_from_record",
    "net_price",
    "split_net_price",
    "trade_id_for",
]
