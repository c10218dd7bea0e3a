"""Batch processing helpers for Faust agents.

Faust's tables file every write under the partition of the *current event*, which a batch
(:mod:`streams.event_batches`) leaves unset. Writing a key while an event of that key's own
partition is current keeps the RocksDB store and the changelog on the partition that owns the
key — the same result as per-event processing, at batch speed.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from faust.streams import _current_event
from faust.types import EventT

__all__ = ["as_current", "as_partition"]


@contextmanager
def as_current(event: EventT) -> Iterator[None]:
    """Make ``event`` the current event while the block writes tables for its key."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class _PartitionEvent:
    """Just enough of an event for a table write: its topic and partition."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, topic: str, partition: int) -> None:
        self.message = _Where(topic, partition)


class _Where:
    __slots__ = ("partition", "topic")

    def __init__(self, topic: str, partition: int) -> None:
        self.topic, self.partition = topic, partition


@contextmanager
def as_partition(topic: str, partition: int) -> Iterator[None]:
    """Table writes from a timer (no event at hand) for a key living on ``partition``."""
    with as_current(_PartitionEvent(topic, partition)):  # type: ignore[arg-type]
        yield
