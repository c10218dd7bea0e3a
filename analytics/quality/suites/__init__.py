"""One expectation suite per sunk table, as code. ``SUITES`` maps a table to its suite."""

from __future__ import annotations

from analytics.quality.spec import TableSuite
from analytics.quality.suites.accounts import LEDGER, POSITIONS, RISK_ALERTS
from analytics.quality.suites.compliance import COMPLIANCE_CASES
from analytics.quality.suites.marketdata import CANDLES, INDEX_PRICES, OPTION_MARKS
from analytics.quality.suites.pipeline import SINK_DEAD_LETTERS, STREAM_DEAD_LETTERS
from analytics.quality.suites.rfq import RFQ_EVENTS
from analytics.quality.suites.routing import ROUTING_REPORTS
from analytics.quality.suites.settlement import (
    EXPIRIES,
    HEDGES,
    SETTLEMENT_ORDERS,
    SETTLEMENT_RESULTS,
)
from analytics.quality.suites.trading import ORDER_EVENTS, TRADES

__all__ = ["DEAD_LETTER_TABLES", "SCREENED", "SUITES"]

SUITES: dict[str, TableSuite] = {s.table: s for s in (
    CANDLES, INDEX_PRICES, OPTION_MARKS, TRADES, ORDER_EVENTS, LEDGER, POSITIONS, RISK_ALERTS,
    SETTLEMENT_ORDERS, SETTLEMENT_RESULTS, HEDGES, EXPIRIES, SINK_DEAD_LETTERS,
    STREAM_DEAD_LETTERS, RFQ_EVENTS, ROUTING_REPORTS, COMPLIANCE_CASES)}

# Tables whose sink batches are screened (dead letters are the escape valve: never held back;
# `strikeflow analytics check` still runs their suites).
DEAD_LETTER_TABLES = frozenset({"sink_dead_letters", "stream_dead_letters"})
SCREENED: frozenset[str] = frozenset(SUITES) - DEAD_LETTER_TABLES
