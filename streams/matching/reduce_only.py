"""The seam between matching and positions for reduce-only orders.

The matching engine cannot know positions (they are keyed by account, matching by
instrument), so it asks a :class:`ReduceOnlyPolicy`. Until the risk component provides one,
:class:`NoPositionSource` answers "unknown" and every reduce-only order is rejected with
``REDUCE_ONLY_UNAVAILABLE`` instead of being silently treated as a normal order.

An implementation must itself be a pure function of the engine's input stream (positions
delivered as commands on the same partition), or replays stop being deterministic.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from streams.matching.orders import Side

__all__ = ["NoPositionSource", "ReduceOnlyPolicy"]


@runtime_checkable
class ReduceOnlyPolicy(Protocol):
    def reducible_qty(self, instrument_id: str, account_id: str, side: Side) -> int | None:
        """Lots an order on ``side`` may trade without increasing the account's position,
        or ``None`` when the position is unknown."""
        ...


class NoPositionSource:
    """Default policy: positions are unknown, so reduce-only cannot be honoured."""

    __slots__ = ()

    def reducible_qty(self, instrument_id: str, account_id: str, side: Side) -> int | None:
        return None
