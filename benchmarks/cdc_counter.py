"""Counter placements per second, one account and many, against a bare INSERT of the same row.

Both legs write the same ``orders`` row through the same pool, as the same service role, with
the same threads, in the same run:

* **baseline** — ``INSERT INTO orders … VALUES (…)`` in autocommit: one durable commit per row
  and nothing else (no quote, no balance, no idempotency check);
* **counter** — ``CounterService.place_order``: quote (Black-76 + spread + fee), then the one
  statement that checks the product, the account and the client order id, inserts the order
  and debits the balance.

"one account" puts every thread on one balance row (they queue on its lock: each placement
holds it until its commit is on disk); "many accounts" gives each thread its own. A third
figure, a bare ``UPDATE`` of the balance row per commit, is the floor that row lock and the
WAL flush set whatever the service does.

A last leg, "batches", is ``CounterService.place_orders``: each call places ``--batch`` orders
spread over its thread's own ``--accounts`` accounts in one transaction (as "many accounts"
above: threads do not queue on each other's balance rows), against a bare multi-row INSERT
of the same rows in one transaction (and against the one-row bare INSERT above).

    python -m benchmarks.cdc_counter [--orders 1500] [--threads 8] [--batch 100]
                                     [--batches 20]

Needs the stack and ``strikeflow cdc migrate``. Every row is a real order and streams through
Debezium like any other (benchmark accounts are named ``bench-…``).
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from cdc.config import get_cdc_config
from cdc.counter import CounterService, OrderRequest, pricing_terms
from cdc.migrate import migrate
from cdc.products import standard_chain
from cdc.quotes import StaticPriceSource, quote
from infra.settings import get_settings

__all__ = ["main"]

_INSERT = """
INSERT INTO orders (account_id, client_order_id, product_id, underlying, strike, expiry,
                    option_type, contract_size, contracts, underlying_price, iv, price,
                    premium, fee, total)
VALUES (%(account)s, %(coid)s, %(product)s, %(underlying)s, %(strike)s, %(expiry)s,
        %(option_type)s, %(contract_size)s, %(contracts)s, %(underlying_price)s, %(iv)s,
        %(price)s, %(premium)s, %(fee)s, %(total)s)
"""


def _run(threads: int, per_thread: int, work: Callable[[int, int], None]) -> float:
    """Placements per second of ``work(thread, i)`` over ``threads`` threads."""
    errors: list[BaseException] = []
    start = threading.Barrier(threads + 1)

    def loop(t: int) -> None:
        start.wait()
        try:
            for i in range(per_thread):
                work(t, i)
        except BaseException as exc:  # report, do not hang the barrier
            errors.append(exc)

    pool = [threading.Thread(target=loop, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    start.wait()
    t0 = time.perf_counter()
    for th in pool:
        th.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return threads * per_thread / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1500, help="placements per leg")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100, help="orders per place_orders call")
    parser.add_argument("--batches", type=int, default=20, help="calls per thread")
    parser.add_argument("--accounts", type=int, default=8, help="accounts per thread, batches")
    args = parser.parse_args()
    settings, cfg = get_settings(), get_cdc_config()
    migrate(settings)
    now = datetime.now(UTC)
    prices = StaticPriceSource({"BTC": cfg.spot_btc, "ETH": cfg.spot_eth})
    run = uuid.uuid4().hex[:6]
    with CounterService.connect(settings, cfg, min_size=args.threads,
                                max_size=args.threads) as svc:
        svc.list_products(standard_chain(now, {"BTC": cfg.spot_btc, "ETH": cfg.spot_eth}))
        product = min((p for p in svc.products() if p.underlying == "BTC"),
                      key=lambda p: (abs(p.strike - cfg.spot_btc), p.expiry))
        q = quote(product, Decimal(1), prices.price("BTC"), datetime.now(UTC),
                  pricing_terms(cfg))
        row = {"product": product.id, "underlying": product.underlying,
               "strike": product.strike, "expiry": product.expiry,
               "option_type": product.option_type.value, "contract_size": product.contract_size,
               "contracts": q.contracts, "underlying_price": q.underlying_price, "iv": q.iv,
               "price": q.price, "premium": q.premium, "fee": q.fee, "total": q.total}
        per_thread = max(1, args.orders // args.threads)
        print(f"{args.threads} threads x {per_thread} placements per leg; "
              f"one order = {q.total} USDT")
        results: dict[str, tuple[float, float]] = {}
        for label, n_accounts in (("one account", 1), ("many accounts", args.threads)):
            accounts = [f"bench-{run}-{n_accounts}-{i}" for i in range(n_accounts)]
            base_accounts = [f"{a}-base" for a in accounts]
            for a in accounts + base_accounts:
                svc.open_account(a)
                svc.deposit(a, Decimal(10**9), "bench")

            def bare(t: int, i: int, accts: list[str] = base_accounts) -> None:
                with svc.pool.connection() as conn:
                    conn.execute(_INSERT, row | {"account": accts[t % len(accts)],
                                                 "coid": f"b{t}-{i}"})

            def counter(t: int, i: int, accts: list[str] = accounts) -> None:
                svc.place_order(accts[t % len(accts)], product.id, 1, f"c{t}-{i}")

            def debit(t: int, i: int, accts: list[str] = base_accounts) -> None:
                with svc.pool.connection() as conn:
                    conn.execute("UPDATE balances SET balance = balance - %s "
                                 "WHERE account_id = %s", (q.total, accts[t % len(accts)]))

            baseline = _run(args.threads, per_thread, bare)
            floor = _run(args.threads, per_thread, debit)
            placed = _run(args.threads, per_thread, counter)
            results[label] = (placed, baseline)
            print(f"{label:14s} counter {placed:7.0f}/s   bare INSERT {baseline:7.0f}/s "
                  f"(ratio {placed / baseline:.2f})   bare debit UPDATE {floor:7.0f}/s "
                  f"(ratio {placed / floor:.2f})")
        accounts = [f"bench-{run}-batch-{i}" for i in range(args.threads * args.accounts)]
        for a in accounts + [f"{a}-base" for a in accounts]:
            svc.open_account(a)
            svc.deposit(a, Decimal(10**9), "bench")
        n = args.accounts

        def bare_batch(t: int, i: int) -> None:
            rows = [row | {"account": f"{accounts[t * n + j % n]}-base",
                           "coid": f"B{t}-{i}-{j}"} for j in range(args.batch)]
            with svc.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                cur.executemany(_INSERT, rows)

        def counter_batch(t: int, i: int) -> None:
            outcomes = svc.place_orders([OrderRequest(accounts[t * n + j % n], product.id, 1,
                                                      f"C{t}-{i}-{j}")
                                         for j in range(args.batch)])
            refused = [o for o in outcomes if isinstance(o, Exception)]
            if refused:
                raise refused[0]

        base_batch = _run(args.threads, args.batches, bare_batch) * args.batch
        placed = _run(args.threads, args.batches, counter_batch) * args.batch
        one_row = results["many accounts"][1]
        print(f"batches of {args.batch:<4d} counter {placed:7.0f}/s   bare INSERT {one_row:7.0f}/s "
              f"(ratio {placed / one_row:.2f})   bare batch INSERT {base_batch:7.0f}/s "
              f"(ratio {placed / base_batch:.2f})")
    print("target of the seed system: 10k placements/s; see cdc/counter.py for what bounds it")


if __name__ == "__main__":
    main()
