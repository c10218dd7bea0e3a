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
* ``x<n>`` — slot ``n`` of the ring of saves (see below);
* ``j`` — the journal of the layout before the ring, still read (see :func:`journaled`).

**A save is one message.** Each save writes what it changed as one record — ``{"w": save
number, "parts": {part: value}}`` — into ring slot ``w % RING``, and nothing else. The parts
under their own keys are a checkpoint: every ``RING - 1`` saves, the parts changed since the
last checkpoint are written there once each, the core last carrying its save number. Reading
takes the stored parts and replays, over them, the ring's saves newer than the stored core
(:func:`read_parts`). Writing each part twice on every save — a journal record with all of
them, then each under its own key — had cost risk a third of its CPU (py-spy, 2026-12-06):
each write is a store put and a changelog message.

**A save is atomic in the changelog.** A worker killed while a save is on its way to Kafka
leaves the changelog with the save whole (its one record arrived) or not at all. A
checkpoint cut in the middle leaves some parts newer than the core says; the ring still holds
every save since the last checkpoint, and replaying them over the parts gives each part its
latest value (a part in no save since then did not change). A ring slot is reused only after
a checkpoint made its save old.

**A deletion is always sent.** Faust's table sends a changelog tombstone from
``__delitem__`` only: ``pop`` of a key the worker's own store does not hold sends nothing. A
part the store dropped in a save the changelog lost (the kill) is absent here but still
holds its old orders in the changelog, so :func:`write_save` deletes with ``del``, which
tells the changelog even then (the drill's "risk holds 23 open orders, the engine 16").

**A restart writes the account out whole once.** The worker's own store survives a kill
(RocksDB's write-ahead log) but the changelog lost the unacknowledged tail; the batch is
replayed, finds everything already done and would write nothing, leaving the changelog
behind the worker for good. The first save of an account loaded by a new process is
therefore *full*: one ring record with every part (the base a reader starts from), then
every part, the other ring slots deleted (saves of a lineage the changelog never saw) and
the core last.
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
    "RING",
    "SEPARATOR",
    "Remembered",
    "Saves",
    "applied_part",
    "decisions_part",
    "delta_part",
    "order_bucket",
    "orders_part",
    "read_parts",
    "split_key",
    "store_key",
    "write_save",
]

CORE = ""
MMP = "m"
JOURNAL = "j"
SEPARATOR = "/"
ORDER_BUCKETS = 64
#: slots in the ring of saves: a checkpoint every ``RING - 1`` saves; a reader looks at all
RING = 32


@lru_cache(maxsize=65_536)
def order_bucket(client_order_id: str) -> int:
    return zlib.crc32(client_order_id.encode()) % ORDER_BUCKETS


def orders_part(bucket: int) -> str:
    return f"o{bucket}"


def decisions_part(segment: int) -> str:
    return f"d{segment}"


def applied_part(segment: int) -> str:
    return f"a{segment}"


def delta_part(slot: int) -> str:
    return f"x{slot}"


def journaled(read: Callable[[str], Any]) -> Callable[[str], Any]:
    """``read`` (a part, or ``None``) with the journal's parts over the stored ones when a
    save of the layout before the ring did not land whole: its number is ahead of the
    core's. Kept so that a store written before the ring reads back right."""
    journal = read(JOURNAL)
    core = read(CORE)
    if not journal or (core is not None and core.get("w", 0) >= journal["w"]):
        return read
    parts: dict[str, Any] = journal["parts"]
    return lambda part: parts[part] if part in parts else read(part)


@dataclass
class Saves:
    """One account's saves since its last checkpoint: ``base`` is the number of the
    checkpoint (or of the full save) they build on, ``since`` every part they changed, with
    its latest value. :meth:`plan` turns a save into its writes."""

    base: int = 0
    since: dict[str, Any] = field(default_factory=dict)

    def plan(self, changes: dict[str, Any], *, full: bool = False) -> list[tuple[str, Any]]:
        """The writes of one save (``changes``: :meth:`AccountState.changes`, the core
        always among them), in the order that keeps it atomic (module docstring)."""
        w = changes[CORE]["w"]
        record: dict[str, Any] = {"w": w, "parts": changes}
        if full:
            record["full"] = True
            self.since = {}
        writes: list[tuple[str, Any]] = [(delta_part(w % RING), record)]
        self.since.update(changes)
        if full or w - self.base >= RING - 1:
            writes += [(part, value) for part, value in self.since.items() if part != CORE]
            if full:  # slots of saves the changelog may never have had
                writes += [(delta_part(n), None) for n in range(RING) if n != w % RING]
            writes.append((CORE, self.since[CORE]))
            self.base, self.since = w, {}
        return writes


def read_parts(read: Callable[[str], Any]) -> tuple[Callable[[str], Any], Saves]:
    """``read`` (a stored part, or ``None``) as of the account's last save: the ring's
    saves newer than the stored core replayed over the stored parts, from the newest full
    save among them. Also the :class:`Saves` that the next save continues."""
    stored = journaled(read)
    core = stored(CORE)
    checkpoint = core.get("w", 0) if core is not None else 0
    ring = sorted((record for n in range(RING)
                   if (record := read(delta_part(n))) is not None and record["w"] > checkpoint),
                  key=lambda record: record["w"])
    fulls = [i for i, record in enumerate(ring) if record.get("full")]
    ring = ring[fulls[-1]:] if fulls else ring
    since: dict[str, Any] = {}
    for record in ring:
        since.update(record["parts"])
    saves = Saves(ring[0]["w"] if fulls else checkpoint, since)
    if not since:
        return stored, saves
    return (lambda part: since[part] if part in since else stored(part)), saves


def write_save(table: MutableMapping[bytes, Any], account: str,
               writes: list[tuple[str, Any]]) -> None:
    """Apply one save's ``writes`` (:meth:`Saves.plan`) to ``table`` in their order; a
    ``None`` part is deleted with ``del``, whether or not the table holds it (see the
    module's docstring)."""
    for part, value in writes:
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
