"""A Faust table whose changelog catches up with the worker's own store on the first read.

A worker SIGKILLed while a batch's table writes were on their way to Kafka keeps them in its
RocksDB (the write-ahead log survives the process) but not in the changelog. Its offsets were
not committed, so the batch is replayed — and finds its work done: a replay that changes
nothing writes nothing, and the changelog stays one batch behind the store for that key
until something changes it again. Nothing shows it until another worker restores the
partition from the changelog (a rebalance, a lost state directory): it then reads the state
from before that batch, while the batch's offsets are committed — the batch's effect on the
state is gone for good (the fault drill found it in risk's table first).

So the first time a process reads a key under a stream event, :class:`HealingTable` sends the
value it read to the changelog again, before the batch's flush: whatever this process decides
from a key, the changelog holds at least that. It costs one message per key per process (a
restart, a partition taken over), not per batch. The keys known to be current are
remembered up to :data:`REMEMBERED` (oldest forgotten first): a forgotten key read again is
only sent once more.

Tables that keep several keys consistent with each other cannot be healed one key at a time:
risk's account parts heal through their own full rewrite (:mod:`streams.risk.records`),
and matching's snapshots need no healing (a stale snapshot only means a longer replay).
"""

from __future__ import annotations

from typing import Any

from faust.exceptions import PartitionsMismatch
from faust.streams import current_event

from streams.changelog import ChangelogTable

__all__ = ["REMEMBERED", "HealingTable"]

REMEMBERED = 1 << 18


class HealingTable(ChangelogTable):
    """A :class:`~streams.changelog.ChangelogTable` that re-sends each key's stored value to
    the changelog the first time this process reads it under a stream event."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._current: dict[Any, None] = {}  # keys the changelog has from this process

    def on_key_get(self, key: Any) -> None:
        super().on_key_get(key)
        if key not in self._current and current_event() is not None:
            self._heal(key)

    def on_key_set(self, key: Any, value: Any) -> None:
        super().on_key_set(key, value)
        self._remember(key)

    def on_key_del(self, key: Any) -> None:
        super().on_key_del(key)
        self._remember(key)

    def _heal(self, key: Any) -> None:
        try:
            partition = self.partition_for_key(key)
        except PartitionsMismatch:  # read under another topic's event: a write would fail
            return  # too; the agent that owns the key heals it
        self._remember(key)
        value = self.data.get(key)
        if value is not None:
            self.send_changelog(partition, key, value)

    def _remember(self, key: Any) -> None:
        current = self._current
        current[key] = None
        if len(current) > REMEMBERED:
            del current[next(iter(current))]
