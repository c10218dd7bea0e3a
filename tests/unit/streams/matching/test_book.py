"""Depth views: top of book, aggregated levels and sequenced per-level deltas."""

from __future__ import annotations

from streams.matching import DepthDelta, DepthLevel
from tests.unit.streams.matching.harness import BUY, IID, SELL, Harness


def _book() -> Harness:
    h = Harness()
    h.buy("b1", 5, 100)
    h.buy("b2", 3, 100)
    h.buy("b3", 4, 98)
    h.sell("a1", 10, 103, display_qty=2)
    h.sell("a2", 1, 104)
    return h


def test_top_of_book_shows_visible_quantity() -> None:
    top = _book().engine.top_of_book()
    assert (top.bid_price, top.bid_qty, top.ask_price, top.ask_qty) == (100, 8, 103, 2)
    assert top.seq == 5 and top.instrument_id == IID


def test_empty_top_of_book() -> None:
    top = Harness().engine.top_of_book()
    assert (top.bid_price, top.bid_qty, top.ask_price, top.ask_qty) == (None, 0, None, 0)


def test_depth_aggregates_levels_best_first() -> None:
    depth = _book().engine.depth(2)
    assert depth.bids == [DepthLevel(100, 8, 2), DepthLevel(98, 4, 1)]
    assert depth.asks == [DepthLevel(103, 2, 1), DepthLevel(104, 1, 1)]
    assert _book().engine.depth(1).bids == [DepthLevel(100, 8, 2)]
    assert _book().engine.depth(0).asks == []
    assert len(_book().engine.depth(None).bids) == 2


def test_depth_deltas_report_changed_levels_once_with_the_seq() -> None:
    h = _book()
    first = h.engine.take_depth_deltas()
    assert first == [
        DepthDelta(IID, 5, BUY, 100, 8, 2),
        DepthDelta(IID, 5, BUY, 98, 4, 1),
        DepthDelta(IID, 5, SELL, 103, 2, 1),
        DepthDelta(IID, 5, SELL, 104, 1, 1),
    ]
    assert h.engine.take_depth_deltas() == []
    h.sell("s1", 9, 100)  # takes the whole 100 level, rests 1 at 100
    h.cancel("b3")
    seq = h.engine.seq
    assert h.engine.take_depth_deltas() == [
        DepthDelta(IID, seq, BUY, 100, 0, 0),
        DepthDelta(IID, seq, BUY, 98, 0, 0),
        DepthDelta(IID, seq, SELL, 100, 1, 1),
    ]


def test_iceberg_refresh_updates_the_visible_level() -> None:
    h = _book()
    h.engine.take_depth_deltas()
    h.buy("t1", 3, 103)  # eats 2 visible, refresh shows 2 more, eats 1 of them
    (delta,) = h.engine.take_depth_deltas()
    assert (delta.price, delta.qty, delta.count) == (103, 1, 1)
    assert h.book()["asks"][0] == ("a1", 103, 7, 1)


def test_applying_deltas_to_a_snapshot_rebuilds_the_depth() -> None:
    h = _book()
    h.engine.take_depth_deltas()
    mirror = {(BUY, lv.price): (lv.qty, lv.count) for lv in h.engine.depth(None).bids} | {
        (SELL, lv.price): (lv.qty, lv.count) for lv in h.engine.depth(None).asks
    }
    for step in range(30):
        if step % 3 == 0:
            h.buy(f"x{step}", 1 + step % 4, 99 + step % 6)
        elif step % 3 == 1:
            h.sell(f"y{step}", 2 + step % 3, 100 + step % 5)
        else:
            h.cancel(f"x{step - 2}")
        for d in h.engine.take_depth_deltas():
            if d.count:
                mirror[(d.side, d.price)] = (d.qty, d.count)
            else:
                mirror.pop((d.side, d.price), None)
    full = h.engine.depth(None)
    expected = {(BUY, lv.price): (lv.qty, lv.count) for lv in full.bids} | {
        (SELL, lv.price): (lv.qty, lv.count) for lv in full.asks
    }
    assert mirror == expected


def test_a_level_changed_again_after_a_read_or_a_restore_is_reported_again() -> None:
    """Levels remember that their price is already listed as changed; a read, and a
    restore from a snapshot, must make every later change report again."""
    from streams.matching import MatchingEngine

    h = _book()
    h.engine.take_depth_deltas()
    h.amend("b1", qty=4)  # quantity decrease: edited in place
    seq = h.engine.seq
    assert h.engine.take_depth_deltas() == [DepthDelta(IID, seq, BUY, 100, 7, 2)]
    h.amend("b2", qty=2)
    h.cancel("a2")  # drops the level
    h.sell("a3", 2, 104)  # a new level at the same price
    seq = h.engine.seq
    assert h.engine.take_depth_deltas() == [
        DepthDelta(IID, seq, BUY, 100, 6, 2),
        DepthDelta(IID, seq, SELL, 104, 2, 1),
    ]
    h.cancel("b3")
    restored = Harness(MatchingEngine.from_snapshot(h.engine.to_snapshot()))
    restored.names, restored._ids = dict(h.names), h._ids
    restored.engine.take_depth_deltas()
    restored.cancel("a3")
    restored.buy("b4", 1, 98)
    seq = restored.engine.seq
    assert restored.engine.take_depth_deltas() == [
        DepthDelta(IID, seq, BUY, 98, 1, 1),
        DepthDelta(IID, seq, SELL, 104, 0, 0),
    ]
