"""The USDT ledger: balanced double-entry postings with deterministic ids, and its checks.

Pure domain code (no Faust, Kafka or database): :mod:`postings` turns facts (fills,
transfers, premiums, hedges, expiry payouts) into balanced legs; :mod:`checks` proves that
each account's balance is the sum of its entries and that all entries sum to zero.
"""

from streams.ledger.checks import LedgerCheck, check_ledger
from streams.ledger.fees import FeeSchedule
from streams.ledger.postings import (
    CLEARING,
    HOUSE_CASH,
    HOUSE_FEES,
    HOUSE_HEDGE,
    HOUSE_OPTIONS,
    HOUSE_SETTLEMENT,
    Leg,
    Posting,
    PostingError,
    expiry_posting,
    fill_posting,
    hedge_posting,
    option_sale_posting,
    transfer_posting,
)

__all__ = [
    "CLEARING",
    "HOUSE_CASH",
    "HOUSE_FEES",
    "HOUSE_HEDGE",
    "HOUSE_OPTIONS",
    "HOUSE_SETTLEMENT",
    "FeeSchedule",
    "LedgerCheck",
    "Leg",
    "Posting",
    "PostingError",
    "check_ledger",
    "expiry_posting",
    "fill_posting",
    "hedge_posting",
    "option_sale_posting",
    "transfer_posting",
]
