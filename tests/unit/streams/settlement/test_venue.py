"""The simulated venue: walking the book, fees, idempotency by client order id."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from streams.settlement.venue import VenueError, VenueFill, walk_book
from tests.unit.streams.settlement.settlement_support import BOOK, venue

D = Decimal


def test_walk_book_averages_across_levels() -> None:
    avg, mid = walk_book(BOOK, "buy", D("0.5"))
    assert mid == D(100_000)
    assert avg == (D("0.3") * 100_010 + D("0.2") * 100_020) / D("0.5")  # 100014
    assert avg == D(100_014)
    avg, _ = walk_book(BOOK, "sell", D(1))
    assert avg == (D("0.5") * 99_990 + D("0.5") * 99_980) / 1
    assert walk_book(BOOK, "buy", D("0.3")) == (D(100_010), D(100_000))


def test_walk_book_raises_on_insufficient_liquidity_or_a_one_sided_book() -> None:
    with pytest.raises(VenueError, match=r"not enough liquidity for 2\.6: 0\.1 left"):
        walk_book(BOOK, "sell", D("2.6"))
    with pytest.raises(VenueError, match="one-sided"):
        walk_book(([], BOOK[1]), "buy", D("0.1"))


def test_a_market_order_fills_with_fee_and_slippage(tmp_path: Path) -> None:
    v = venue(tmp_path, slippage_bps="10")
    filled = v.place_market_order(client_order_id="hedge:1", symbol="BTC-USDT", side="buy",
                                  qty=D("0.5"))
    assert filled == VenueFill("simulated", "hedge:1", "BTC-USDT", "buy", D("0.5"),
                               D("100114.014"), D(100_000), D("50.057007"))
    assert filled.slippage_bps == D("11.40")


def test_the_client_order_id_is_the_idempotency_key(tmp_path: Path) -> None:
    v = venue(tmp_path)
    first = v.place_market_order(client_order_id="hedge:1", symbol="BTC-USDT", side="buy",
                                 qty=D("0.5"))
    # another process (a restarted worker) on the same venue, with another book by now
    other = venue(tmp_path, book=([(D(1), D(10))], [(D(2), D(10))]))
    again = other.place_market_order(client_order_id="hedge:1", symbol="BTC-USDT",
                                      side="buy", qty=D("0.5"))
    assert again == first
    assert other.count() == 1 and other.count("hedge:1") == 1
    assert other.find_order("hedge:2") is None
    assert other.orders() == [first]


def test_refusals_place_nothing(tmp_path: Path) -> None:
    with pytest.raises(VenueError, match="injected"):
        venue(tmp_path, failure_rate=1.0).place_market_order(
            client_order_id="h", symbol="BTC-USDT", side="buy", qty=D("0.1"))
    with pytest.raises(VenueError, match="no book for BTC-USDT"):
        venue(tmp_path, book=None).place_market_order(
            client_order_id="h", symbol="BTC-USDT", side="buy", qty=D("0.1"))
    with pytest.raises(VenueError, match="liquidity"):
        venue(tmp_path).place_market_order(client_order_id="h", symbol="BTC-USDT",
                                           side="buy", qty=D(6))
    assert venue(tmp_path).count() == 0
