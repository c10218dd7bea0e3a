"""The counter service: sell a simplified option for USDT in one PostgreSQL transaction.

``place_order`` answers at once; the order reaches the settlement side asynchronously through
Debezium. What makes that safe:

* **One transaction, one round trip.** The order row and the USDT debit are one SQL
  statement (``_PLACE``), run in autocommit: PostgreSQL makes a statement its own
  transaction, so both are committed or neither is. Debezium streams only committed rows.
* **Never overdrawn.** The statement first locks the balance row (``FOR UPDATE``) and checks
  the order against the latest committed balance; concurrent placements on one account queue
  on that row, and a debit that would still take the balance below zero fails ``CHECK
  (balance >= 0)`` — the whole statement, its order included, is undone and the caller gets
  ``INSUFFICIENT_BALANCE``.
* **Many at once.** :meth:`CounterService.place_orders` places a batch in one transaction (one
  commit for all): the same checks and guarantees, one outcome per order.
* **Idempotent.** ``(account, client_order_id)`` is unique. A repeat returns the first
  result (``replayed=True``) even if the product has since expired; of two concurrent first
  attempts, the loser's insert does nothing on the unique index, so it debits nothing and
  returns the winner's order.
* **Nothing written on refusal.** Every refusal is a :class:`~cdc.domain.CounterError` with
  a numbered :class:`~cdc.codes.CounterCode`, raised before the write or with the
  transaction rolled back.

Pricing is pure (:mod:`cdc.quotes`); this module is the database side. Connections come from
a ``psycopg_pool`` pool logged in as the least-privileged service role.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from types import TracebackType
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from cdc import CdcError
from cdc.codes import CounterCode
from cdc.config import CdcConfig
from cdc.domain import (
    CounterError,
    OptionType,
    OrderStatus,
    Product,
    ProductStatus,
    TransferKind,
    check_account_id,
    check_client_order_id,
)
from cdc.quotes import (
    MONEY_EXPONENT,
    PriceSource,
    PricingTerms,
    Quote,
    StaticPriceSource,
    UnderlyingPrice,
    quote,
)
from infra.metrics import COUNTER_PLACEMENTS
from infra.settings import Settings
from streams.compliance.kyc import (
    KycState,
    KycStatus,
    check_deposit,
    check_order,
    check_withdrawal,
)
from streams.marketdata.volsurface import VolSource

__all__ = [
    "CounterService",
    "OrderRequest",
    "PlacedOrder",
    "Transfer",
    "pricing_terms",
    "service_pool",
    "static_prices",
]

Clock = Callable[[], datetime]
#: Seconds a product definition is reused without asking the database (the placement
#: statement re-checks status and expiry, so a stale entry costs a retry, never a wrong sale).
PRODUCT_CACHE_S = 2.0

_ORDER_COLUMNS = ("id, account_id, client_order_id, product_id, contracts, underlying_price, "
                  "iv, price, premium, fee, total, status, created_at")

_FIND_ORDER = f"""
SELECT {_ORDER_COLUMNS} FROM orders WHERE account_id = %(account)s AND client_order_id = %(coid)s
"""

_FIND_PRODUCT = """
SELECT id AS p_id, underlying, strike, expiry, option_type, contract_size, status AS p_status
FROM products WHERE id = %s
"""

# The whole placement is this one statement, run in autocommit: PostgreSQL makes a statement
# its own transaction, so the order and its debit are committed together or not at all, in
# one round trip. The balance row is locked first (``lock``: FOR UPDATE reads the latest
# committed balance and holds the row until the commit), as ``place_orders`` does: both paths
# take the balance lock before the client order id's unique-index entry, so a placement and
# a batch racing for the same id queue instead of deadlocking. The order is inserted only if
# the product still is what was priced and the account is active and can pay; the debit is
# applied only if the order was inserted, and CHECK (balance >= 0) still guards it. A client
# order id already used (even by a concurrent transaction that commits first) inserts
# nothing and debits nothing.
_PLACE = f"""
WITH lock AS (
    SELECT balance FROM balances
    WHERE account_id = %(account)s AND asset = 'USDT' FOR UPDATE
), acct AS (
    SELECT a.status, (SELECT balance FROM lock) AS balance FROM accounts a
    WHERE a.id = %(account)s
), kyc AS (
    SELECT status, tier FROM account_kyc WHERE id = %(account)s FOR SHARE
), kyc_ok AS (
    SELECT CASE WHEN EXISTS (SELECT 1 FROM kyc)
                THEN EXISTS (SELECT 1 FROM kyc WHERE status || ':' || tier = ANY(%(kyc_allowed)s))
                ELSE %(kyc_no_row_ok)s END AS ok
), prod AS (
    SELECT 1 FROM products
    WHERE id = %(product)s AND status = 'listed' AND expiry = %(expiry)s
), existing AS (
    SELECT id FROM orders WHERE account_id = %(account)s AND client_order_id = %(coid)s
), ins AS (
    INSERT INTO orders (account_id, client_order_id, product_id, underlying, strike, expiry,
                        option_type, contract_size, contracts, underlying_price, iv, price,
                        premium, fee, total)
    SELECT %(account)s, %(coid)s, %(product)s, %(underlying)s, %(strike)s, %(expiry)s,
           %(option_type)s, %(contract_size)s, %(contracts)s, %(underlying_price)s, %(iv)s,
           %(price)s, %(premium)s, %(fee)s, %(total)s
    WHERE EXISTS (SELECT 1 FROM prod) AND NOT EXISTS (SELECT 1 FROM existing)
      AND EXISTS (SELECT 1 FROM acct WHERE status = 'active' AND balance >= %(total)s)
      AND (SELECT ok FROM kyc_ok)
    ON CONFLICT (account_id, client_order_id) DO NOTHING
    RETURNING {_ORDER_COLUMNS}
), debit AS (
    UPDATE balances SET balance = balance - %(total)s, updated_at = now()
    WHERE account_id = %(account)s AND asset = 'USDT' AND EXISTS (SELECT 1 FROM ins)
    RETURNING balance
)
SELECT (SELECT balance FROM debit) AS balance_after,
       (SELECT ok FROM kyc_ok) AS kyc_ok,
       (SELECT status FROM kyc) AS kyc_status,
       (SELECT tier FROM kyc) AS kyc_tier,
       (SELECT status FROM acct) AS account_status,
       (SELECT balance FROM acct) AS balance_seen,
       EXISTS (SELECT 1 FROM prod) AS product_ok,
       EXISTS (SELECT 1 FROM existing) AS existed,
       ins.*
