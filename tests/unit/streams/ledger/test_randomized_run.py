"""Acceptance (issue #6): the ledger balances after a randomized run.

Random deposits, withdrawals, exchange trades (each side booked separately, in any order, some
replayed) and simplified-option sales go through the real producers — ``booking_outputs`` for
order events, ``transfer_outputs`` for transfer rows, ``option_sale_posting`` for the
settlement of an option sale — and the activity they emit is applied to one
:class:`AccountState` per account, as the risk agent would. After every step the ledger sums
to zero and every posting balances; at the end clearing is flat and every account's ledger
balance equals the risk agent's cash (less what it never hears of: option purchases, see
``test_risk_cash_sees_option_purchases``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdc.bridge.transfers import transfer_outputs
from streams.instruments import fixed_clock
from streams.ledger import CLEARING, check_ledger
from streams.ledger.booking import booking_outputs
from streams.listing import venue_catalogue
from streams.risk import AccountState
from streams.settlement.booking import option_sale_outputs
from topics.contracts import LedgerEntry, OrderEvent
from topics.contracts.cdc import TransferRow

D = Decimal
T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
CATALOGUE = venue_catalogue(fixed_clock(T0))  # the venue as it stood during the run
ACCOUNTS = ("acc-1", "acc-2", "acc-3")
#: symbol -> (tick, lot, price range in ticks, qty range in lots)
MARKETS: dict[str, tuple[Decimal, Decimal, tuple[int, int], tuple[int, int]]] = {
    "BTC-USDT": (D("0.01"), D("0.00001"), (6_000_000, 11_000_000), (1, 200_000)),
    "ETH-USDT": (D("0.01"), D("0.0001"), (250_000, 450_000), (1, 500_000)),
    "BTC-20260109-100000-C": (D("5"), D("0.01"), (1, 4000), (1, 500)),
    "ETH-20260116-3500-P": (D("0.1"), D("0.01"), (1, 5000), (1, 2000)),
}
SYMBOLS = tuple(MARKETS)

account = st.sampled_from(ACCOUNTS)
op = st.one_of(
    st.tuples(st.just("transfer"), account, st.integers(1, 10**9), st.booleans()),
    st.tuples(st.just("trade"), account, account, st.sampled_from(SYMBOLS),
              st.integers(0, 10**9), st.integers(0, 10**9), st.booleans()),
    st.tuples(st.just("option"), account, st.integers(1, 10**8), st.integers(0, 10**6)),
    st.tuples(st.just("deliver"), st.integers(0, 10**6)),
    st.tuples(st.just("replay"), st.integers(0, 10**6)),
)


class Run:
    """Feeds facts through the producers and keeps what the consumers would keep."""

    def __init__(self) -> None:
        self.states = {a: AccountState(a) for a in ACCOUNTS}
        self.entries: list[tuple[str, str, str, Decimal]] = []
        self.pending: list[OrderEvent] = []  # fill halves not booked yet
        self.delivered: list[list[tuple[str, bytes, Any]]] = []
        self.net_qty: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.n = 0

    def _next(self) -> int:
        self.n += 1
        return self.n

    def _publish(self, outputs: list[tuple[str, bytes, Any]]) -> None:
        for topic, key, record in outputs:
            if topic == "ledger":
                assert isinstance(record, LedgerEntry)
                assert key == record.account.encode()
                self.entries.append((record.event_id, record.posting_id, record.account,
                                     record.amount))
            else:
                assert topic == "accounts.activity"
                assert key == record.account.encode()
                self.states[record.account].apply(record, CATALOGUE)

    def transfer(self, acc: str, cents: int, deposit: bool) -> None:
        n = self._next()
        row = TransferRow(id=uuid.UUID(int=n), account_id=acc,
                          kind="deposit" if deposit else "withdrawal", asset="USDT",
                          amount=D(cents) / 100, reference=f"transfer {n}",
                          created_at=T0 + timedelta(seconds=n))
        self._publish(transfer_outputs(row))

    def trade(self, buyer: str, seller: str, symbol: str, price_draw: int, qty_draw: int,
              buyer_takes: bool) -> None:
        n = self._next()
        tick, lot, (p_lo, p_hi), (q_lo, q_hi) = MARKETS[symbol]
        price = tick * (p_lo + price_draw % (p_hi - p_lo + 1))
        qty = lot * (q_lo + qty_draw % (q_hi - q_lo + 1))
        for acc, side, maker in ((buyer, "buy", not buyer_takes),
                                 (seller, "sell", buyer_takes)):
            self.pending.append(OrderEvent(
                event_id=f"{symbol}:{n}:{side}", ts_event=T0 + timedelta(seconds=n),
                symbol=symbol, seq=n, kind="filled" if n % 2 else "partially_filled",
                account=acc, client_order_id=f"c{n}{side[0]}", order_id=f"o{n}{side[0]}",
                side=side, price=price, qty=qty, leaves_qty=D(0), trade_id=f"T{n}",
                is_maker=maker))
            self.net_qty[acc, symbol] += qty if side == "buy" else -qty

    def option_sale(self, acc: str, premium_cents: int, fee_cents: int) -> None:
        n = self._next()
        premium, fee = D(premium_cents) / 100, D(fee_cents) / 100
        self._publish(option_sale_outputs(order_id=f"opt-{n}", account=acc,
                                          product="BTC-20260109-100000-C", premium=premium,
                                          fee=fee, ts=T0 + timedelta(seconds=n)))

    def deliver(self, index: int) -> None:
        if self.pending:
            outputs = booking_outputs(self.pending.pop(index % len(self.pending)))
            self.delivered.append(outputs)
            self._publish(outputs)

    def replay(self, index: int) -> None:
        if self.delivered:
            before = {a: (s.cash, s.seq) for a, s in self.states.items()}
            self._publish(self.delivered[index % len(self.delivered)])
            assert {a: (s.cash, s.seq) for a, s in self.states.items()} == before


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=1, max_size=40))
def test_the_ledger_balances_after_a_randomized_run(ops: list[tuple[Any, ...]]) -> None:
    run = Run()
    for kind, *args in ops:
        getattr(run, {"option": "option_sale"}.get(kind, kind))(*args)
        check = check_ledger(run.entries)
        assert check.total == 0 and not check.unbalanced_postings, check.problems()
    while run.pending:
        run.deliver(0)

    expected = {a: s.cash for a, s in run.states.items()}
    check = check_ledger(run.entries, expected_balances=expected, clearing_flat=True)
    assert check.ok, check.problems()
    assert check.balances.get(CLEARING, D(0)) == 0
    for (acc, symbol), qty in run.net_qty.items():
        position = run.states[acc].positions.get(symbol)
        assert (position.qty if position else D(0)) == qty
    assert all(not s.open_orders for s in run.states.values())


def test_a_trade_half_booked_leaves_clearing_open_until_the_other_half() -> None:
    run = Run()
    run.trade("acc-1", "acc-2", "BTC-USDT", 0, 99, True)
    run.deliver(0)
    assert not check_ledger(run.entries, clearing_flat=True).ok
    run.deliver(0)
    assert check_ledger(run.entries, clearing_flat=True).ok


def test_risk_cash_sees_option_purchases() -> None:
    run = Run()
    run.transfer("acc-1", 100_000, True)
    run.option_sale("acc-1", 20_000, 100)
    check = check_ledger(run.entries,
                         expected_balances={"acc-1": run.states["acc-1"].cash})
    assert check.ok, check.problems()
