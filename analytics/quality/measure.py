"""What screening costs a sink batch: ``python -m analytics.quality.measure [--rows 1000]``.

For every screened table, a clean batch of ``rows`` rows (a valid sample row repeated with
distinct ids) is screened ``repeat`` times after one warm-up; the median is printed next to
the cost of only building the batch's DataFrame, the cost of the same clean batch through GX
alone (``screen_table(cheap=False)``: what every batch cost before the cheap path) and the cost
of a batch with one bad row (the cheap path cannot call it clean, so GX runs, a second time for
the failing row numbers).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from confluent_kafka import Message

from analytics.quality.screen import screen_table
from analytics.quality.suites import SCREENED, SUITES

__all__ = ["measure"]

_VALUES: dict[str, Any] = {"Decimal": Decimal("1.5"), "datetime": datetime(2026, 1, 1, tzinfo=UTC),
                           "int": 1, "bool": True, "list": ["a"], "dict": {"a": "stale"}}


def _row(table: str, i: int) -> list[Any]:
    """A row that satisfies the table's rules, with ``i`` making its keys distinct."""
    from analytics.quality.spec import python_type

    suite = SUITES[table]
    row = []
    for column, ch_type in suite.schema.items():
        kind, _ = python_type(ch_type)
        row.append(f"{column}-{i}" if kind == "str" else _VALUES.get(kind))
    fixes = _FIXES.get(table, {})
    for column, value in fixes.items():
        if column in suite.columns:
            row[suite.columns.index(column)] = value
    for key in (*suite.batch_key, "seq", "version"):
        if key in suite.columns and isinstance(row[suite.columns.index(key)], int):
            row[suite.columns.index(key)] = i + 1
    return row


T = datetime(2026, 1, 1, tzinfo=UTC)
_SYM = {"symbol": "BTC-USDT", "product": "BTC-20261225-92000-C", "hedge_symbol": "BTC-USDT"}
_FIXES: dict[str, dict[str, Any]] = {
    "candles": {**_SYM, "interval": "1m", "window_end": T + timedelta(minutes=1)},
    "trades": {**_SYM, "aggressor_side": "buy"},
    "order_events": {**_SYM, "kind": "filled", "side": "buy"},
    "ledger": {**_SYM, "kind": "trade"},
    "positions": {**_SYM},
    "risk_alerts": {**_SYM, "kind": "margin_call", "level": "warning"},
    "index_prices": {"underlying": "BTC"},
    "option_marks": {"symbol": "BTC-20261225-92000-C", "delta": Decimal("0.5")},
    "settlement_orders": {**_SYM, "underlying": "BTC", "option_type": "call", "side": "buy",
                          "status": "open", "source": "stream"},
    "settlement_results": {**_SYM, "underlying": "BTC", "state": "booked", "hedge_side": "buy"},
    "hedges": {**_SYM, "underlying": "BTC", "side": "buy"},
    "expiries": {"underlying": "BTC", "expiry": T + timedelta(hours=1)},
    "rfq_events": {"kind": "rfq_opened", "side": "buy"},
    "routing_reports": {**_SYM, "status": "done", "side": "buy"},
}


def _median_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm-up: GX registers the suite once
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(rows: int = 1000, repeat: int = 5) -> dict[str, dict[str, float]]:
    out = {}
    for table in sorted(SCREENED):
        suite = SUITES[table]
        data = [(_row(table, i), Message(topic=table, partition=0, offset=i, key=None,
                                         value=b"{}")) for i in range(rows)]
        _, _, outcome = screen_table(table, suite.columns, data)
        if not outcome.success:
            raise AssertionError(f"{table}: the measuring sample fails {outcome.failed_names}")
        bad = [(list(r), m) for r, m in data]
        bad[rows // 2][0][suite.columns.index(suite.batch_key[0])] = bad[0][0][
            suite.columns.index(suite.batch_key[0])]  # a conflicting duplicate key
        if len(suite.batch_key) > 1:
            for k in suite.batch_key[1:]:
                bad[rows // 2][0][suite.columns.index(k)] = bad[0][0][suite.columns.index(k)]
        out[table] = {
            "frame_ms": _median_ms(lambda d=data, s=suite: pd.DataFrame(  # type: ignore[misc]
                [r for r, _ in d], columns=list(s.columns), dtype=object), repeat),
            "clean_ms": _median_ms(lambda d=data, t=table, s=suite: screen_table(  # type: ignore[misc]
                t, s.columns, d), repeat),
            "gx_clean_ms": _median_ms(lambda d=data, t=table, s=suite: screen_table(  # type: ignore[misc]
                t, s.columns, d, cheap=False), repeat),
            "one_bad_ms": _median_ms(lambda d=bad, t=table, s=suite: screen_table(  # type: ignore[misc]
                t, s.columns, d), repeat),
            "expectations": float(len(suite.batch_expectations())),
        }
    return out


def main() -> None:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = measure(args.rows, args.repeat)
    print(f"{'table':20s} {'expect.':>7s} {'frame ms':>9s} {'clean ms':>9s} {'GX only':>9s} "
          f"{'1 bad ms':>9s}   ({args.rows} rows, median of {args.repeat})")
    for table, r in results.items():
        print(f"{table:20s} {r['expectations']:7.0f} {r['frame_ms']:9.1f} {r['clean_ms']:9.1f} "
              f"{r['gx_clean_ms']:9.1f} {r['one_bad_ms']:9.1f}")
    clean = [r["clean_ms"] for r in results.values()]
    print(f"clean batch: median {statistics.median(clean):.0f} ms a table, "
          f"{sum(clean):.0f} ms for one batch of every table")


if __name__ == "__main__":
    main()