FROM (SELECT 1) one LEFT JOIN ins ON true
"""

# The batch (``place_orders``): one transaction, four statements whatever the batch size.
# 1. Lock the batch's balance rows, in account order (two batches never deadlock), and read
#    each account's status and balance: from here to the commit nobody else can move them.
_LOCK_BALANCES = """
SELECT a.id, a.status, b.balance, k.status AS kyc_status, k.tier AS kyc_tier FROM accounts a
JOIN balances b ON b.account_id = a.id AND b.asset = 'USDT'
LEFT JOIN account_kyc k ON k.id = a.id
WHERE a.id = ANY(%(accounts)s) ORDER BY a.id FOR UPDATE OF b
"""
# 2. The client order ids already used (their first answer is the answer).
_FIND_ORDERS = f"""
SELECT {_ORDER_COLUMNS} FROM orders
WHERE (account_id, client_order_id) IN (
    SELECT * FROM unnest(%(accounts)s::text[], %(coids)s::text[]))
"""
# 3. The batch's products as they are now (the quote used the cached definition).
_LISTED = """
SELECT id, expiry FROM products WHERE id = ANY(%(products)s) AND status = 'listed'
"""
# 4. Insert the orders Python found payable against the locked balances and debit each
#    account by the sum of the orders actually inserted. A client order id a concurrent
#    transaction committed first inserts nothing and so debits nothing (ON CONFLICT);
#    CHECK (balance >= 0) still guards the debit.
_INSERT_BATCH = f"""
WITH ins AS (
    INSERT INTO orders (account_id, client_order_id, product_id, underlying, strike, expiry,
                        option_type, contract_size, contracts, underlying_price, iv, price,
                        premium, fee, total)
    SELECT * FROM unnest(%(account)s::text[], %(coid)s::text[], %(product)s::text[],
                         %(underlying)s::text[], %(strike)s::numeric[],
                         %(expiry)s::timestamptz[], %(option_type)s::text[],
                         %(contract_size)s::numeric[], %(contracts)s::numeric[],
                         %(underlying_price)s::numeric[], %(iv)s::numeric[],
                         %(price)s::numeric[], %(premium)s::numeric[], %(fee)s::numeric[],
                         %(total)s::numeric[])
    ON CONFLICT (account_id, client_order_id) DO NOTHING
    RETURNING {_ORDER_COLUMNS}
), debit AS (
    UPDATE balances b SET balance = b.balance - d.total, updated_at = now()
    FROM (SELECT account_id, sum(total) AS total FROM ins GROUP BY account_id) d
    WHERE b.account_id = d.account_id AND b.asset = 'USDT'
    RETURNING b.account_id, b.balance
)
SELECT ins.*, debit.balance AS final_balance
FROM ins LEFT JOIN debit ON debit.account_id = ins.account_id
"""
_BATCH_COLUMNS = ("account", "coid", "product", "underlying", "strike", "expiry", "option_type",
                  "contract_size", "contracts", "underlying_price", "iv", "price", "premium",
                  "fee", "total")

_FIND_TRANSFER = """
SELECT id, kind, amount, created_at FROM transfers
WHERE account_id = %(account)s AND reference = %(reference)s
"""
_MOVE_BALANCE = """
UPDATE balances b SET balance = b.balance + %(delta)s, updated_at = now() FROM accounts a
WHERE b.account_id = %(account)s AND b.asset = 'USDT' AND b.balance + %(delta)s >= 0
  AND a.id = b.account_id AND a.status = 'active'
