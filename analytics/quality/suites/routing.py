"""Smart order routing: ``routing_reports`` (every version of every routed parent)."""

from __future__ import annotations

from typing import Any, get_args

from analytics.quality.spec import (
    CrossCheck,
    TableSuite,
    in_set,
    non_negative,
    nonempty,
    not_after,
    positive,
    zero,
)
from analytics.quality.suites.common import META, MONEY, NMONEY, NSTR
from topics.contracts.routing import RouteStatus

__all__ = ["ROUTING_REPORTS"]

LC = "LowCardinality(String)"


def _rows() -> list[Any]:
    return [*nonempty("event_id", "parent_id", "account"),
            *in_set("status", set(get_args(RouteStatus))), *in_set("side", {"buy", "sell"}),
            *positive("qty", "version"), *non_negative("filled_qty", "remainder", "fees"),
            *not_after("filled_qty", "qty")]


# What was filled and what is left make the parent's quantity; the venue shares of a parent
# with fills are fractions of one (the report's largest-remainder rounding makes them exact).
_BALANCE = """
SELECT event_id, qty - filled_qty - remainder AS qty_diff,
       if(filled_qty > 0, arraySum(mapValues(venue_shares)) - 1, 0) AS share_diff
FROM {db}.routing_reports FINAL
"""

ROUTING_REPORTS = TableSuite(
    table="routing_reports",
    schema={"event_id": "String", "parent_id": "String", "version": "UInt64",
            "account": "String", "symbol": LC, "side": LC, "status": LC, "final": "Bool",
            "qty": MONEY, "filled_qty": MONEY, "remainder": MONEY, "vwap": NMONEY,
            "arrival_price": NMONEY, "slippage_bps": NMONEY, "all_in_slippage_bps": NMONEY,
            "fees": MONEY, "venue_shares": f"Map(String, {MONEY})", "rounds": "UInt64",
            "reason": NSTR, **META},
    batch_key=("event_id",),
    table_key=("event_id",),
    rows=_rows,
    cross=(CrossCheck("filled_plus_remainder_is_qty_and_shares_sum_to_one", _BALANCE,
                      lambda: [*zero("qty_diff", "share_diff")]),),
)
