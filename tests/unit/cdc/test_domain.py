"""Ids, products and the order-status transition table."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from cdc.domain import (
    ORDER_TRANSITIONS,
    CounterError,
    OptionType,
    OrderStatus,
    Product,
    can_transition,
    check_account_id,
    check_client_order_id,
    product_id,
)
from cdc.products import STRIKE_STEP, standard_chain, standard_expiries

MIGRATIONS = Path(__file__).resolve().parents[3] / "cdc" / "migrations" / "versions"


def test_product_ids_follow_the_venue_format() -> None:
    assert product_id("BTC", date(2026, 12, 25), Decimal("100000.000"), OptionType.CALL) == \
        "BTC-20261225-100000-C"
    assert product_id("ETH", date(2026, 12, 25), Decimal("2512.50"), OptionType.PUT) == \
        "ETH-20261225-2512.5-P"
    p = Product.listed("BTC", date(2026, 12, 25), Decimal(100000), OptionType.PUT,
                       Decimal("0.01"))
    assert p.expiry == datetime(2026, 12, 25, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("value", ["", "a" * 65, "has space", "semi;colon", "ü"])
def test_bad_ids_are_refused(value: str) -> None:
    with pytest.raises(CounterError):
        check_account_id(value)
    with pytest.raises(CounterError):
        check_client_order_id(value)


def test_statuses_only_move_forward_and_terminal_ones_stay() -> None:
    assert can_transition(OrderStatus.OPEN, OrderStatus.SETTLING)
    assert can_transition(OrderStatus.SETTLING, OrderStatus.SETTLED)
    assert can_transition(OrderStatus.OPEN, OrderStatus.CANCELLED)
    for terminal in (OrderStatus.SETTLED, OrderStatus.CANCELLED):
        assert not any(can_transition(terminal, s) for s in OrderStatus)
    assert not can_transition(OrderStatus.SETTLING, OrderStatus.OPEN)


def test_the_migration_holds_the_same_transition_table() -> None:
    sql = (MIGRATIONS / "0001_schema.py").read_text()
    block = sql.split("INSERT INTO order_status_transitions VALUES", 1)[1].split(";", 1)[0]
    pairs = set(re.findall(r"\('(\w+)', '(\w+)'\)", block))
    assert pairs == {(a.value, b.value) for a, b in ORDER_TRANSITIONS}


def test_the_standard_chain_is_live_on_the_grid_and_unique() -> None:
    now = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)  # 08:00 today is too close
    expiries = standard_expiries(now)
    assert expiries[0] == date(2026, 11, 24)
    assert sum(1 for d in expiries if d.weekday() == 4) >= 2
    chain = standard_chain(now, {"BTC": Decimal(91000), "ETH": Decimal(3200)})
    assert len({p.id for p in chain}) == len(chain) == 2 * len(expiries) * 5 * 2
    for p in chain:
        assert p.strike % STRIKE_STEP[p.underlying] == 0
        assert p.expiry - now > timedelta(hours=1)