RETURNING b.balance
"""
_INSERT_TRANSFER = """
INSERT INTO transfers (account_id, kind, amount, reference, address)
VALUES (%(account)s, %(kind)s, %(amount)s, %(reference)s, %(address)s)
ON CONFLICT (account_id, reference) DO NOTHING RETURNING id, created_at
"""
# The KYC gate of a transfer, in its transaction: the balance row locked first (transfers of
# one account queue here, so two withdrawals cannot both fit under one daily limit), the KYC
# row shared-locked (a status change waits for this payment), then the totals the gate needs,
# read after the lock so they include every transfer committed before it.
_LOCK_FOR_GATE = """
SELECT b.balance, k.status, k.tier FROM balances b
LEFT JOIN LATERAL (SELECT status, tier FROM account_kyc WHERE id = b.account_id FOR SHARE) k
    ON true
WHERE b.account_id = %(account)s AND b.asset = 'USDT' FOR UPDATE OF b
"""
_GATE_TOTALS = """
SELECT
  (SELECT coalesce(sum(amount), 0) FROM transfers
   WHERE account_id = %(account)s AND kind = 'deposit') AS deposited,
  (SELECT coalesce(sum(amount), 0) FROM transfers
   WHERE account_id = %(account)s AND kind = 'withdrawal'
     AND created_at >= date_trunc('day', now(), 'UTC')) AS withdrawn_today
