"""Which snapshot slot a restart starts from, and which one the next snapshot replaces."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.matching.snapshot_slots import (
    newest_before,
    slot_offsets,
    slot_to_replace,
    slot_value,
)

BOOK = {"seq": 1}


def test_the_newest_snapshot_before_the_first_command_is_the_base() -> None:
    values = {0: slot_value(10, BOOK), 1: slot_value(20, BOOK)}
    assert newest_before(values, 25) == values[1]
    assert newest_before(values, 20) == values[0]  # 20 itself is not before the restart
    assert newest_before(values, 10) is None  # both newer: the whole history is replayed


def test_a_slot_of_an_older_layout_or_a_missing_one_is_never_a_base() -> None:
    values = {0: {"bids": [], "asks": []}, 1: None}
    assert newest_before(values, 100) is None
    assert slot_offsets(values) == {}
    assert slot_offsets({0: slot_value(7, BOOK), 1: {"offset": "7", "snapshot": BOOK}}) == {0: 7}


def test_the_empty_slot_then_the_older_one_is_replaced() -> None:
    assert slot_to_replace({}) == 0
    assert slot_to_replace({0: 5}) == 1
    assert slot_to_replace({0: 5, 1: 9}) == 0
    assert slot_to_replace({0: 9, 1: 5}) == 1


@given(st.lists(st.integers(0, 1000), min_size=1, max_size=40), st.integers(0, 1001),
       st.data())
def test_a_write_lost_at_any_point_leaves_a_base_that_includes_what_it_says(
    offsets: list[int], first: int, data: st.DataObject,
) -> None:
    """Snapshots at rising offsets, any suffix of the writes lost (a SIGKILL): the base a
    restart picks is a slot actually written with that offset, and it is the newest such one
    before the restart point; one is always found while one written before it survives."""
    offsets = sorted(set(offsets))
    kept = data.draw(st.integers(1, len(offsets)))  # writes delivered before the kill
    stored: dict[int, object] = {}
    known: dict[int, int] = {}
    for offset in offsets[:kept]:
        slot = slot_to_replace(known)
        stored[slot] = slot_value(offset, {"at": offset})
        known[slot] = offset
    base = newest_before(stored, first)
    before = [o for o in offsets[:kept] if o < first]
    surviving = [v["offset"] for v in stored.values()]  # type: ignore[index]
    if base is None:
        assert not [o for o in surviving if o < first]
    else:
        assert base["snapshot"] == {"at": base["offset"]}
        assert base["offset"] == max(o for o in surviving if o < first)
        assert base["offset"] in before
