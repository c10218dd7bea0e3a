"""The counter service against the real PostgreSQL: exact, idempotent, never overdrawn."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from cdc.codes import CounterCode
from cdc.config import CdcConfig
from cdc.counter import CounterService, PlacedOrder, pricing_terms
from cdc.domain import CounterError, OptionType, Product, ProductStatus
from cdc.quotes import StaticPriceSource
from infra.settings import Settings

pytestmark = pytest.mark.postgres


def _rows(settings: Settings, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.postgres.dsn()) as conn:
        return conn.execute(sql, args).fetchall()


def _orders_of(settings: Settings, account: str) -> int:
    return _rows(settings, "SELECT count(*) FROM orders WHERE account_id = %s", account)[0][0]


def _product(counter: CounterService) -> str:
    return next(p.id for p in counter.products() if p.underlying == "BTC")


def _fixed(counter: CounterService, cfg: CdcConfig, **overrides: Any) -> CounterService:
    """A service on the same pool with a frozen clock: every quote of a product is equal."""
    now = datetime.now(UTC)
    prices = overrides.pop("prices", StaticPriceSource({"BTC": cfg.spot_btc, "ETH": cfg.spot_eth},
                                                       observed_at=now))
    return CounterService(counter.pool, prices, pricing_terms(cfg), clock=lambda: now,
                          **overrides)


def test_an_order_debits_premium_plus_fee_exactly_and_is_stored_as_answered(
        cdc_stack: Settings, counter: CounterService, funded: Callable[..., str]) -> None:
    account = funded(Decimal("5000"))
    order = counter.place_order(account, _product(counter), 3, "first")
    assert not order.replayed and order.status == "open"
    assert order.total == order.premium + order.fee
    assert order.premium == order.price * 3 * Decimal("0.01")
    assert order.balance_after == Decimal("5000") - order.total
    assert counter.balance(account) == order.balance_after
    stored = counter.get_order(account, "first")
    assert stored is not None and stored.order_id == order.order_id
    for name in ("price", "premium", "fee", "total", "contracts", "iv", "underlying_price"):
        assert getattr(stored, name) == getattr(order, name), name


def test_a_repeated_client_order_id_returns_the_first_result(
        cdc_stack: Settings, counter: CounterService, cfg: CdcConfig,
        funded: Callable[..., str]) -> None:
    account = funded(Decimal("5000"))
    first = counter.place_order(account, _product(counter), 2, "same")
    later = CounterService(counter.pool, StaticPriceSource({"BTC": Decimal(120000)}),
                           pricing_terms(cfg))  # the price moved: still the first answer
    again = later.place_order(account, _product(counter), 5, "same")
    assert again.replayed and again.order_id == first.order_id and again.total == first.total
    assert counter.balance(account) == Decimal("5000") - first.total
    assert _orders_of(cdc_stack, account) == 1


def _refusal_cases(counter: CounterService, cfg: CdcConfig,
                   setup: dict[str, Any]) -> list[tuple[str, Callable[[], PlacedOrder],
                                                        CounterCode]]:
    acc, poor, frozen = setup["account"], setup["poor"], setup["frozen"]
    product = _product(counter)
    stale = _fixed(counter, cfg, prices=StaticPriceSource(
        {"BTC": cfg.spot_btc}, observed_at=datetime.now(UTC) - timedelta(minutes=1)))
    return [
        # 1,000 contracts: even the cheapest option the chain may hold (0.01 a coin) costs
        # more than the 0.01 USDT this account has
        ("insufficient", lambda: counter.place_order(poor, product, 1000, "x1"),
         CounterCode.INSUFFICIENT_BALANCE),
        ("unknown product", lambda: counter.place_order(acc, "BTC-20200101-1-C", 1, "x2"),
         CounterCode.UNKNOWN_PRODUCT),
        ("expired product", lambda: counter.place_order(acc, setup["expired"], 1, "x3"),
         CounterCode.PRODUCT_EXPIRED),
        ("halted product", lambda: counter.place_order(acc, setup["halted"], 1, "x4"),
         CounterCode.PRODUCT_NOT_TRADING),
        ("stale price", lambda: stale.place_order(acc, product, 1, "x5"),
         CounterCode.STALE_PRICE),
        ("zero quantity", lambda: counter.place_order(acc, product, 0, "x6"),
         CounterCode.INVALID_QUANTITY),
        ("fractional quantity", lambda: counter.place_order(acc, product, Decimal("1.5"), "x7"),
         CounterCode.INVALID_QUANTITY),
        ("unknown account", lambda: counter.place_order("nobody-zz", product, 1, "x8"),
         CounterCode.UNKNOWN_ACCOUNT),
        ("frozen account", lambda: counter.place_order(frozen, product, 1, "x9"),
         CounterCode.ACCOUNT_NOT_ACTIVE),
        ("bad client order id", lambda: counter.place_order(acc, product, 1, "no spaces"),
         CounterCode.INVALID_CLIENT_ORDER_ID),
    ]


def test_every_refusal_has_its_code_and_writes_nothing(
        cdc_stack: Settings, counter: CounterService, cfg: CdcConfig,
        funded: Callable[..., str]) -> None:
    now = datetime.now(UTC)
    expired = Product("BTC-20200103-90000-C", "BTC", Decimal(90000),
                      datetime(2020, 1, 3, 8, tzinfo=UTC), OptionType.CALL, Decimal("0.01"))
    halted = Product.listed("BTC", (now + timedelta(days=30)).date(), Decimal(123000),
                            OptionType.CALL, Decimal("0.01"))
    counter.list_products([expired, halted])
    counter.set_product_status(halted.id, ProductStatus.HALTED)
    setup = {"account": funded(Decimal(1000)), "poor": funded(Decimal("0.01")),
             "frozen": funded(Decimal(1000)), "expired": expired.id, "halted": halted.id}
    with psycopg.connect(cdc_stack.postgres.dsn(), autocommit=True) as conn:
        conn.execute("UPDATE accounts SET status = 'frozen' WHERE id = %s", (setup["frozen"],))
    balances = {a: counter.balance(a) for a in (setup["account"], setup["poor"],
                                                 setup["frozen"])}
    for name, attempt, code in _refusal_cases(counter, cfg, setup):
        with pytest.raises(CounterError) as info:
            attempt()
        assert info.value.code is code, name
    for account, before in balances.items():
        assert counter.balance(account) == before
        assert _orders_of(cdc_stack, account) == 0


def test_concurrent_placements_on_one_account_never_overdraw_it(
        cdc_stack: Settings, counter: CounterService, cfg: CdcConfig,
        funded: Callable[..., str]) -> None:
    """16 threads, 160 attempts, money for exactly 50: 50 succeed, the rest are refused,
    and the balance ends at exactly the remainder (never below zero on the way)."""
    fixed = _fixed(counter, cfg)
    product = _product(counter)
    probe_account = funded(Decimal(10_000))
    unit = fixed.place_order(probe_account, product, 1, "probe").total
    remainder = unit / 2
    account = funded(unit * 50 + remainder)
    results: list[PlacedOrder | CounterError] = []
    lock = threading.Lock()

    def place(thread: int) -> None:
        for i in range(10):
            try:
                got: PlacedOrder | CounterError = fixed.place_order(account, product, 1,
                                                                    f"t{thread}-{i}")
            except CounterError as exc:
                got = exc
            with lock:
                results.append(got)

    threads = [threading.Thread(target=place, args=(t,)) for t in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    placed = [r for r in results if isinstance(r, PlacedOrder)]
    refused = [r for r in results if isinstance(r, CounterError)]
    assert len(placed) == 50 and len(refused) == 110
    assert {r.code for r in refused} == {CounterCode.INSUFFICIENT_BALANCE}
    assert counter.balance(account) == remainder
    assert _orders_of(cdc_stack, account) == 50
    assert sorted(p.balance_after for p in placed if p.balance_after is not None)[0] == remainder


def test_a_client_order_id_raced_from_many_connections_is_placed_once(
        cdc_stack: Settings, counter: CounterService, funded: Callable[..., str]) -> None:
    account = funded(Decimal(10_000))
    product = _product(counter)
    results: list[PlacedOrder] = []
    barrier = threading.Barrier(12)

    def place() -> None:
        barrier.wait()
        results.append(counter.place_order(account, product, 1, "raced"))

    threads = [threading.Thread(target=place) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.order_id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert counter.balance(account) == Decimal(10_000) - results[0].total
    assert _orders_of(cdc_stack, account) == 1


def test_transfers_are_idempotent_and_withdrawals_never_overdraw(
        cdc_stack: Settings, counter: CounterService, funded: Callable[..., str]) -> None:
    account = funded(0)
    first = counter.deposit(account, Decimal("100.5"), "dep-1")
    again = counter.deposit(account, Decimal("100.5"), "dep-1")
    assert not first.replayed and again.replayed and again.transfer_id == first.transfer_id
    with pytest.raises(CounterError) as conflict:
        counter.deposit(account, Decimal("7"), "dep-1")
    assert conflict.value.code is CounterCode.TRANSFER_CONFLICT
    with pytest.raises(CounterError) as short:
        counter.withdraw(account, Decimal("100.50000001"), "wd-1")
    assert short.value.code is CounterCode.INSUFFICIENT_BALANCE
    assert counter.withdraw(account, Decimal("0.5"), "wd-2").balance_after == Decimal(100)
    with pytest.raises(CounterError) as bad:
        counter.deposit(account, Decimal("0.000000001"), "dep-2")
    assert bad.value.code is CounterCode.INVALID_AMOUNT
    assert counter.balance(account) == Decimal(100)
    kinds = _rows(cdc_stack, "SELECT kind, amount FROM transfers WHERE account_id = %s "
                             "ORDER BY created_at", account)
    assert [(k, Decimal(a)) for k, a in kinds] == [("deposit", Decimal("100.5")),
                                                   ("withdrawal", Decimal("0.5"))]