"""
_SET_KYC = """
INSERT INTO account_kyc (id, status, tier) VALUES (%(account)s, %(status)s, %(tier)s)
ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, tier = EXCLUDED.tier
WHERE (account_kyc.status, account_kyc.tier) IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.tier)
RETURNING updated_at
"""
_ALL_KYC = tuple(KycState("any", status, tier) for status in KycStatus for tier in range(4))


@lru_cache(maxsize=4096)
def _kyc_allowed(total: Decimal) -> tuple[list[str], bool]:
    """Which ``status:tier`` may buy ``total`` (by the pure gate), and whether an account
    with no row (status none) may: cached, as a batch quotes the same totals again."""
    allowed = [f"{k.status.value}:{k.tier}" for k in _ALL_KYC if check_order(k, total)]
    return allowed, bool(check_order(_ALL_KYC[0], total))

_WHY_NO_DEBIT = """
SELECT a.status, b.balance FROM accounts a
LEFT JOIN balances b ON b.account_id = a.id AND b.asset = 'USDT' WHERE a.id = %s
"""


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """The counter's answer: the order as written (or as first written, if ``replayed``)."""

    order_id: UUID
    account: str
    client_order_id: str
    product_id: str
    contracts: Decimal
    underlying_price: Decimal
    iv: Decimal
    price: Decimal
    premium: Decimal
    fee: Decimal
    total: Decimal
    status: str
    created_at: datetime
    replayed: bool
    balance_after: Decimal | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any], replayed: bool,
                 balance_after: Decimal | None = None) -> PlacedOrder:
        return cls(order_id=row["id"], account=row["account_id"],
                   client_order_id=row["client_order_id"], product_id=row["product_id"],
                   contracts=_norm(row["contracts"]),
                   underlying_price=_norm(row["underlying_price"]), iv=_norm(row["iv"]),
                   price=_norm(row["price"]), premium=_norm(row["premium"]),
                   fee=_norm(row["fee"]), total=_norm(row["total"]), status=row["status"],
                   created_at=row["created_at"], replayed=replayed,
                   balance_after=None if balance_after is None else _norm(balance_after))


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One placement of a batch (:meth:`CounterService.place_orders`)."""

    account: str
    product: str
    contracts: Decimal | int
    client_order_id: str


@dataclass(frozen=True, slots=True)
class Transfer:
    transfer_id: UUID
    account: str
    kind: TransferKind
    amount: Decimal
    reference: str
    created_at: datetime
    replayed: bool
    balance_after: Decimal | None = None


def _norm(value: Decimal) -> Decimal:
    """NUMERIC(38,18) comes back with 18 decimals; drop the trailing zeros, keep the value."""
    if value == 0:
        return Decimal(0)
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


def pricing_terms(cfg: CdcConfig) -> PricingTerms:
    """The pure pricing's terms from the component's settings."""
    return PricingTerms(spread_bps=cfg.spread_bps, fee_bps=cfg.fee_bps,
                        price_tick=cfg.price_tick, fee_tick=cfg.fee_tick,
                        min_price=cfg.min_price, qty_step=cfg.qty_step,
                        max_contracts=cfg.max_contracts, max_price_age_s=cfg.max_price_age_s,
                        min_time_to_expiry_s=cfg.min_time_to_expiry_s,
                        usdt_rate=cfg.usdt_rate)


def static_prices(cfg: CdcConfig, clock: Clock | None = None) -> StaticPriceSource:
    """The configured BTC and ETH spots, always fresh: the source until md.index feeds us."""
    prices = {"BTC": cfg.spot_btc, "ETH": cfg.spot_eth}
    return StaticPriceSource(prices) if clock is None else StaticPriceSource(prices, clock=clock)


def service_pool(settings: Settings, cfg: CdcConfig, *, min_size: int | None = None,
                 max_size: int | None = None) -> ConnectionPool:
    """A pool of connections as the service role (never the superuser)."""
    pg = settings.postgres
    pool = ConnectionPool(
        pg.dsn(pg.service_user, pg.service_password) + " application_name=strikeflow-counter",
        min_size=min_size or cfg.pool_min, max_size=max(max_size or cfg.pool_max,
                                                        min_size or cfg.pool_min),
        kwargs={"row_factory": dict_row, "autocommit": True}, open=False, name="strikeflow-counter")
    pool.open(wait=True, timeout=30)
    return pool


def _check_amount(amount: Decimal) -> Decimal:
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise CounterError(CounterCode.INVALID_AMOUNT,
                           f"amount must be a Decimal or int, got {type(amount).__name__}")
    value = Decimal(amount)
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("1e-8")) \
            or value >= Decimal("1e15"):
        raise CounterError(CounterCode.INVALID_AMOUNT, str(amount))
    return value


def _check_reference(reference: str) -> str:
    if not isinstance(reference, str) or not 1 <= len(reference) <= 128 \
            or not reference.isprintable():
        raise CounterError(CounterCode.INVALID_REFERENCE, repr(reference))
    return reference


class _LostRace(CdcError):
    """Another transaction inserted this client order id first; ours must roll back."""


class CounterService:
    """Places simplified-option orders, moves USDT in and out, lists products.

    Thread-safe: each call borrows a pooled connection for one transaction. Use it as a
    context manager (or call :meth:`close`) when it owns its pool.
    """

    def __init__(self, pool: ConnectionPool, prices: PriceSource, terms: PricingTerms, *,
                 clock: Clock = lambda: datetime.now(UTC),
                 surfaces: Callable[[str], VolSource] | None = None,
                 owns_pool: bool = False, require_kyc: bool = False) -> None:
        self.pool = pool
        #: an account with no KYC row is unverified (True) or not gated (False, as before)
        self.require_kyc = require_kyc
        self.prices = prices
        self.terms = terms
        self.clock = clock
        self.surfaces = surfaces
        self._owns_pool = owns_pool
        self._products: dict[str, tuple[Product, float]] = {}

    @classmethod
    def connect(cls, settings: Settings, cfg: CdcConfig, *, prices: PriceSource | None = None,
                clock: Clock | None = None, min_size: int | None = None,
                max_size: int | None = None) -> CounterService:
        """A service with its own pool and the configured static prices."""
        pool = service_pool(settings, cfg, min_size=min_size, max_size=max_size)
        return cls(pool, prices or static_prices(cfg, clock), pricing_terms(cfg),
                   clock=clock or (lambda: datetime.now(UTC)), owns_pool=True,
                   require_kyc=settings.compliance.require_kyc)

    def close(self) -> None:
        if self._owns_pool:
            self.pool.close()

    def __enter__(self) -> CounterService:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- orders ------------------------------------------------------------------------------

    def place_order(self, account: str, product: str, contracts: Decimal | int,
                    client_order_id: str) -> PlacedOrder:
        """Buy ``contracts`` of ``product`` for ``account``; see the module docstring."""
        try:
            placed = self._place_order(account, product, contracts, client_order_id)
        except CounterError as exc:
            COUNTER_PLACEMENTS.labels(exc.code.name.lower()).inc()
            raise
        COUNTER_PLACEMENTS.labels("replayed" if placed.replayed else "placed").inc()
        return placed

    def _place_order(self, account: str, product: str, contracts: Decimal | int,
                     client_order_id: str) -> PlacedOrder:
        check_account_id(account)
        check_client_order_id(client_order_id)
        args: dict[str, Any] = {"account": account, "product": product, "coid": client_order_id}
        for attempt in range(2):
            try:
                item = self._product(product, fresh=attempt > 0)
                surface = self.surfaces(item.underlying) if self.surfaces else None
                q = quote(item, contracts, self.prices.price(item.underlying), self.clock(),
                          self.terms, surface)
            except CounterError:
                first = self._existing(args)  # a repeat gets its first answer, come what may
                if first is not None:
                    return first
                raise
            try:
                with self.pool.connection() as conn:
                    row = conn.execute(_PLACE, args | _insert_args(item, q)
                                       | self._kyc_args(account, q.total)).fetchone()
            except psycopg.errors.CheckViolation as exc:
                if exc.diag.constraint_name != "balance_not_negative":
                    raise
                raise CounterError(CounterCode.INSUFFICIENT_BALANCE,
                                   f"{account} cannot pay {q.total}: concurrent orders spent "
                                   "the balance first") from None
            assert row is not None  # the LEFT JOIN always yields one row
            if row["id"] is not None:
                return PlacedOrder.from_row(row, replayed=False,
                                            balance_after=row["balance_after"])
            if not row["existed"]:
                if row["account_status"] is None:
                    raise CounterError(CounterCode.UNKNOWN_ACCOUNT, account)
                if row["account_status"] != "active":
                    raise CounterError(CounterCode.ACCOUNT_NOT_ACTIVE,
                                       f"{account} is {row['account_status']}")
                if not row["kyc_ok"]:
                    self._gate_order(account, row["kyc_status"], row["kyc_tier"], q.total)
                if not row["product_ok"]:
                    continue  # the product changed since it was cached: look again, once
                if (row["balance_seen"] or 0) < q.total:
                    raise CounterError(CounterCode.INSUFFICIENT_BALANCE,
                                       f"{account} has {_norm(row['balance_seen'] or Decimal(0))}"
                                       f" USDT, needs {q.total}")
            first = self._existing(args)  # used before, or by a concurrent first attempt
            assert first is not None, "an order that blocked the insert must exist"
            return first
        raise CounterError(CounterCode.PRODUCT_NOT_TRADING, f"{product} changed while pricing")

    def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlacedOrder | CounterError]:
        """Place many orders in one transaction: one outcome per request, in request order.

        For a caller that has many orders at once (a gateway's batch, a market maker): one
        commit, and four statements, for the whole batch, where :meth:`place_order` pays one
        commit per order. Each outcome is what :meth:`place_order` would have answered or
        raised — a :class:`PlacedOrder` (``replayed`` for a client order id used before, in
        an earlier call or earlier in this batch) or the :class:`CounterError` — and one
        refused order never undoes the others.

        The same guarantees: the batch's balance rows are locked (``FOR UPDATE``, in account
        order, so two batches never deadlock) before the orders are checked against them in
        request order, and the orders and their debits commit together; ``CHECK (balance >=
        0)`` still guards every debit. An order whose client order id a concurrent
        transaction committed first is that transaction's order (replayed), and is not
        debited; the balance it had reserved in this batch is not lent to later orders of the
        batch (they may be refused as unpayable: conservative, never an overdraft).
        """
        requests = list(requests)
        outcomes = self._place_batch(requests)
        for outcome in outcomes:
            COUNTER_PLACEMENTS.labels(
                outcome.code.name.lower() if isinstance(outcome, CounterError)
                else "replayed" if outcome.replayed else "placed").inc()
        return outcomes

    def _place_batch(self, requests: list[OrderRequest]) -> list[PlacedOrder | CounterError]:
        out: list[PlacedOrder | CounterError | None] = [None] * len(requests)
        first_of: dict[tuple[str, str], int] = {}
        refused: dict[int, CounterError] = {}  # the answer unless the order already exists
        priced: dict[int, tuple[Product, Quote]] = {}
        now = self.clock()
        prices: dict[str, UnderlyingPrice | None] = {}
        memo: dict[tuple[str, Decimal], tuple[Product, Quote] | CounterError] = {}
        for i, req in enumerate(requests):
            try:
                check_account_id(req.account)
                check_client_order_id(req.client_order_id)
            except CounterError as exc:
                out[i] = exc
                continue
            key = (req.account, req.client_order_id)
            if key in first_of:
                continue  # a repeat within the batch: answered from its first below
            first_of[key] = i
            # One instant prices the whole batch: equal (product, contracts) quote equally.
            memo_key = ((req.product, Decimal(req.contracts))
                        if isinstance(req.contracts, Decimal | int)
                        and not isinstance(req.contracts, bool)
                        and Decimal(req.contracts).is_finite() else None)
            found = memo.get(memo_key) if memo_key is not None else None
            if found is None:
                try:
                    item = self._product(req.product)
                    if item.underlying not in prices:
                        prices[item.underlying] = self.prices.price(item.underlying)
                    surface = self.surfaces(item.underlying) if self.surfaces else None
                    found = (item, quote(item, req.contracts, prices[item.underlying], now,
                                         self.terms, surface))
                except CounterError as exc:
                    found = exc
                if memo_key is not None:
                    memo[memo_key] = found
            if isinstance(found, CounterError):
                refused[i] = found
            else:
                priced[i] = found
        again: list[int] = []
        if first_of:
            for attempt in range(2):
                try:
                    again = self._write_batch(requests, list(first_of.values()), refused,
                                              priced, out)
                    break
                except psycopg.errors.DeadlockDetected:
                    # Only a single placement racing this batch for the same client order id
                    # can deadlock with it (it inserts, then locks the balance); PostgreSQL
                    # undid one of the two. Everything is re-read on the next attempt.
                    if attempt:
                        raise
        for i in again:  # the product changed since it was cached: the single path re-reads
            req = requests[i]
            try:
                out[i] = self._place_order(req.account, req.product, req.contracts,
                                           req.client_order_id)
            except CounterError as exc:
                out[i] = exc
        for i, req in enumerate(requests):
            if out[i] is None:
                first = out[first_of[(req.account, req.client_order_id)]]
                out[i] = (dataclasses.replace(first, replayed=True, balance_after=None)
                          if isinstance(first, PlacedOrder) else first)
        return [o for o in out if o is not None]

    def _write_batch(self, requests: list[OrderRequest], firsts: list[int],
                     refused: dict[int, CounterError], priced: dict[int, tuple[Product, Quote]],
                     out: list[PlacedOrder | CounterError | None]) -> list[int]:
        """The batch's one transaction; fills ``out``; returns the orders to place again."""
        accounts = sorted({requests[i].account for i in firsts})
        raced: list[int] = []
        again: list[int] = []
        with self.pool.connection() as conn, conn.transaction():
            locked = {r["id"]: (r["status"], r["balance"], r["kyc_status"], r["kyc_tier"])
                      for r in conn.execute(_LOCK_BALANCES, {"accounts": accounts})}
            existing = {(r["account_id"], r["client_order_id"]): r for r in conn.execute(
                _FIND_ORDERS, {"accounts": [requests[i].account for i in firsts],
                               "coids": [requests[i].client_order_id for i in firsts]})}
            listed = {r["id"]: r["expiry"] for r in conn.execute(
                _LISTED, {"products": sorted({item.id for item, _ in priced.values()})})}
            left = {account: balance for account, (_, balance, _, _) in locked.items()}
            take: list[int] = []
            for i in firsts:
                req = requests[i]
                row = existing.get((req.account, req.client_order_id))
                if row is not None:
                    out[i] = PlacedOrder.from_row(row, replayed=True)
                    continue
                if i in refused:
                    out[i] = refused[i]
                    continue
                if req.account not in locked:
                    out[i] = CounterError(CounterCode.UNKNOWN_ACCOUNT, req.account)
                    continue
                status = locked[req.account][0]
                if status != "active":
                    out[i] = CounterError(CounterCode.ACCOUNT_NOT_ACTIVE,
                                          f"{req.account} is {status}")
                    continue
                item, q = priced[i]
                try:
                    self._gate_order(req.account, locked[req.account][2],
                                     locked[req.account][3], q.total)
                except CounterError as exc:
                    out[i] = exc
                    continue
                if listed.get(item.id) != item.expiry:
                    again.append(i)
                    continue
                if left[req.account] < q.total:
                    out[i] = CounterError(CounterCode.INSUFFICIENT_BALANCE,
                                          f"{req.account} has {_norm(left[req.account])} "
                                          f"USDT, needs {q.total}")
                    continue
                left[req.account] -= q.total
                take.append(i)
            if take:
                columns: dict[str, list[Any]] = {name: [] for name in _BATCH_COLUMNS}
                for i in take:
                    item, q = priced[i]
                    args = _insert_args(item, q) | {"account": requests[i].account,
                                                    "coid": requests[i].client_order_id,
                                                    "product": item.id}
                    for name in _BATCH_COLUMNS:
                        columns[name].append(args[name])
                rows = conn.execute(_INSERT_BATCH, columns).fetchall()
                inserted = {(r["account_id"], r["client_order_id"]): r for r in rows}
                running = {account: balance for account, (_, balance, _, _) in locked.items()}
                for i in take:
                    req = requests[i]
                    row = inserted.get((req.account, req.client_order_id))
                    if row is None:
                        raced.append(i)  # a concurrent first attempt committed it first
                        continue
                    running[req.account] -= row["total"]
                    out[i] = PlacedOrder.from_row(row, replayed=False,
                                                  balance_after=running[req.account])
                for row in rows:
                    if running[row["account_id"]] != row["final_balance"]:
                        raise CdcError(f"batch debit of {row['account_id']} left "
                                       f"{row['final_balance']}, expected "
                                       f"{running[row['account_id']]}")
        for i in raced:
            first = self._existing({"account": requests[i].account,
                                    "coid": requests[i].client_order_id})
            assert first is not None, "an order that blocked the insert must exist"
            out[i] = first
        return again

    # -- KYC -----------------------------------------------------------------------------------

    def _kyc_of(self, account: str, status: str | None, tier: int | None) -> KycState | None:
        """The account's KYC record as the gates see it; ``None``: not gated (no row, and
        ``require_kyc`` off)."""
        if status is None:
            return KycState(account) if self.require_kyc else None
        return KycState(account, status, tier or 0)

    def _kyc_args(self, account: str, total: Decimal) -> dict[str, Any]:
        """The placement statement's KYC terms: which ``status:tier`` may buy ``total``
        (the pure gate decides, SQL only looks the row up, in the same statement)."""
        allowed, none_ok = _kyc_allowed(total)
        return {"kyc_allowed": allowed, "kyc_no_row_ok": not self.require_kyc or none_ok}

    def _gate_order(self, account: str, status: str | None, tier: int | None,
                    total: Decimal) -> None:
        kyc = self._kyc_of(account, status, tier)
        if kyc is not None and not (gate := check_order(kyc, total)):
            raise CounterError(gate.code, gate.reason)  # type: ignore[arg-type]

    def _gate_transfer(self, conn: psycopg.Connection[Any], account: str, kind: TransferKind,
                       value: Decimal) -> None:
        """Deposits and withdrawals through the KYC gates, in the transfer's transaction."""
        args = {"account": account}
        row = conn.execute(_LOCK_FOR_GATE, args).fetchone()
        if row is None:
            return  # no such account: the balance move says so with its own code
        kyc = self._kyc_of(account, row["status"], row["tier"])
        if kyc is None:
            return
        totals = conn.execute(_GATE_TOTALS, args).fetchone()
        assert totals is not None
        gate = (check_deposit(kyc, value, _norm(totals["deposited"]))
                if kind is TransferKind.DEPOSIT
                else check_withdrawal(kyc, value, _norm(totals["withdrawn_today"])))
        if not gate:
            raise CounterError(gate.code, gate.reason)  # type: ignore[arg-type]

    def set_kyc(self, account: str, status: KycStatus | str, tier: int) -> bool:
        """Record the account's KYC status and tier (what the KYC provider concluded);
        ``False`` if it already was exactly that. Debezium carries the change to risk."""
        check_account_id(account)
        kyc = KycState(account, status, tier)  # validates both
        with self.pool.connection() as conn:
            if conn.execute("SELECT 1 FROM accounts WHERE id = %s", (account,)).fetchone() \
                    is None:
                raise CounterError(CounterCode.UNKNOWN_ACCOUNT, account)
            done = conn.execute(_SET_KYC, {"account": account, "status": kyc.status.value,
                                           "tier": kyc.tier}).fetchone()
        return done is not None

    def kyc_counts(self) -> list[tuple[str, int, int]]:
        """``(status, tier, accounts)`` over every account (``none``/0 for those with no
        row): what the compliance report shows."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT coalesce(k.status, 'none') AS status, coalesce(k.tier, 0) AS tier, "
                "count(*) AS n FROM accounts a LEFT JOIN account_kyc k ON k.id = a.id "
                "GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
        return [(r["status"], int(r["tier"]), int(r["n"])) for r in rows]

    def kyc(self, account: str) -> KycState | None:
        """The account's KYC row, or ``None`` if it has none."""
        with self.pool.connection() as conn:
            row = conn.execute("SELECT status, tier FROM account_kyc WHERE id = %s",
                               (account,)).fetchone()
        return None if row is None else KycState(account, row["status"], row["tier"])

    def _existing(self, args: dict[str, Any]) -> PlacedOrder | None:
        with self.pool.connection() as conn:
            row = conn.execute(_FIND_ORDER, args).fetchone()
        return None if row is None else PlacedOrder.from_row(row, replayed=True)

    def _product(self, product_id: str, *, fresh: bool = False) -> Product:
        """The product, from a short-lived cache: the placement statement re-checks it."""
        cached = self._products.get(product_id)
        if cached is not None and not fresh and time.monotonic() - cached[1] < PRODUCT_CACHE_S:
            return cached[0]
        with self.pool.connection() as conn:
            row = conn.execute(_FIND_PRODUCT, (product_id,)).fetchone()
        if row is None:
            self._products.pop(product_id, None)
            raise CounterError(CounterCode.UNKNOWN_PRODUCT, repr(product_id))
        item = _product(row)
        self._products[product_id] = (item, time.monotonic())
        return item

    @staticmethod
    def _why_no_debit(conn: psycopg.Connection[Any], account: str,
                      total: Decimal) -> CounterError:
        row = conn.execute(_WHY_NO_DEBIT, (account,)).fetchone()
        if row is None:
            return CounterError(CounterCode.UNKNOWN_ACCOUNT, account)
        if row["status"] != "active":
            return CounterError(CounterCode.ACCOUNT_NOT_ACTIVE, f"{account} is {row['status']}")
        balance = _norm(row["balance"] or Decimal(0))
        return CounterError(CounterCode.INSUFFICIENT_BALANCE,
                            f"{account} has {balance} USDT, needs {total}")

    def get_order(self, account: str, client_order_id: str) -> PlacedOrder | None:
        return self._existing({"account": account, "coid": client_order_id})

    def set_order_status(self, order_id: UUID, status: OrderStatus) -> None:
        """Move an order along the transition table (the database refuses anything else).

        What the settlement side will call; here so tests and ops can drive the lifecycle.
        """
        try:
            with self.pool.connection() as conn:
                done = conn.execute("UPDATE orders SET status = %s WHERE id = %s",
                                    (OrderStatus(status).value, order_id))
        except psycopg.errors.CheckViolation as exc:
            raise CounterError(CounterCode.INVALID_STATUS_TRANSITION,
                               str(exc.diag.message_primary)) from exc
        if done.rowcount != 1:
            raise CounterError(CounterCode.UNKNOWN_ORDER, str(order_id))

    # -- accounts and transfers --------------------------------------------------------------

    def open_account(self, account: str) -> bool:
        """Create the account and its zero USDT balance; ``False`` if it existed."""
        check_account_id(account)
        with self.pool.connection() as conn, conn.transaction():
            made = conn.execute("INSERT INTO accounts (id) VALUES (%s) ON CONFLICT DO NOTHING",
                                (account,)).rowcount
            conn.execute("INSERT INTO balances (account_id) VALUES (%s) ON CONFLICT DO NOTHING",
                         (account,))
        return made == 1

    def balance(self, account: str) -> Decimal:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT balance FROM balances WHERE account_id = %s "
                               "AND asset = 'USDT'", (account,)).fetchone()
        if row is None:
            raise CounterError(CounterCode.UNKNOWN_ACCOUNT, account)
        return _norm(row["balance"])

    def deposit(self, account: str, amount: Decimal | int, reference: str,
                address: str | None = None) -> Transfer:
        """Credit USDT once per ``(account, reference)``; a repeat returns the first.
        ``address``: the wallet it came from, when known (AML screens it)."""
        return self._transfer(account, TransferKind.DEPOSIT, amount, reference, address)

    def withdraw(self, account: str, amount: Decimal | int, reference: str,
                 address: str | None = None) -> Transfer:
        """Debit USDT once per ``(account, reference)``, never below zero; ``address``: the
        wallet it goes to."""
        return self._transfer(account, TransferKind.WITHDRAWAL, amount, reference, address)

    def _transfer(self, account: str, kind: TransferKind, amount: Decimal | int,
                  reference: str, address: str | None = None) -> Transfer:
        check_account_id(account)
        value = _check_amount(amount)
        _check_reference(reference)
        if address is not None:
            _check_reference(address)
        sign = value if kind is TransferKind.DEPOSIT else -value
        args = {"delta": sign, "account": account, "kind": kind.value, "amount": value,
                "reference": reference, "address": address}
        try:
            with self.pool.connection() as conn, conn.transaction():
                existing = conn.execute(_FIND_TRANSFER, args).fetchone()
                if existing is not None:
                    return self._replayed_transfer(existing, account, kind, value, reference)
                self._gate_transfer(conn, account, kind, value)
                moved = conn.execute(_MOVE_BALANCE, args).fetchone()
                if moved is None:
                    raise self._why_no_debit(conn, account, value)
                row = conn.execute(_INSERT_TRANSFER, args).fetchone()
                if row is None:  # a concurrent first attempt won: undo ours, return theirs
                    raise _LostRace
                return Transfer(row["id"], account, kind, value, reference, row["created_at"],
                                replayed=False, balance_after=_norm(moved["balance"]))
        except _LostRace:
            pass
        with self.pool.connection() as conn:
            first = conn.execute(_FIND_TRANSFER, args).fetchone()
        assert first is not None, "the race winner must exist"
        return self._replayed_transfer(first, account, kind, value, reference)

    def _replayed_transfer(self, row: dict[str, Any], account: str, kind: TransferKind,
                           value: Decimal, reference: str) -> Transfer:
        if row["kind"] != kind.value or _norm(row["amount"]) != value:
            raise CounterError(CounterCode.TRANSFER_CONFLICT,
                               f"{reference}: {row['kind']} {_norm(row['amount'])} exists")
        return Transfer(row["id"], account, kind, value, reference, row["created_at"],
                        replayed=True)

    # -- products ----------------------------------------------------------------------------

    def list_products(self, products: Iterable[Product]) -> int:
        """Insert products that are missing (existing ones are left alone); how many were new."""
        rows = [(p.id, p.underlying, p.strike, p.expiry, p.option_type.value, p.contract_size,
                 p.status.value) for p in products]
        with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            made = 0
            for row in rows:
                cur.execute("INSERT INTO products (id, underlying, strike, expiry, option_type, "
                            "contract_size, status) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                            "ON CONFLICT (id) DO NOTHING", row)
                made += cur.rowcount
        return made

    def set_product_status(self, product_id: str, status: ProductStatus) -> None:
        with self.pool.connection() as conn:
            conn.execute("UPDATE products SET status = %s, updated_at = now() WHERE id = %s",
                         (ProductStatus(status).value, product_id))

    def products(self, *, listed_only: bool = True) -> list[Product]:
        where = "WHERE status = 'listed' AND expiry > now()" if listed_only else ""
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT id AS p_id, underlying, strike, expiry, option_type, "
                                "contract_size, status AS p_status FROM products "
                                f"{where} ORDER BY id").fetchall()
        return [_product(r) for r in rows]


def _product(row: dict[str, Any]) -> Product:
    return Product(id=row["p_id"], underlying=row["underlying"], strike=_norm(row["strike"]),
                   expiry=row["expiry"], option_type=OptionType(row["option_type"]),
                   contract_size=_norm(row["contract_size"]),
                   status=ProductStatus(row["p_status"]))


def _insert_args(product: Product, q: Quote) -> dict[str, Any]:
    for name in ("price", "premium", "fee", "total"):
        value = getattr(q, name)
        assert value == value.quantize(MONEY_EXPONENT), f"{name} is not 18-decimal exact"
    return {"underlying": product.underlying, "strike": product.strike,
            "expiry": product.expiry, "option_type": product.option_type.value,
            "contract_size": product.contract_size, "contracts": q.contracts,
            "underlying_price": q.underlying_price, "iv": q.iv, "price": q.price,
            "premium": q.premium, "fee": q.fee, "total": q.total}
