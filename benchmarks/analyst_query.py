"""Analyst query latency over 10M trades: the canned report's and the views' queries, against a
plain ``count()`` of the same table in the same run.

The trades are generated inside ClickHouse (``INSERT … SELECT … FROM numbers(N)``) into a
scratch embedded store migrated like production, so the materialized OHLC view fills as it
would from the sink: 8 instruments, 1,000 accounts, 30 days. Each query runs ``--runs`` times;
the figure is its median (p50) and that median divided by the median of ``count()``.

    python -m benchmarks.analyst_query [--rows 10000000] [--runs 3]

On this 2-core machine the 10M default takes ~2.5 min (generation alone ~70 s: sorting 10M
string keys into a ReplacingMergeTree), over the 60 s goal; ``--rows 2000000`` takes ~25 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import clickhouse_connect

from analytics.migrate import migrate

DB = "strikeflow"
DAY = date(2026, 11, 15)
SYMBOLS = ["BTC-USDT", "ETH-USDT", "BTC-20261225-100000-C", "BTC-20261225-80000-P",
           "ETH-20261225-4000-C", "ETH-20261225-3000-P", "BTC-20261127-95000-C",
           "ETH-20261127-3500-P"]

GENERATE = f"""
INSERT INTO {DB}.trades (event_id, symbol, trade_id, price, qty, aggressor_side,
    maker_order_id, taker_order_id, maker_account, taker_account, seq, ts_event, ts_init)
SELECT concat(sym, ':', toString(number)) AS event_id, sym AS symbol, toString(number),
       toDecimal128(9000000 + number % 10000, 18) / 100,
       toDecimal128(1 + number % 7, 18) / 1000,
       if(number % 2 = 1, 'buy', 'sell'), concat('m', toString(number)),
       concat('k', toString(number)), concat('acct-', toString(number % 1000)),
       concat('acct-', toString((number + 7) % 1000)), number,
       toDateTime64('2026-11-01 00:00:00', 6, 'UTC') + toIntervalMillisecond(number * STEP_MS),
       toDateTime64('2026-11-01 00:00:00', 6, 'UTC') + toIntervalMillisecond(number * STEP_MS)
FROM (SELECT number, arrayElement({SYMBOLS!r}, number % {len(SYMBOLS)} + 1) AS sym
      FROM numbers(ROWS))
"""

D = f"toDate('{DAY.isoformat()}')"
QUERIES = {
    "baseline: SELECT count() FROM trades": f"SELECT count() FROM {DB}.trades",
    "daily report: trading by instrument": (
        f"SELECT symbol, trades, volume, notional, vwap, open, high, low, close "
        f"FROM {DB}.trading_daily WHERE day = {D} ORDER BY notional DESC"),
    "daily report: top accounts": (
        f"SELECT arrayJoin([maker_account, taker_account]) AS account, count() AS trades, "
        f"sum(notional) AS notional FROM {DB}.trades_notional WHERE toDate(ts_event) = {D} "
        f"GROUP BY account ORDER BY notional DESC LIMIT 10"),
    "view: volume_by_venue, one day": f"SELECT * FROM {DB}.volume_by_venue WHERE day = {D}",
    "view: ohlcv_1m, one symbol-day": (
        f"SELECT * FROM {DB}.ohlcv_1m WHERE symbol = 'BTC-USDT' "
        f"AND toDate(minute) = {D} ORDER BY minute"),
    "MV: ohlc_1m, one symbol-day": (
        f"SELECT * FROM {DB}.ohlc_1m WHERE symbol = 'BTC-USDT' "
        f"AND toDate(minute) = {D} ORDER BY minute"),
    "view: trading_daily, all 30 days": f"SELECT * FROM {DB}.trading_daily",
}


def _p50(client: Any, sql: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        client.raw_query(sql, fmt="TSV")
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    client = clickhouse_connect.get_client(
        dsn=f"chdb://{Path(tempfile.mkdtemp(prefix='bench-analyst-'))}")
    migrate(client, DB)
    step = max(1, 30 * 86_400_000 // args.rows)  # spread over 30 days
    t = time.perf_counter()
    client.command(GENERATE.replace("ROWS", str(args.rows)).replace("STEP_MS", str(step)))
    gen_s = time.perf_counter() - t
    n = client.query(f"SELECT count() FROM {DB}.trades").result_rows[0][0]
    print(f"generated {n:,} trades (and their materialized OHLC) in {gen_s:.1f}s")
    base = None
    for name, sql in QUERIES.items():
        p50 = _p50(client, sql, args.runs)
        base = base or p50
        print(f"{name:<40} p50 {p50 * 1000:8.1f} ms   {p50 / base:8.1f}x count()")
    client.close()


if __name__ == "__main__":
    main()
