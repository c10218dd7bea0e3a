"""The pydantic v2 contracts of every message StrikeFlow puts on Kafka."""

from topics.contracts.accounts import (
    ExpirySettled,
    Fill,
    FundsTransferred,
    HedgeFill,
    LedgerEntry,
    OrderReleased,
    Position,
    PositionExpired,
    PremiumPaid,
    RiskAlert,
    SettlementResult,
    account_activity_adapter,
)
from topics.contracts.base import Contract, Event
from topics.contracts.deadletter import DeadLetter, DeadLetterReplayed
from topics.contracts.marketdata import Candle, IndexPrice, L2Update, OptionMark, Tick
from topics.contracts.orders import (
    AmendOrder,
    BookUpdate,
    CancelOrder,
    MassCancel,
    OrderCommand,
    OrderEvent,
    SubmitOrder,
    Trade,
)

__all__ = [
    "AmendOrder",
    "BookUpdate",
    "CancelOrder",
    "Candle",
    "Contract",
    "DeadLetter",
    "DeadLetterReplayed",
    "Event",
    "ExpirySettled",
    "Fill",
    "FundsTransferred",
    "HedgeFill",
    "IndexPrice",
    "L2Update",
    "LedgerEntry",
    "MassCancel",
    "OptionMark",
    "OrderCommand",
    "OrderEvent",
    "OrderReleased",
    "Position",
    "PositionExpired",
    "PremiumPaid",
    "RiskAlert",
    "SettlementResult",
    "SubmitOrder",
    "Tick",
    "Trade",
    "account_activity_adapter",
]
