"""Block RFQs: ``rfq_events``."""

from __future__ import annotations

from typing import Any, get_args

from analytics.quality.spec import TableSuite, in_set, nonempty, positive
from analytics.quality.suites.common import META, NMONEY, NSTR, TS
from topics.contracts.rfq import RfqUpdate

__all__ = ["RFQ_EVENTS"]

_KINDS = set(get_args(RfqUpdate.model_fields["kind"].annotation))


def _rows() -> list[Any]:
    return [*nonempty("event_id", "rfq_id"), *in_set("kind", _KINDS), *positive("amount")]


RFQ_EVENTS = TableSuite(
    table="rfq_events",
    schema={"event_id": "String", "rfq_id": "String", "seq": "UInt64",
            "kind": "LowCardinality(String)", "account": NSTR, "maker": NSTR,
            "quote_id": NSTR, "side": "LowCardinality(Nullable(String))", "price": NMONEY,
            "amount": NMONEY, "legs": NSTR, "trade_id": NSTR, "expires_at": f"Nullable({TS})",
            "code": "Nullable(Int64)", "reason": NSTR, **META},
    batch_key=("event_id",),
    table_key=("event_id",),
    rows=_rows,
)
