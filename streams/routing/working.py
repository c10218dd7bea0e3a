"""A parent order as the routing agent keeps it: the machine plus who sent it and what was
published, the venues' answers applied, and the report event.

Pure (no Faust, Kafka or clock): the agent passes the venues' answers and the time in. Kept
apart from :mod:`streams.routing.parent` because it speaks the wire contracts
(:mod:`topics.contracts.routing`) and the venue adapter's answer types, which the machine
does not need to know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from streams.routing.parent import ChildStatus, ParentOrder
from streams.routing.split import RoutingError
from streams.settlement.venue import VenueError, VenueFill
from topics.contracts.routing import (
    ChildOrderState,
    ChildStatusName,
    ParentOrderReport,
    RouteOrder,
    RouteStatus,
)

__all__ = ["Answer", "WorkingParent", "apply_answer", "rejected_report"]

#: what a venue said to one child: its fill (possibly of zero) or a definite refusal
Answer = VenueFill | VenueError


@dataclass
class WorkingParent:
    """One routed parent: the machine, the sender, the partition its key lives on and how
    many report versions were published (the next report is ``version + 1``)."""

    parent: ParentOrder
    account: str
    partition: int
    command_id: str
    version: int = 0

    @property
    def parent_id(self) -> str:
        return self.parent.parent_id

    @classmethod
    def start(cls, order: RouteOrder, arrival_price: Decimal, partition: int) -> WorkingParent:
        return cls(ParentOrder(parent_id=order.parent_id, symbol=order.symbol, side=order.side,
                               qty=order.qty, arrival_price=arrival_price,
                               limit_price=order.limit_price, max_rounds=order.max_rounds),
                   account=order.account, partition=partition, command_id=order.command_id)

    def to_record(self) -> dict[str, Any]:
        return {"parent": self.parent.to_record(), "account": self.account,
                "partition": self.partition, "command_id": self.command_id,
                "version": self.version}

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> WorkingParent:
        return cls(ParentOrder.from_record(data["parent"]), account=data["account"],
                   partition=int(data["partition"]), command_id=data["command_id"],
                   version=int(data["version"]))

    def report(self, ts_event: datetime) -> ParentOrderReport:
        """The next version of the parent's report (bumps :attr:`version`)."""
        self.version += 1
        r = self.parent.report()
        children = [ChildOrderState(
            key=c.key, round=c.round, venue=c.venue, qty=c.qty,
            status=cast(ChildStatusName, str(c.status)),
            filled_qty=c.filled_qty, avg_price=c.avg_price, fee=c.fee,
            expected_avg_price=c.expected_avg_price, reason=c.reason)
            for c in self.parent.children.values()]
        return ParentOrderReport(
            event_id=f"route:{self.parent_id}:{self.version}", ts_event=ts_event,
            causation_id=self.command_id, parent_id=self.parent_id, version=self.version,
            account=self.account, symbol=r.symbol, side=r.side,
            status=cast(RouteStatus, str(r.status)),
            final=self.parent.is_terminal, qty=r.qty, filled_qty=r.filled_qty,
            remainder=r.remainder, vwap=r.vwap, arrival_price=r.arrival_price,
            slippage_bps=r.slippage_bps, all_in_slippage_bps=r.all_in_slippage_bps,
            fees=r.fees, venue_shares=r.venue_shares, rounds=r.rounds, children=children)


def apply_answer(parent: ParentOrder, key: str, answer: Answer) -> bool:
    """Record a venue's answer for child ``key``; True if the parent changed.

    A fill must be for this child (same key, symbol and side): anything else means the venue
    or the record is wrong, and :class:`RoutingError` is raised rather than booking it.
    """
    child = parent.children[key]
    if isinstance(answer, VenueError):
        if child.status is ChildStatus.FILLED:
            return False  # answered already; a late refusal of a re-send changes nothing
        return parent.child_failed(key, str(answer) or type(answer).__name__)
    if (answer.client_order_id, answer.symbol, answer.side) != (key, child.symbol, child.side):
        raise RoutingError(f"{key}: the venue answered for {answer.client_order_id} "
                           f"{answer.side} {answer.symbol}")
    price = answer.avg_price if answer.qty > 0 else None
    return parent.child_filled(key, answer.qty, price, answer.fee)


def rejected_report(order: RouteOrder, reason: str, ts_event: datetime) -> ParentOrderReport:
    """A parent that could not start (no book for its symbol at any venue): final at once."""
    return ParentOrderReport(
        event_id=f"route:{order.parent_id}:1", ts_event=ts_event,
        causation_id=order.command_id, parent_id=order.parent_id, version=1,
        account=order.account, symbol=order.symbol, side=order.side, status="rejected",
        final=True, qty=order.qty, filled_qty=Decimal(0), remainder=order.qty, fees=Decimal(0),
        venue_shares={}, rounds=0, children=[], reason=reason)
