"""The simulated routing venue: IOC fills on its own book and lot grid, partial liquidity,
latency, and the client order id as idempotency key (a re-send gets the original answer)."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from streams.routing.venues import RoutingVenue, ioc_fill
from streams.settlement.venue import Book, VenueError

D = Decimal
BOOK: Book = ([(D(99), D(1)), (D(98), D(2))], [(D(100), D("0.5")), (D(101), D(1))])


@pytest.mark.parametrize(("side", "qty", "lot", "ratio", "filled", "avg"), [
    ("buy", "0.5", "0.1", "1", "0.5", "100"),
    ("buy", "1", "0.1", "1", "1", "100.5"),
    ("buy", "5", "0.1", "1", "1.5", None),  # IOC: what the book has, the rest is gone
    ("buy", "1", "0.1", "0.5", "0.7", None),  # half of each level is really there
    ("sell", "2", "1", "1", "2", "98.5"),
    ("sell", "0.05", "0.1", "1", "0", None),  # less than a lot: nothing
])
def test_ioc_fill(side: str, qty: str, lot: str, ratio: str, filled: str,
                  avg: str | None) -> None:
    got_qty, got_avg = ioc_fill(BOOK, side, D(qty), D(lot), D(ratio))
    assert got_qty == D(filled)
    if got_qty == 0:
        assert got_avg is None
    elif avg is not None:
        assert got_avg == D(avg)


def test_partial_fill_average_is_exact() -> None:
    qty, avg = ioc_fill(BOOK, "buy", D(1), D("0.1"), D("0.5"))
    assert qty == D("0.7") and avg == (D("0.25") * 100 + D("0.45") * 101) / D("0.7")


def _venue(tmp_path: Path, book: Book | None = BOOK, **kw: object) -> RoutingVenue:
    params: dict[str, object] = {"name": "alpha", "fee_rate": D("0.001"), "lot_size": D("0.1")}
    params.update(kw)
    return RoutingVenue(tmp_path / "alpha.sqlite", lambda _s: book, **params)  # type: ignore[arg-type]


def test_a_resend_returns_the_original_fill(tmp_path: Path) -> None:
    moving: list[Book] = [BOOK]
    venue = RoutingVenue(tmp_path / "v.sqlite", lambda _s: moving[0], name="alpha",
                         fee_rate=D("0.001"), lot_size=D("0.1"))
    first = venue.place_market_order(client_order_id="p:1:alpha", symbol="BTC-USDT",
                                     side="buy", qty=D(1))
    moving[0] = ([], [(D(200), D(10))])  # the book moved: a second trade would differ
    again = venue.place_market_order(client_order_id="p:1:alpha", symbol="BTC-USDT",
                                     side="buy", qty=D(1))
    assert again == first and venue.count("p:1:alpha") == 1
    assert first.qty == D(1) and first.avg_price == D("100.5")
    assert first.fee == D("0.1005") and first.reference_price == D("99.5")


def test_a_zero_fill_is_recorded_and_answered_the_same(tmp_path: Path) -> None:
    venue = _venue(tmp_path, book=([(D(99), D(1))], []))
    fill = venue.place_market_order(client_order_id="k", symbol="BTC-USDT", side="buy",
                                    qty=D(1))
    assert fill.qty == 0 and fill.fee == 0
    assert venue.find_order("k") == fill


def test_no_book_is_a_refusal_and_nothing_is_recorded(tmp_path: Path) -> None:
    venue = _venue(tmp_path, book=None)
    with pytest.raises(VenueError):
        venue.place_market_order(client_order_id="k", symbol="BTC-USDT", side="buy", qty=D(1))
    assert venue.find_order("k") is None


def test_the_order_is_taken_before_the_answer_comes_back(tmp_path: Path) -> None:
    venue = _venue(tmp_path, latency_s=0.4)
    started = time.monotonic()
    thread = threading.Thread(target=venue.place_market_order, kwargs={
        "client_order_id": "k", "symbol": "BTC-USDT", "side": "buy", "qty": D("0.5")})
    thread.start()
    time.sleep(0.3)  # past the request's half: taken, the answer still on its way
    assert venue.find_order("k") is not None
    thread.join()
    assert time.monotonic() - started >= 0.4


def test_two_venues_keep_separate_ledgers(tmp_path: Path) -> None:
    a = RoutingVenue(tmp_path / "a.sqlite", lambda _s: BOOK, name="a", fee_rate=D(0),
                     lot_size=D("0.1"))
    b = RoutingVenue(tmp_path / "b.sqlite", lambda _s: BOOK, name="b", fee_rate=D(0),
                     lot_size=D("0.1"))
    a.place_market_order(client_order_id="p:1:a", symbol="BTC-USDT", side="sell", qty=D(1))
    assert b.find_order("p:1:a") is None and a.count() == 1 and b.count() == 0
