"""How one account's risk state is laid out in the state store: small parts, not one record.

An account once lived in one JSON record holding everything — cash and positions, ~1,000 open
orders, the last 5,000 decisions and 5,000 applied activity ids — rewritten whole after every
batch that touched it: 279 to 472 KB a write, 2.6 ms of CPU, and a changelog of 2.5 GB after
~21k orders that a worker with no local state needed 67 s to read back. Now the state is
kept in parts, under keys ``<account>`` (the core) and ``<account>/<part>``:

* ``""`` (the key is the account itself) — cash, positions, the rate bucket, margin level,
  and the head numbers of the two remembered-id sequences;
* ``o<b>`` — the open orders whose client order id hashes to bucket ``b`` (of 64);
* ``d<n>`` / ``a<n>`` — segment ``n`` of the remembered decisions / applied activity ids;
* ``m`` — market-maker protection: limits, the rolling window of fills, freezes and trips
  (written only by a batch that changed it);
* ``j`` — the journal: every part the last save wrote, in one record (see below).

A batch writes the core, the order buckets it touched and the segments it added to (and
deletes the segment that fell out of memory): a few KB, whatever the account's history.
Account ids cannot contain ``/`` (the contracts' pattern), so parts never collide with an
account; the risk agent refuses any other key before it touches the store.

**A save is atomic in the changelog.** A worker killed while a save's parts are on their way
to Kafka leaves the changelog with the first of them only (one partition: they arrive in
order, or not at all). A worker restoring from it — another worker after a rebalance, or one
whose state directory is gone — would read an account half of one batch and half of the one
before: a fill counted in the cash but not remembered as applied (counted again on the
replay), an order held but its decision forgotten (refused as its own duplicate). So a save
writes the journal first — one message with every part of the save and the save's number —
then the parts, the core last, carrying the same number. Reading finds the core's number
behind the journal's when the save did not land whole, and takes the journal's parts over
the stored ones (:func:`journaled`).

**A deletion is always sent.** Faust's table sends a changelog tombstone from
``__delitem__`` only: ``pop`` of a key the worker's own store does not hold sends nothing. A
part the store dropped in a save the changelog lost (the kill) is absent here but still
holds its old orders in the changelog, so :func:`write_save` deletes with ``del``, which
tells the changelog even then (the drill's "risk holds 23 open orders, the engine 16").

**A restart writes the account out whole once.** The worker's own store survives a kill
(RocksDB's write-ahead log) but the changelog lost the unacknowledged tail; the batch is
replayed, finds everything already done and would write nothing, leaving the changelog
behind the worker for good. The first save of an account loaded by a new process therefore
writes every part (empty order buckets as deletions).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = [
    "CORE",
    "JOURNAL",
    "MMP",
    "ORDER_BUCKETS",
    "SEPARATOR",
    "Remembered",
    "applied_part",
    "decisions_part",
    "journaled",
    "order_bucket",
    "orders_part",
    "save_order",
    "split_key",
    "store_key",
    "write_save",
]

CORE = ""
MMP = "m"
JOURNAL = "j"
SEPARATOR = "/"
ORDER_BUCKETS = 64


@lru_cache(maxsize=65_536)
def order_bucket(client_order_id: str) -> int:
    return zlib.crc32(client_order_id.encode()) % ORDER_BUCKETS


def orders_part(bucket: int) -> str:
    return f"o{bucket}"


def decisions_part(segment: int) -> str:
    return f"d{segment}"


def applied_part(segment: int) -> str:
    return f"a{segment}"


def journaled(read: Callable[[str], Any]) -> Callable[[str], Any]:
    """``read`` (a part, or ``None``) with the journal's parts over the stored ones when the
    last save did not land whole: its number is ahead of the core's."""
    journal = read(JOURNAL)
    core = read(CORE)
    if not journal or (core is not None and core.get("w", 0) >= journal["w"]):
        return read
    parts: dict[str, Any] = journal["parts"]
    return lambda part: parts[part] if part in parts else read(part)


def save_order(changes: dict[str, Any]) -> list[tuple[str, Any]]:
    """The writes of one save, in the order that makes it atomic to a reader of the
    changelog: the journal (when anything besides the core changed), the parts, the core."""
    rest = {part: value for part, value in changes.items() if part != CORE}
    core = changes[CORE]
    journal = [(JOURNAL, {"w": core["w"], "parts": {CORE: core, **rest}})] if rest else []
    return [*journal, *rest.items(), (CORE, core)]


def write_save(table: MutableMapping[bytes, Any], account: str, changes: dict[str, Any]
               ) -> None:
    """Write one save of ``account`` (:meth:`AccountState.changes`) into ``table``, in
    :func:`save_order`; a ``None`` part is deleted with ``del``, whether or not the table
    holds it (see the module's docstring)."""
    for part, value in save_order(changes):
        if value is None:
            del table[store_key(account, part)]
        else:
            table[store_key(account, part)] = value


def store_key(account: str, part: str) -> bytes:
    return (account if part == CORE else f"{account}{SEPARATOR}{part}").encode()


def split_key(key: bytes) -> tuple[str, str]:
    """``(account, part)`` of a store key."""
    account, _, part = key.decode("utf-8", "replace").partition(SEPARATOR)
    return account, part


@dataclass
class Remembered:
    """The last ids seen (with a small value each), to answer a replayed message the way it
    was answered: up to ``segments * size`` of them, in numbered segments so that saving
    writes only the segment that grew and deletes the one that fell out.

    Ids are only ever added once (callers look them up first), so the oldest segment is
    simply the lowest number still held.
    """

    size: int = 25
    segments: int = 200
    head: int = 0
    values: dict[str, Any] = field(default_factory=dict)
    _ids: dict[int, list[str]] = field(default_factory=dict, compare=False)
    _changed: set[int] = field(default_factory=set, compare=False)

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def __len__(self) -> int:
        return len(self.values)

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def add(self, key: str, value: Any) -> None:
        if key in self.values:
            raise ValueError(f"{key!r} is remembered already")
        current = self._ids.setdefault(self.head, [])
        if len(current) >= self.size:
            self.head += 1
            current = self._ids[self.head] = []
            for old in [n for n in self._ids if n <= self.head - self.segments]:
                for gone in self._ids.pop(old):
                    self.values.pop(gone, None)
                self._changed.add(old)
        current.append(key)
        self.values[key] = value
        self._changed.add(self.head)

    def changes(self) -> dict[int, list[list[Any]] | None]:
        """The segments changed since the last call: ``[[id, value], ...]``, or ``None`` for
        one dropped."""
        out = {n: [[k, self.values[k]] for k in self._ids[n]] if n in self._ids else None
               for n in sorted(self._changed)}
        self._changed.clear()
        return out

    def mark_all(self) -> None:
        """Every segment held counts as changed: the next :meth:`changes` writes them all."""
        self._changed.update(self._ids)

    def load(self, head: int, read: Callable[[int], list[list[Any]] | None]) -> None:
        """Read back the segments up to ``head`` (``read(n)``: a segment or ``None``)."""
        self.head = head
        for n in range(max(0, head - self.segments + 1), head + 1):
            segment = read(n) or []
            self._ids[n] = [k for k, _ in segment]
            self.values.update((k, v) for k, v in segment)
