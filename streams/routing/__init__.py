"""Smart order routing: split a parent order across venues by fee-adjusted price, and work
it in rounds until filled, out of rounds or cancelled.

Pure domain code (no Faust, Kafka, HTTP, database or clock): :mod:`split` computes one
round's children from the books; :mod:`parent` is the per-parent state machine whose
deterministic child keys make a crashed worker's re-sends idempotent at the venue.
"""

from streams.routing.parent import (
    SHARE_GRID,
    TERMINAL_STATUSES,
    TRANSITIONS,
    ChildOrder,
    ChildStatus,
    ParentOrder,
    ParentReport,
    ParentStatus,
    ParentTrigger,
    child_key,
)
from streams.routing.split import (
    PRICE_GRID,
    Book,
    ChildSlice,
    Level,
    RoutingError,
    Side,
    Split,
    consolidated_mid,
    split_order,
)

__all__ = [
    "PRICE_GRID",
    "SHARE_GRID",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "Book",
    "ChildOrder",
    "ChildSlice",
    "ChildStatus",
    "Level",
    "ParentOrder",
    "ParentReport",
    "ParentStatus",
    "ParentTrigger",
    "RoutingError",
    "Side",
    "Split",
    "child_key",
    "consolidated_mid",
    "split_order",
]
