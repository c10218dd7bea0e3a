"""What the bridge does with one order change, pure: apply it once, emit it once.

The bridge keeps, per order id, one small record: the last streamed position it applied
(LSN and transaction) and the status it has published. Position and status live in the same
record — one table write, one changelog message — so they cannot disagree after a crash
(the candle agent keeps its duplicate filter beside its windows for the same reason).

Rules, in order:

1. A *streamed* change (from the WAL) at or below the stored LSN is a **duplicate**: Debezium
   re-sends from its last flushed offset after a restart, so replays are normal, not errors.
2. Statuses only move forward (``open`` → ``settling`` → ``settled``; ``open`` →
   ``cancelled``). A change whose status is not ahead of the published one is **already
   applied** — how snapshot reads and reconciliation re-reads (which share one LSN, or have
   none) are de-duplicated — or **stale**.
3. Otherwise the change is **applied**: an :class:`OptionOrderEvent` with the deterministic id
   ``option-order:<order id>:<status>`` is emitted and the record moves forward.

So each (order, status) reaches ``settlement.orders`` once, whichever of Debezium's stream,
its snapshot or reconciliation delivered it first.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal
from enum import StrEnum
from typing import Any

from cdc.bridge.envelope import Change, Op
from topics.contracts.cdc import OptionOrderEvent, OrderRow, option_order_event_id

__all__ = [
    "PRODUCER_HEADER",
    "STATE_FORMAT",
    "STATUS_RANK",
    "Applied",
    "Verdict",
    "apply_order_change",
    "order_event",
]

STATE_FORMAT = 1  # bump when the record's shape changes, and teach apply_order_change the old

#: The header naming the worker group that published a ``settlement.orders`` message:
#: provenance for ops (several groups may bridge one change stream, e.g. a replay group).
PRODUCER_HEADER = "strikeflow-app"
#: How far along its life a status is; an order only ever moves to a higher rank.
STATUS_RANK = {"open": 0, "settling": 1, "settled": 2, "cancelled": 2}


class Verdict(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    ALREADY_APPLIED = "already_applied"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class Applied:
    verdict: Verdict
    state: dict[str, Any]
    event: OptionOrderEvent | None = None


# NUMERIC(38, 18) has 38 digits; the default context's 28 would round them in normalize().
_EXACT = Context(prec=38)


def _plain(value: Decimal) -> Decimal:
    """Debezium's NUMERIC strings carry 18 decimals: publish the value without the zeros.

    In a 38-digit context: ``normalize()`` rounds to the context's precision, and the
    default 28 digits turned ``12345678901234567890.123456789012345678`` into ``…0.12345679``.
    """
    if value == value.to_integral_value():
        return value.quantize(Decimal(1), context=_EXACT)
    return value.normalize(_EXACT)


def order_event(row: OrderRow, change: Change) -> OptionOrderEvent:
    """The settlement event of ``row`` in its current status."""
    pos = change.position
    source = ("reconcile" if pos.lsn is None else "snapshot" if pos.snapshot else "stream")
    return OptionOrderEvent(
        event_id=option_order_event_id(row.id, row.status), ts_event=row.updated_at,
        causation_id=f"{row.account_id}:{row.client_order_id}", order_id=row.id,
        account=row.account_id, client_order_id=row.client_order_id, product=row.product_id,
        underlying=row.underlying, strike=_plain(row.strike), expiry=row.expiry,
        option_type=row.option_type, contract_size=_plain(row.contract_size), side=row.side,
        contracts=_plain(row.contracts), underlying_price=_plain(row.underlying_price),
        iv=_plain(row.iv), price=_plain(row.price), premium=_plain(row.premium),
        fee=_plain(row.fee), total=_plain(row.total), status=row.status,
        ordered_at=row.created_at, source=source,
        source_lsn=pos.lsn if source != "reconcile" else None,
        source_tx_id=pos.tx_id if source != "reconcile" else None,
    )


def apply_order_change(state: dict[str, Any] | None, change: Change) -> Applied:
    """Decide what one create/update/read of an order does, given the order's record.

    Deletes are not decided here: orders are never deleted (the service role cannot), so the
    agent turns one into a dead letter.
    """
    if change.op is Op.DELETE:
        raise ValueError("deletes are not order changes; the agent dead-letters them")
    row: OrderRow = change.row
    pos = change.position
    old_lsn = state.get("lsn") if state else None
    if pos.streamed and old_lsn is not None and pos.lsn is not None and pos.lsn <= old_lsn:
        return Applied(Verdict.DUPLICATE, state or {})
    new_lsn = pos.lsn if pos.streamed else old_lsn
    new_tx = pos.tx_id if pos.streamed else (state.get("tx") if state else None)
    if state is not None:
        old_rank = STATUS_RANK[state["status"]]
        rank = STATUS_RANK[row.status]
        if rank <= old_rank:
            verdict = Verdict.ALREADY_APPLIED if row.status == state["status"] else Verdict.STALE
            moved = {**state, "lsn": new_lsn, "tx": new_tx}
            return Applied(verdict, moved)
    new_state = {"v": STATE_FORMAT, "lsn": new_lsn, "tx": new_tx, "status": row.status}
    return Applied(Verdict.APPLIED, new_state, order_event(row, change))
