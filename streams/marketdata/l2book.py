"""One venue's L2 book for one symbol, kept in sequence — pure, no Faust.

Why it is shaped like this:

* **A book is only as good as its sequence.** Venues publish a snapshot, then deltas numbered
  ``seq + 1, seq + 2 …``. A missing number means a missed change somewhere in the book, so the
  book is *dropped* (not patched) and stays out of sync, ignoring deltas, until the next
  snapshot. A delta before any snapshot, or one that leaves the book crossed (best bid >= best
  ask, which no venue can have), is treated the same way: corrupt data is worse than none.
* **Redeliveries are not gaps.** After a crash Kafka hands the agent messages it already
  applied. A delta or snapshot at or below the applied sequence whose event time is not newer
  than the last applied one is a duplicate and changes nothing. A lower sequence with a *newer*
  event time is a venue that restarted its numbering: a snapshot is accepted, a delta is a gap.
* **Sizes are totals, not increments**: a delta carries the new size at a price (0 removes the
  level), so applying one twice gives the same book — which is what makes redelivery harmless.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from topics.contracts import L2Update

__all__ = ["L2Verdict", "VenueBook", "from_us", "to_us"]

Levels = list[tuple[Decimal, Decimal]]


class L2Verdict(StrEnum):
    SNAPSHOT = "snapshot"  # the book was replaced and is in sync
    APPLIED = "applied"  # a delta in sequence
    DUPLICATE = "duplicate"  # already applied (a redelivery): nothing changed
    IGNORED = "ignored"  # out of sync: waiting for a snapshot
    GAP = "gap"  # sequence gap (or went backwards): book dropped, resync
    CROSSED = "crossed"  # the delta crossed the book: book dropped, resync
    NO_SNAPSHOT = "no_snapshot"  # a delta before the first snapshot: resync

    @property
    def needs_snapshot(self) -> bool:
        """The venue's book is unusable until its next snapshot."""
        return self in (L2Verdict.GAP, L2Verdict.CROSSED, L2Verdict.NO_SNAPSHOT,
                        L2Verdict.IGNORED)

    @property
    def changed(self) -> bool:
        """The venue's book (or its validity) changed."""
        return self not in (L2Verdict.DUPLICATE, L2Verdict.IGNORED)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(ts: datetime) -> int:
    """Microseconds since the epoch, exactly (no float detour)."""
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _us(update: L2Update) -> int:
    return to_us(update.ts_event)


class VenueBook:
    """Price -> size per side for one venue and symbol, with its sequence and sync flag."""

    __slots__ = ("asks", "bids", "in_sync", "last_us", "seq", "seq_us")

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.seq: int | None = None  # the last sequence applied
        self.seq_us = 0  # event time of the last update applied
        self.in_sync = False
        self.last_us = 0  # event time of the last message of any kind: staleness

    def apply(self, update: L2Update, ts_us: int | None = None) -> L2Verdict:
        """Apply ``update``; ``ts_us`` is its event time in microseconds if the caller has
        it already (one conversion per update instead of two)."""
        if ts_us is None:
            ts_us = _us(update)
        self.last_us = max(self.last_us, ts_us)
        redelivered = (self.seq is not None and update.seq <= self.seq
                       and ts_us <= self.seq_us)
        if update.snapshot:
            if self.in_sync and redelivered:
                return L2Verdict.DUPLICATE
            self.bids = {p: q for p, q in update.bids}
            self.asks = {p: q for p, q in update.asks}
            self._accept(update, ts_us)
            return L2Verdict.SNAPSHOT
        if not self.in_sync:
            return L2Verdict.NO_SNAPSHOT if self.seq is None else L2Verdict.IGNORED
        assert self.seq is not None  # in sync implies a snapshot was applied
        if redelivered:
            return L2Verdict.DUPLICATE
        if update.seq != self.seq + 1:
            self._drop()
            return L2Verdict.GAP
        _merge(self.bids, update.bids)
        _merge(self.asks, update.asks)
        self._accept(update, ts_us)
        bid, ask = self.best_bid(), self.best_ask()
        if bid is not None and ask is not None and bid >= ask:
            self._drop()
            return L2Verdict.CROSSED
        return L2Verdict.APPLIED

    def _accept(self, update: L2Update, ts_us: int) -> None:
        self.seq = update.seq
        self.seq_us = max(self.seq_us, ts_us)
        self.in_sync = True

    def _drop(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self.in_sync = False

    # -- reads --------------------------------------------------------------------------------
    def best_bid(self) -> Decimal | None:
        return max(self.bids) if self.bids else None

    def best_ask(self) -> Decimal | None:
        return min(self.asks) if self.asks else None

    def mid(self) -> Decimal | None:
        """The mid of an in-sync, two-sided book; ``None`` otherwise."""
        if not self.in_sync:
            return None
        bid, ask = self.best_bid(), self.best_ask()
        if bid is None or ask is None:
            return None
        return (bid + ask) / 2

    def top(self, depth: int) -> tuple[Levels, Levels]:
        """The best ``depth`` levels: bids high to low, asks low to high (empty if not in sync)."""
        if not self.in_sync:
            return [], []
        bids = sorted(self.bids.items(), reverse=True)[:depth]
        asks = sorted(self.asks.items())[:depth]
        return bids, asks

    # -- persistence ---------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {"b": [[str(p), str(q)] for p, q in self.bids.items()],
                "a": [[str(p), str(q)] for p, q in self.asks.items()],
                "seq": self.seq, "seq_us": self.seq_us, "sync": self.in_sync,
                "last_us": self.last_us}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> VenueBook:
        book = cls()
        book.bids = {Decimal(p): Decimal(q) for p, q in state["b"]}
        book.asks = {Decimal(p): Decimal(q) for p, q in state["a"]}
        book.seq, book.seq_us = state["seq"], state["seq_us"]
        book.in_sync, book.last_us = state["sync"], state["last_us"]
        return book


def _merge(side: dict[Decimal, Decimal], levels: list[tuple[Decimal, Decimal]]) -> None:
    for price, size in levels:
        if size:
            side[price] = size
        else:
            side.pop(price, None)
