"""Between contracts and the screener: relations, inputs at venue time, cases as events."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from streams.compliance import Screener
from streams.compliance.wire import case_event, group_of, relations_for, trade_of, transfer_of
from topics.catalogue import by_name
from topics.contracts import FundsTransferred, Trade

D = Decimal
T = datetime(2026, 12, 5, 12, tzinfo=UTC)
NS = 1_780_000_000_000 * 1_000_000  # the broker's log-append time, ns


@pytest.mark.parametrize(("account", "related", "group"), [
    ("acc-a", {}, None),
    ("acc-a", {"acc-a": "family-1"}, "family-1"),
    ("firm:desk1", {}, "sub:firm"),
    ("firm:desk1", {"firm:desk1": "other"}, "other"),  # configuration wins
    ("house:clearing", {}, None),  # the venue's own accounts are nobody's sub-accounts
    (":x", {}, None),
])
def test_group_of(account: str, related: dict[str, str], group: str | None) -> None:
    assert group_of(account, related) == group


def test_relations_only_name_grouped_accounts() -> None:
    assert relations_for(("m:1", "m:2", "acc-x"), {}) == {"m:1": "sub:m", "m:2": "sub:m"}


def _trade(buyer: str, seller: str, n: int = 1, price: str = "100") -> Trade:
    return Trade(event_id=f"BTC-USDT:{n}", ts_event=T, symbol="BTC-USDT", trade_id=f"t{n}",
                 price=D(price), qty=D("2"), aggressor_side="buy", maker_order_id="m",
                 taker_order_id="k", maker_account=seller, taker_account=buyer, seq=n)


def test_inputs_take_the_venue_time_not_the_event_time() -> None:
    moved = FundsTransferred(event_id="transfer:u1", ts_event=T, account="a", transfer_id="u1",
                             amount=D("-9500"), reference="r", address="0xAbC")
    transfer = transfer_of(moved, NS)
    assert (transfer.direction, transfer.amount, transfer.ts_ms, transfer.address) == \
        ("withdrawal", D("9500"), NS // 1_000_000, "0xAbC")
    trade = trade_of(_trade("b", "s"), NS)
    assert (trade.buyer, trade.seller, trade.ts_ms) == ("b", "s", NS // 1_000_000)


def test_a_wash_trade_between_sub_accounts_becomes_a_valid_case_event() -> None:
    trade = trade_of(_trade("m:1", "m:2"), NS)
    screener = Screener(related=relations_for((trade.buyer, trade.seller), {}))
    (case,) = screener.on_trade(trade)
    event = case_event(case, "trades", "BTC-USDT:1")
    assert event.event_id == event.case_id == "wash_trade:m:1:t1"
    assert (event.code, event.account, event.accounts, event.severity) == \
        (7304, "m:1", ["m:1", "m:2"], "high")
    assert event.evidence[0].amount == D("200") and event.evidence[0].counterparty == "m:2"
    spec = by_name("compliance.cases")
    assert spec.decode(spec.encode(event)) == event  # the wire, both ways
    assert screener.on_trade(trade) == []  # replayed: nothing new
