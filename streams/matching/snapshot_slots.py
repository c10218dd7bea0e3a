"""An instrument's two snapshot slots: which one a restart starts from, which one the next
snapshot replaces.

A restart needs a snapshot that includes only commands *before* its first delivered command
(the committed offset), and the newest one may be past it (snapshots are written before the
offset is committed), so two are kept. Each slot is **one table value holding the snapshot
and the command offset it includes** — one changelog message, so it is delivered whole or not
at all.

Why not a small record naming the slots (the earlier layout): the record and the slot were two
messages, and a worker SIGKILLed after the slot's delivery but before the record's left a
record that named, as its "previous" snapshot, a slot that already held the newer one; a
restart then replayed the commands between the two offsets a second time and the book
diverged. Here nothing but the slot itself says what it holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

__all__ = ["SLOTS", "Slot", "newest_before", "slot_key", "slot_offsets", "slot_to_replace",
           "slot_value"]

SLOTS = (0, 1)


class Slot(TypedDict):
    offset: int  # the last command offset the snapshot includes
    snapshot: dict[str, Any]


def slot_key(symbol: str, slot: int) -> bytes:
    return f"{symbol}#{slot}".encode()  # '#' is in no instrument id


def slot_value(offset: int, snapshot: dict[str, Any]) -> Slot:
    return {"offset": offset, "snapshot": snapshot}


def _valid(value: Any) -> bool:
    """A slot written in this layout (an older layout's bare snapshot is not one)."""
    return (isinstance(value, Mapping) and type(value.get("offset")) is int
            and isinstance(value.get("snapshot"), Mapping))


def slot_offsets(values: Mapping[int, Any]) -> dict[int, int]:
    """The offset each readable slot holds."""
    return {slot: value["offset"] for slot, value in values.items() if _valid(value)}


def newest_before(values: Mapping[int, Any], first_offset: int) -> Slot | None:
    """The newest slot that includes only commands before ``first_offset``, if any."""
    usable = [value for value in values.values()
              if _valid(value) and value["offset"] < first_offset]
    return max(usable, key=lambda value: value["offset"], default=None)


def slot_to_replace(offsets: Mapping[int, int]) -> int:
    """The empty slot, else the one holding the older snapshot: the newer one stays."""
    return min(SLOTS, key=lambda slot: offsets.get(slot, -1))
