"""``CounterService.place_orders`` against the real PostgreSQL: one transaction per batch, one
outcome per order, idempotent by client order id, never overdrawn — also when batches and
single placements race for the same accounts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from cdc.codes import CounterCode
from cdc.config import CdcConfig
from cdc.counter import CounterService, OrderRequest, PlacedOrder, pricing_terms
from cdc.domain import CounterError
from cdc.quotes import StaticPriceSource
from infra.settings import Settings

pytestmark = pytest.mark.postgres


def _orders_of(settings: Settings, account: str) -> int:
    with psycopg.connect(settings.postgres.dsn()) as conn:
        row = conn.execute("SELECT count(*) FROM orders WHERE account_id = %s",
                           (account,)).fetchone()
    assert row is not None
    return int(row[0])


def _fixed(counter: CounterService, cfg: CdcConfig) -> CounterService:
    """A service on the same pool with a frozen clock: every quote of a product is equal."""
    now = datetime.now(UTC)
    prices = StaticPriceSource({"BTC": cfg.spot_btc, "ETH": cfg.spot_eth}, observed_at=now)
    return CounterService(counter.pool, prices, pricing_terms(cfg), clock=lambda: now)


def _product(counter: CounterService) -> str:
    return next(p.id for p in counter.products() if p.underlying == "BTC")


def _code(outcome: PlacedOrder | CounterError) -> Any:
    return outcome.code if isinstance(outcome, CounterError) else "placed"


def test_a_batch_has_one_outcome_per_order_in_order_and_refusals_undo_nothing(
        cdc_stack: Settings, counter: CounterService, cfg: CdcConfig,
        funded: Callable[..., str]) -> None:
    fixed = _fixed(counter, cfg)
    product = _product(counter)
    unit = fixed.place_order(funded(), product, 1, "probe").total
    rich, poor, empty = funded(Decimal(10_000)), funded(unit * 2), funded(0)
    with psycopg.connect(cdc_stack.postgres.dsn(), autocommit=True) as conn:
        frozen = funded(Decimal(1000))
        conn.execute("UPDATE accounts SET status = 'frozen' WHERE id = %s", (frozen,))
    cases: list[tuple[OrderRequest, Any]] = [
        (OrderRequest(rich, product, 2, "a"), "placed"),
        (OrderRequest(poor, product, 1, "b1"), "placed"),
        (OrderRequest(poor, product, 1, "b2"), "placed"),
        (OrderRequest(poor, product, 1, "b3"), CounterCode.INSUFFICIENT_BALANCE),  # spent
        (OrderRequest(empty, product, 1, "c"), CounterCode.INSUFFICIENT_BALANCE),
        (OrderRequest(frozen, product, 1, "d"), CounterCode.ACCOUNT_NOT_ACTIVE),
        (OrderRequest("nobody-zz", product, 1, "e"), CounterCode.UNKNOWN_ACCOUNT),
        (OrderRequest(rich, "BTC-20200104-1-C", 1, "f"), CounterCode.UNKNOWN_PRODUCT),
        (OrderRequest(rich, product, 0, "g"), CounterCode.INVALID_QUANTITY),
        (OrderRequest(rich, product, 1, "no spaces"), CounterCode.INVALID_CLIENT_ORDER_ID),
        (OrderRequest(rich, product, 3, "h"), "placed"),
    ]
    outcomes = fixed.place_orders([request for request, _ in cases])
    assert [_code(o) for o in outcomes] == [want for _, want in cases]
    placed = [o for o in outcomes if isinstance(o, PlacedOrder)]
    assert all(not o.replayed and o.total == o.premium + o.fee for o in placed)
    assert counter.balance(rich) == Decimal(10_000) - outcomes[0].total - outcomes[10].total
    assert outcomes[10].balance_after == counter.balance(rich)  # balance after each, in order
    assert counter.balance(poor) == 0 and outcomes[2].balance_after == 0
    assert _orders_of(cdc_stack, rich) == 2 and _orders_of(cdc_stack, poor) == 2
    assert _orders_of(cdc_stack, empty) == 0 and _orders_of(cdc_stack, frozen) == 0
    stored = counter.get_order(rich, "h")
    assert stored is not None and stored.order_id == outcomes[10].order_id


def test_a_repeated_batch_and_repeats_within_a_batch_return_the_first_results(
        cdc_stack: Settings, counter: CounterService, cfg: CdcConfig,
        funded: Callable[..., str]) -> None:
    account = funded(Decimal(10_000))
    product = _product(counter)
    single = counter.place_order(account, product, 1, "single")
    batch = [OrderRequest(account, product, 2, "x"), OrderRequest(account, product, 5, "x"),
             OrderRequest(account, product, 1, "single")]
    first = counter.place_orders(batch)
    assert all(isinstance(o, PlacedOrder) for o in first)
    x, x_again, single_again = first
    assert isinstance(x, PlacedOrder) and isinstance(x_again, PlacedOrder)
    assert not x.replayed and x_again.replayed and x_again.order_id == x.order_id
    assert x_again.contracts == 2  # the first answer, not the repeat's quantity
    assert isinstance(single_again, PlacedOrder) and single_again.replayed
    assert single_again.order_id == single.order_id
    spent = counter.balance(account)
    moved = CounterService(counter.pool, StaticPriceSource({"BTC": Decimal(120000)}),
                           pricing_terms(cfg))  # the price moved: still the first answers
    again = moved.place_orders(batch)
    assert [o.order_id for o in again if isinstance(o, PlacedOrder)] == \
        [x.order_id, x.order_id, single.order_id]
    assert all(isinstance(o, PlacedOrder) and o.replayed for o in again)
    assert counter.balance(account) == spent == Decimal(10_000) - single.total - x.total
    assert _orders_of(cdc_stack, account) == 2
    assert counter.place_orders([]) == []


def test_batches_and_single_placements_racing_never_overdraw_and_place_each_id_once(
        cdc_stack: Settings, counter: CounterService, cfg: CdcConfig,
        funded: Callable[..., str]) -> None:
    """Money for exactly 60 orders on each of two accounts; 6 threads of batches over both
    accounts (client order ids shared between threads, so batches race for them) and 6
    threads of single placements with the same ids: each id is placed once, exactly 60 per
    account, and the balances end at exactly the remainder."""
    fixed = _fixed(counter, cfg)
    product = _product(counter)
    unit = fixed.place_order(funded(), product, 1, "probe").total
    remainder = (unit / 3).quantize(Decimal("1e-8"))
    accounts = [funded(unit * 60 + remainder), funded(unit * 60 + remainder)]
    results: list[tuple[str, str, PlacedOrder | CounterError]] = []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def batches(thread: int) -> None:
        start.wait()
        for i in range(8):
            requests = [OrderRequest(accounts[(j // 3) % 2], product, 1,
                                     f"o{(thread * 15 + i * 12 + j) % 90}") for j in range(12)]
            outcomes = fixed.place_orders(requests)
            with lock:
                results.extend((r.account, r.client_order_id, o)
                               for r, o in zip(requests, outcomes, strict=True))

    def singles(thread: int) -> None:
        start.wait()
        for i in range(15):
            account, coid = accounts[(thread + i) % 2], f"o{(thread * 15 + i) % 90}"
            try:
                got: PlacedOrder | CounterError = fixed.place_order(account, product, 1, coid)
            except CounterError as exc:
                got = exc
            with lock:
                results.append((account, coid, got))

    threads = [threading.Thread(target=batches, args=(t,)) for t in range(6)]
    threads += [threading.Thread(target=singles, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = {o.code for _, _, o in results if isinstance(o, CounterError)}
    assert refused <= {CounterCode.INSUFFICIENT_BALANCE}
    ids: dict[tuple[str, str], set[Any]] = {}
    for account, coid, outcome in results:
        if isinstance(outcome, PlacedOrder):
            ids.setdefault((account, coid), set()).add(outcome.order_id)
    assert all(len(found) == 1 for found in ids.values())  # one order per client order id
    for account in accounts:
        assert _orders_of(cdc_stack, account) == 60
        assert counter.balance(account) == remainder
