"""The acceptance state machine: pending → hedging → hedged → booked, retries, and resuming
from any stored state hedges once and books once."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from streams.ledger import HOUSE_FEES, HOUSE_HEDGE, HOUSE_OPTIONS, check_ledger
from streams.marketdata.pricing import PricingError
from streams.settlement import machine
from streams.settlement.machine import Settlement, advance, start
from streams.settlement.venue import VenueAdapter
from tests.unit.streams.settlement.settlement_support import NOW_S, option_order, venue
from topics.catalogue import by_name
from topics.contracts import HedgeFill, LedgerEntry, SettlementResult

D = Decimal
RETRY = {"retry_initial_s": 0.2, "retry_max_s": 1.0}
Output = tuple[str, bytes, Any]


def run(s: Settlement, v: VenueAdapter, now_s: float = NOW_S) -> list[Output]:
    out = advance(s, v, now_s, **RETRY)
    for topic, key, record in out:  # every output is its topic's contract
        assert by_name(topic).encode(record)
        assert key
    return out


def states(out: list[Output]) -> list[str]:
    return [r.state for t, _, r in out if t == "settlement.results"]


def ledger(out: list[Output]) -> list[tuple[str, str, str, Decimal]]:
    return [(e.event_id, e.posting_id, e.account, e.amount)
            for t, _, e in out if t == "ledger" and isinstance(e, LedgerEntry)]


def stored(s: Settlement) -> Settlement:
    """What the agent keeps in its table and reads back."""
    return Settlement.from_json(json.loads(json.dumps(s.to_json())))


def test_start_computes_the_hedge() -> None:
    s = start(option_order(contracts="2"), partition=4)
    assert (s.state, s.partition, s.account) == ("pending", 4, "acc-1")
    assert (s.hedge_symbol, s.hedge_side) == ("BTC-USDT", "buy")
    assert D("1") < D(s.hedge_qty) < D("1.1")  # 2 x a delta just above 0.5
    assert s.hedge_id == f"hedge:{s.order_id}"
    assert stored(s) == s


def test_a_put_sale_is_hedged_by_selling() -> None:
    s = start(option_order(option_type="put"), partition=0)
    assert s.hedge_side == "sell"


def test_pending_to_booked_in_one_advance(tmp_path: Path) -> None:
    v = venue(tmp_path)
    s = start(option_order(), partition=0)
    qty = D(s.hedge_qty)
    out = run(s, v)
    assert states(out) == ["pending", "hedging", "hedged", "booked"]
    assert s.state == "booked" and s.attempts == 1 and s.reason is None
    assert v.count() == 1

    fills = [r for t, _, r in out if t == "settlement.hedges"]
    assert len(fills) == 1 and isinstance(fills[0], HedgeFill)
    hedge = fills[0]
    avg = (D("0.3") * 100_010 + (qty - D("0.3")) * 100_020) / qty
    assert (hedge.side, hedge.qty, hedge.symbol, hedge.underlying) == ("buy", qty, "BTC-USDT",
                                                                      "BTC")
    assert hedge.avg_price == avg.quantize(D("0.00000001"))
    assert hedge.reference_price == D(100_000)
    assert hedge.fee == (qty * hedge.avg_price * D("0.001")).quantize(D("0.00000001"))
    assert hedge.event_id == f"hedge-fill:hedge:{s.order_id}"

    booked = [r for t, _, r in out if t == "settlement.results"][-1]
    assert isinstance(booked, SettlementResult)
    assert booked.hedge_price == hedge.avg_price and booked.hedge_qty == qty

    check = check_ledger(ledger(out), expected_balances={
        "acc-1": D("-3001.5"), HOUSE_OPTIONS: D(3000), HOUSE_FEES: D("1.5"),
        HOUSE_HEDGE: -(qty * hedge.avg_price).quantize(D("0.00000001")) - hedge.fee})
    assert check.ok, check.problems()
    assert {p for _, p, _, _ in ledger(out)} == {f"option-sale:{s.order_id}",
                                                 f"hedge:hedge:{s.order_id}"}
    assert run(s, v) == []  # booked: nothing more
    assert v.count() == 1


def test_nothing_to_hedge_books_the_sale_alone(tmp_path: Path) -> None:
    v = venue(tmp_path)
    s = start(option_order(strike="200000"), partition=0)
    assert D(s.hedge_qty) == 0
    out = run(s, v)
    assert states(out) == ["pending", "hedging", "hedged", "booked"]
    assert v.count() == 0
    assert not [r for t, _, r in out if t == "settlement.hedges"]
    assert {p for _, p, _, _ in ledger(out)} == {f"option-sale:{s.order_id}"}


def test_a_refusing_venue_leaves_it_hedging_with_exponential_backoff(tmp_path: Path) -> None:
    refusing = venue(tmp_path, failure_rate=1.0)
    s = start(option_order(), partition=0)
    out = run(s, refusing)
    assert states(out) == ["pending", "hedging"]
    assert (s.state, s.attempts, s.next_at) == ("hedging", 1, NOW_S + 0.2)
    assert s.reason is not None and "injected" in s.reason
    assert run(s, refusing, NOW_S + 0.1) == []  # not before next_at: not even tried
    assert s.attempts == 1

    t = s.next_at
    for attempts, backoff in ((2, 0.4), (3, 0.8), (4, 1.0), (5, 1.0)):  # doubling, capped
        assert run(s, refusing, t) == []
        assert (s.state, s.attempts) == ("hedging", attempts)
        assert s.next_at == pytest.approx(t + backoff)
        t = s.next_at
    assert refusing.count() == 0

    out = run(stored(s), venue(tmp_path), t)  # the venue takes it now (after a restart too)
    assert states(out) == ["hedged", "booked"]
    assert [r.attempts for topic, _, r in out if topic == "settlement.results"] == [6, 6]
    assert venue(tmp_path).count() == 1


def test_no_book_is_a_venue_error_too(tmp_path: Path) -> None:
    s = start(option_order(), partition=0)
    assert states(run(s, venue(tmp_path, book=None))) == ["pending", "hedging"]
    assert s.reason == "no book for BTC-USDT yet"
    out = run(s, venue(tmp_path), s.next_at)
    assert states(out) == ["hedged", "booked"]


def test_a_failed_start_reports_failed_on_every_advance(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def no_price(**_: Any) -> None:
        raise PricingError("sigma must be finite and >= 0: nan")

    monkeypatch.setattr(machine, "hedge_for_option_sale", no_price)
    s = start(option_order(), partition=0)
    assert (s.state, s.reason) == ("failed", "no hedge: sigma must be finite and >= 0: nan")
    assert states(run(s, venue(tmp_path))) == ["failed"]
    assert states(run(s, venue(tmp_path))) == ["failed"]
    assert venue(tmp_path).count() == 0


# -- resuming after a crash -------------------------------------------------------------------
def _settle_with_crash(tmp_path: Path, crash_after: str, venue_filled: bool,
                       ) -> tuple[list[Output], Settlement]:
    """Run one order, store a record at ``crash_after``, crash (the outputs of the lost run
    may or may not have been published — both are kept: a replay must not double-count), and
    resume from the stored record on a fresh venue client with another book."""
    published: list[Output] = []
    s = start(option_order(n=7), partition=1)
    record = stored(s)  # "pending": as if stored between start and advance
    if crash_after == "refusal":
        published += run(s, venue(tmp_path, failure_rate=1.0))
        record = stored(s)  # hedging, attempts 1
    if crash_after == "booked":
        published += run(s, venue(tmp_path), s.next_at)
        record = stored(s)
    elif venue_filled:  # the venue traded, the worker died before storing the record
        published += run(s, venue(tmp_path), s.next_at)
    restarted = venue(tmp_path, book=([(D(90_000), D(10))], [(D(90_010), D(10))]))
    resumed = stored(record)
    published += run(resumed, restarted, max(resumed.next_at, NOW_S) + 5)
    published += run(resumed, restarted, max(resumed.next_at, NOW_S) + 10)  # and once more
    return published, resumed


@pytest.mark.parametrize(("crash_after", "venue_filled"), [
    ("pending", False), ("pending", True), ("refusal", False), ("refusal", True),
    ("booked", True),
])
def test_resuming_from_any_stored_state_hedges_once_and_books_once(
        tmp_path: Path, crash_after: str, venue_filled: bool) -> None:
    published, resumed = _settle_with_crash(tmp_path, crash_after, venue_filled)
    v = venue(tmp_path)
    assert resumed.state == "booked"
    assert v.count() == 1  # exactly one venue order
    placed = v.orders()[0]
    if venue_filled:
        assert placed.avg_price > 100_000  # the first book's price: no second trade
    fills = {r.event_id: r for t, _, r in published if t == "settlement.hedges"}
    assert len(fills) == 1
    (hedge,) = fills.values()
    assert (hedge.qty, hedge.avg_price, hedge.fee) == (placed.qty, placed.avg_price, placed.fee)
    # every copy of a re-published entry has the same id and amount
    amounts: dict[str, Decimal] = {}
    for entry_id, _, _, amount in ledger(published):
        assert amounts.setdefault(entry_id, amount) == amount
    check = check_ledger(ledger(published), expected_balances={
        "acc-1": D("-3001.5"), HOUSE_OPTIONS: D(3000),
        HOUSE_HEDGE: -(placed.qty * placed.avg_price).quantize(D("0.00000001")) - placed.fee})
    assert check.ok, check.problems()
    assert check.entries == 8  # one option sale (4 legs) and one hedge (4 legs): booked once
    assert {p for _, p, _, _ in ledger(published)} == {"option-sale:" + resumed.order_id,
                                                       "hedge:" + resumed.hedge_id}
