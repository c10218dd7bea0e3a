"""check_ledger: what it proves and what it catches."""

from __future__ import annotations

from decimal import Decimal

from streams.ledger import (
    CLEARING,
    HOUSE_CASH,
    Posting,
    check_ledger,
    fill_posting,
    transfer_posting,
)

D = Decimal
Row = tuple[str, str, str, Decimal]


def rows(*postings: Posting) -> list[Row]:
    return [(entry_id, p.posting_id, leg.account, leg.amount)
            for p in postings for entry_id, leg in p.entries()]


def _trade(trade_id: str, notional: Decimal) -> list[Posting]:
    return [fill_posting(trade_id=trade_id, liquidity="taker", account="b", symbol="BTC-USDT",
                         cash=-notional, fee=D("0.5"), option=False),
            fill_posting(trade_id=trade_id, liquidity="maker", account="s", symbol="BTC-USDT",
                         cash=notional, fee=D("0.2"), option=False)]


def test_a_balanced_ledger_is_ok() -> None:
    deposit = transfer_posting(transfer_id="1", account="b", amount=D(2000), reference="in")
    check = check_ledger(rows(deposit, *_trade("T1", D(1000))), clearing_flat=True)
    assert check.ok, check.problems()
    assert check.entries == 10
    assert check.total == 0
    assert check.balances["b"] == D("999.5")
    assert check.balances["s"] == D("999.8")
    assert check.balances[HOUSE_CASH] == D(-2000)
    assert check.problems() == []


def test_finds_an_unbalanced_posting() -> None:
    good = rows(*_trade("T1", D(1000)))
    broken = [*good, ("bad:0", "bad", "b", D("5")), ("bad:1", "bad", "house:fees", D("-4.99"))]
    check = check_ledger(broken)
    assert not check.ok
    assert check.unbalanced_postings == {"bad": D("0.01")}
    assert check.total == D("0.01")
    assert "posting bad sums to 0.01" in check.problems()
    assert "entries sum to 0.01, not 0" in check.problems()


def test_counts_a_replayed_entry_once() -> None:
    trade = rows(*_trade("T1", D(1000)))
    check = check_ledger([*trade, *trade[:3]])
    assert check.ok, check.problems()
    assert check.entries == len(trade)
    assert check.duplicates == 3
    assert check.balances["b"] == D("-1000.5")


def test_a_different_amount_under_a_replayed_id_is_ignored() -> None:
    # an entry id names one entry: the first version counts (consumers upsert, not add)
    trade = rows(*_trade("T1", D(1000)))
    entry_id, posting_id, account, _ = trade[0]
    check = check_ledger([*trade, (entry_id, posting_id, account, D("-999999"))])
    assert check.ok
    assert check.balances["b"] == D("-1000.5")


def test_detects_a_mismatched_expected_balance() -> None:
    check = check_ledger(rows(*_trade("T1", D(1000))),
                         expected_balances={"b": D("-1000.5"), "s": D("1000"), "nobody": D(1)})
    assert not check.ok
    assert check.mismatched_accounts == {"s": (D("1000"), D("999.8")), "nobody": (D(1), D(0))}
    assert "account s: expected 1000, ledger says 999.8" in check.problems()


def test_detects_clearing_that_is_not_flat() -> None:
    buy_only = rows(_trade("T1", D(1000))[0])
    assert check_ledger(buy_only).ok  # balanced: clearing holds the open side
    check = check_ledger(buy_only, clearing_flat=True)
    assert not check.ok
    assert check.mismatched_accounts == {CLEARING: (D(0), D(1000))}


def test_an_empty_ledger_is_ok_and_flat() -> None:
    check = check_ledger([], expected_balances={}, clearing_flat=True)
    assert check.ok
    assert check.entries == 0
