"""Market data: candles (md.candles), the index (md.index) and option marks (md.marks)."""

from __future__ import annotations

from typing import Any

from analytics.quality.spec import (
    CrossCheck,
    TableSuite,
    between,
    in_set,
    matches,
    non_negative,
    nonempty,
    not_after,
    positive,
    zero,
)
from analytics.quality.suites.common import META, MONEY, SYMBOL, TS

__all__ = ["CANDLES", "INDEX_PRICES", "OPTION_MARKS"]


def _candle_rows() -> list[Any]:
    return [
        *nonempty("event_id"),
        *matches("symbol", SYMBOL),
        *in_set("interval", {"1m", "5m", "15m", "1h"}),
        *positive("open", "high", "low", "close", "volume", "vwap"),
        *non_negative("notional"),
        *not_after("low", "open"), *not_after("open", "high"),
        *not_after("low", "close"), *not_after("close", "high"),
        *not_after("low", "vwap"), *not_after("vwap", "high"),
        *not_after("window_start", "window_end", strict=True),
        *positive("trades", "version"),
    ]


# A final rollup is the candle of its final minutes: same volume and trade count. Windows whose
# minutes are not all stored (the sink started mid-window, a quiet minute) are left out.
_ROLLUP_SQL = """
SELECT r.event_id AS event_id,
       r.volume - sum(m.volume) AS volume_diff,
       toInt64(r.trades) - toInt64(sum(m.trades)) AS trades_diff
FROM (SELECT * FROM {db}.candles FINAL WHERE interval != '1m' AND final) AS r
INNER JOIN (SELECT * FROM {db}.candles FINAL WHERE interval = '1m' AND final) AS m
    ON m.symbol = r.symbol
WHERE m.window_start >= r.window_start AND m.window_start < r.window_end
GROUP BY r.event_id, r.volume, r.trades, r.window_start, r.window_end
HAVING count() = dateDiff('minute', r.window_start, r.window_end)
"""

CANDLES = TableSuite(
    table="candles",
    schema={"event_id": "String", "symbol": "LowCardinality(String)",
            "interval": "LowCardinality(String)", "window_start": TS, "window_end": TS,
            "open": MONEY, "high": MONEY, "low": MONEY, "close": MONEY, "volume": MONEY,
            "notional": MONEY, "vwap": MONEY, "trades": "UInt32", "version": "UInt64",
            "final": "Bool", **META},
    batch_key=("event_id", "version"),
    table_key=("event_id",),
    rows=_candle_rows,
    cross=(CrossCheck("rollups_match_their_minutes", _ROLLUP_SQL,
                      lambda: [*zero("volume_diff", "trades_diff")]),),
)


def _index_rows() -> list[Any]:
    return [*nonempty("event_id"), *matches("underlying", r"^[A-Z][A-Z0-9]{1,9}$"),
            *positive("price")]


# The index is a median of venues' mids: it stays within 5% of the minute's traded close
# across the same venues (an index far from every print means a broken feed or a bad median).
_INDEX_VS_VENUES = """
SELECT i.event_id AS event_id,
       toFloat64(abs(i.price - c.close)) / toFloat64(c.close) AS deviation
FROM (SELECT event_id, underlying, price, ts_event FROM {db}.index_prices FINAL) AS i
INNER JOIN (SELECT symbol, window_start, close FROM {db}.candles FINAL
            WHERE interval = '1m') AS c
    ON c.symbol = concat(i.underlying, '-USDT') AND c.window_start = toStartOfMinute(i.ts_event)
"""

INDEX_PRICES = TableSuite(
    table="index_prices",
    schema={"event_id": "String", "underlying": "LowCardinality(String)", "price": MONEY,
            "venues_used": "Array(LowCardinality(String))",
            "venues_excluded": "Array(LowCardinality(String))",
            "exclusions": "Map(String, LowCardinality(String))", **META},
    batch_key=("event_id",),
    table_key=("event_id",),
    rows=_index_rows,
    cross=(CrossCheck("index_near_venue_prints", _INDEX_VS_VENUES,
                      lambda: [*between("deviation", 0, 0.05)], needs=("candles",)),),
)


def _mark_rows() -> list[Any]:
    return [*nonempty("event_id"), *matches("symbol", SYMBOL),
            *positive("underlying_price", "iv", "forward"),
            *non_negative("mark_price", "gamma", "vega"), *between("delta", -1, 1)]


OPTION_MARKS = TableSuite(
    table="option_marks",
    schema={"event_id": "String", "symbol": "LowCardinality(String)",
            "underlying_price": MONEY, "mark_price": MONEY, "iv": MONEY, "delta": MONEY,
            "gamma": MONEY, "vega": MONEY, "theta": MONEY, "expiry": TS,
            "forward": "Nullable(Decimal(38, 18))", **META},
    batch_key=("event_id",),
    table_key=("event_id",),
    rows=_mark_rows,
)
