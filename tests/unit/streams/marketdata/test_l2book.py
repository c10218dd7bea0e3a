"""One venue's book: sequence, gaps and resync, crossed books, redeliveries, persistence."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from streams.marketdata.l2book import L2Verdict, VenueBook
from topics.contracts import L2Update

from .md_support import l2, snap

D = Decimal


def test_snapshot_then_deltas_in_sequence() -> None:
    book = VenueBook()
    assert book.apply(snap("okx", 10, 0, "100")) is L2Verdict.SNAPSHOT
    assert book.apply(l2("okx", 11, 1, bids=[("99.5", "3")], asks=[("101", "0")]))\
        is L2Verdict.APPLIED
    assert book.bids[D("99.5")] == 3 and D("101") not in book.asks
    assert (book.best_bid(), book.best_ask(), book.mid()) == (D("99.5"), D("100.5"), D("100"))
    bids, asks = book.top(1)
    assert bids == [(D("99.5"), D(3))] and asks == [(D("100.5"), D(1))]


@pytest.mark.parametrize(("seq", "verdict"), [(14, L2Verdict.GAP), (11, L2Verdict.GAP)])
def test_a_gap_drops_the_book_until_the_next_snapshot(seq: int, verdict: L2Verdict) -> None:
    """A skipped number (or one going backwards with a newer time: a restart) is a gap."""
    book = VenueBook()
    book.apply(snap("okx", 11, 0, "100"))
    assert book.apply(l2("okx", 12, 1, bids=[("99", "1")])) is L2Verdict.APPLIED
    assert book.apply(l2("okx", seq, 2, bids=[("99", "2")])) is verdict
    assert not book.in_sync and book.mid() is None and book.top(5) == ([], [])
    # deltas are ignored, whatever their number, until a snapshot arrives
    assert book.apply(l2("okx", 15, 3, bids=[("99", "5")])) is L2Verdict.IGNORED
    assert book.apply(snap("okx", 20, 4, "105")) is L2Verdict.SNAPSHOT
    assert book.in_sync and book.mid() == D("105")
    assert book.apply(l2("okx", 21, 5, asks=[("105.5", "2")])) is L2Verdict.APPLIED


def test_a_delta_before_any_snapshot_asks_for_one() -> None:
    book = VenueBook()
    assert book.apply(l2("okx", 5, 0, bids=[("99", "1")])) is L2Verdict.NO_SNAPSHOT
    assert book.apply(l2("okx", 6, 1, bids=[("99", "1")])) is L2Verdict.NO_SNAPSHOT
    assert book.apply(snap("okx", 7, 2, "100")) is L2Verdict.SNAPSHOT


def test_a_delta_that_crosses_the_book_is_corrupt_and_drops_it() -> None:
    book = VenueBook()
    book.apply(snap("okx", 1, 0, "100"))
    assert book.apply(l2("okx", 2, 1, bids=[("100.6", "1")])) is L2Verdict.CROSSED
    assert not book.in_sync
    assert L2Verdict.CROSSED.needs_snapshot and not L2Verdict.APPLIED.needs_snapshot


def test_redelivered_messages_are_duplicates_and_change_nothing() -> None:
    """After a crash Kafka redelivers what was applied: same or older time, not a gap."""
    book = VenueBook()
    first = snap("okx", 1, 0, "100")
    book.apply(first)
    delta = l2("okx", 2, 1, bids=[("99.5", "7")])
    book.apply(delta)
    before = book.to_state()
    assert book.apply(first) is L2Verdict.DUPLICATE
    assert book.apply(delta) is L2Verdict.DUPLICATE
    assert book.to_state() == before


def test_a_venue_restarting_its_numbers_is_accepted_from_a_newer_snapshot() -> None:
    book = VenueBook()
    book.apply(snap("okx", 500, 0, "100"))
    assert book.apply(snap("okx", 1, 10, "101")) is L2Verdict.SNAPSHOT
    assert book.seq == 1 and book.mid() == D("101")


def test_contract_rejects_corrupt_snapshots_and_bad_sizes() -> None:
    with pytest.raises(ValueError, match="must not be crossed"):
        snap("okx", 1, 0, "100", half="-0.5")
    with pytest.raises(ValueError, match="size > 0"):
        l2("okx", 1, 0, bids=[("99", "0")], snapshot=True)
    with pytest.raises(ValueError, match="appears twice"):
        l2("okx", 1, 0, bids=[("99", "1"), ("99", "2")])
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        l2("okx", 1, 0, bids=[("99", "-1")])
    with pytest.raises(ValueError, match="no more than 9 decimal"):
        l2("okx", 1, 0, bids=[("99.0000000001", "1")])
    assert isinstance(l2("okx", 1, 0, bids=[("99", "0")]), L2Update)  # 0 deletes in a delta


def test_state_round_trips_through_json() -> None:
    book = VenueBook()
    book.apply(snap("okx", 1, 0, "100"))
    book.apply(l2("okx", 2, 1, bids=[("99.25", "0.000000001")]))
    again = VenueBook.from_state(json.loads(json.dumps(book.to_state())))
    assert again.to_state() == book.to_state()
    assert again.apply(l2("okx", 3, 2, asks=[("100.5", "0")])) is L2Verdict.APPLIED
