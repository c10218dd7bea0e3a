"""Expiry: the index TWAP and cash settlement, replayed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from streams.ledger import check_ledger
from streams.ledger.postings import CLEARING, HOUSE_OPTIONS
from streams.settlement.expiry import (
    ExpiryError,
    ExpiryPosition,
    due_expiries,
    settle_positions,
    twap,
    window,
)

EXPIRY = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
START, END = window(EXPIRY, 1800)


def at(minutes_before: float) -> datetime:
    return EXPIRY - timedelta(minutes=minutes_before)


def test_twap_weights_each_price_by_how_long_it_held() -> None:
    # 100 from before the window until 10 minutes before expiry, then 130 to the end
    price, used = twap([(at(45), Decimal(100)), (at(10), Decimal(130))], START, END)
    assert price == Decimal(100 * 20 + 130 * 10) / 30
    assert used == 2


def test_twap_ignores_prices_after_expiry_and_starts_at_the_first_sample() -> None:
    price, used = twap([(at(15), Decimal(200)), (at(5), Decimal(100)),
                        (at(-1), Decimal(999))], START, END)
    assert price == (Decimal(200 * 10 + 100 * 5) / 15).quantize(Decimal("0.00000001"))
    assert used == 2


def test_twap_without_any_index_cannot_settle() -> None:
    with pytest.raises(ExpiryError):
        twap([(at(-5), Decimal(100))], START, END)


POSITIONS = [
    ExpiryPosition("alice", "BTC-20261127-90000-C", Decimal(2), Decimal(90000), "call",
                   Decimal("0.01"), CLEARING),
    ExpiryPosition("bob", "BTC-20261127-90000-C", Decimal(-2), Decimal(90000), "call",
                   Decimal("0.01"), CLEARING),
    ExpiryPosition("carol", "BTC-20261127-95000-P", Decimal(3), Decimal(95000), "put",
                   Decimal("0.01"), HOUSE_OPTIONS),
    ExpiryPosition("dave", "BTC-20261127-80000-P", Decimal(1), Decimal(80000), "put",
                   Decimal("0.01"), HOUSE_OPTIONS),
]


def test_positions_are_cash_settled_at_intrinsic_value() -> None:
    payouts = {p.position.account: p.amount
               for p in settle_positions("BTC", EXPIRY, Decimal(92000), POSITIONS)}
    assert payouts == {"alice": Decimal("40.00000000"), "bob": Decimal("-40.00000000"),
                       "carol": Decimal("90.00000000"), "dave": Decimal("0E-8")}


def test_an_expiry_replay_gives_identical_payouts_and_changes_no_ledger() -> None:
    first = settle_positions("BTC", EXPIRY, Decimal(92000), POSITIONS)
    again = settle_positions("BTC", EXPIRY, Decimal(92000), list(reversed(POSITIONS)))
    assert [(p.position, p.amount, p.posting) for p in first] == \
        [(p.position, p.amount, p.posting) for p in again]
    rows = [(entry_id, p.posting.posting_id, leg.account, leg.amount)
            for run in (first, again) for p in run for entry_id, leg in p.posting.entries()]
    check = check_ledger(rows, clearing_flat=True)
    assert check.ok, check.problems()
    assert check.duplicates == len(rows) // 2  # the replay added nothing
    assert check.balances[HOUSE_OPTIONS] == Decimal(-90)


def test_an_unknown_right_is_refused() -> None:
    odd = ExpiryPosition("x", "BTC-20261127-1-C", Decimal(1), Decimal(1), "C", Decimal(1),
                         CLEARING)
    with pytest.raises(ExpiryError):
        settle_positions("BTC", EXPIRY, Decimal(2), [odd])


def test_due_expiries_are_the_passed_ones_of_the_last_day_not_yet_settled() -> None:
    now = EXPIRY + timedelta(minutes=5)
    candidates = {("BTC", EXPIRY), ("ETH", EXPIRY), ("BTC", EXPIRY + timedelta(days=1)),
                  ("BTC", EXPIRY - timedelta(days=3))}
    assert due_expiries(candidates, {("ETH", EXPIRY)}, now) == [("BTC", EXPIRY)]
    assert due_expiries(candidates, {("ETH", EXPIRY), ("BTC", EXPIRY)}, now) == []
