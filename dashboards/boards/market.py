"""Market overview: candles, the index against venue prints, option marks."""

from __future__ import annotations

from dashboards.model import Dashboard, Panel, Repeat

__all__ = ["MARKET"]

# BTC trades near 90 000 and ETH near 3 000: on one axis ETH is a flat line, so prices are
# drawn one panel per symbol (or underlying); the basis, in bps, shares one axis.
_CANDLE_SYMBOLS = Repeat("candle_symbol", """
SELECT DISTINCT toString(symbol) AS value FROM {db}.candles FINAL
WHERE interval = '1m' ORDER BY value""")
_UNDERLYINGS = Repeat("underlying", """
SELECT DISTINCT toString(underlying) AS value FROM {db}.index_prices FINAL ORDER BY value""")

MARKET = Dashboard("strikeflow-market", "StrikeFlow · market overview",
                   "Venue candles, the index per underlying against what venues printed, and "
                   "the latest option marks.", (
    Panel("Close · ${candle_symbol} (1m candles)", """
SELECT window_start AS time, toString(symbol) AS symbol, close
FROM {db}.candles FINAL
WHERE interval = '1m' AND toString(symbol) = '${candle_symbol}' AND $__timeFilter(window_start)
ORDER BY time, symbol""", "timeseries", ("time", "symbol", "close"), unit="USDT", gap_s=120,
          repeat=_CANDLE_SYMBOLS),
    Panel("Index price · ${underlying}", """
SELECT ts_event AS time, toString(underlying) AS underlying, price
FROM {db}.index_prices FINAL
WHERE toString(underlying) = '${underlying}' AND $__timeFilter(ts_event)
ORDER BY time, underlying""", "timeseries", ("time", "underlying", "price"), unit="USDT",
          gap_s=60, repeat=_UNDERLYINGS),
    Panel("Index basis to venue prints (bps)", """
SELECT toStartOfMinute(i.ts_event) AS time, toString(i.underlying) AS underlying,
       (toFloat64(avg(i.price)) / toFloat64(any(c.close)) - 1) * 10000 AS basis_bps
FROM {db}.index_prices AS i FINAL
INNER JOIN (SELECT symbol, window_start, close FROM {db}.candles FINAL
            WHERE interval = '1m') AS c
    ON c.symbol = concat(i.underlying, '-USDT') AND c.window_start = toStartOfMinute(i.ts_event)
WHERE $__timeFilter(i.ts_event)
GROUP BY time, underlying
ORDER BY time, underlying""", "timeseries", ("time", "underlying", "basis_bps"), unit="bps",
          gap_s=120,
          description="The index (median of healthy venues' mids) minus the minute's close "
                      "of venue trades."),
    Panel("Venues in the index (latest)", """
SELECT toString(underlying) AS underlying, argMax(price, ts_event) AS price,
       argMax(length(venues_used), ts_event) AS venues_used,
       argMax(arrayStringConcat(venues_excluded, ' '), ts_event) AS excluded,
       max(ts_event) AS as_of
FROM {db}.index_prices FINAL
WHERE $__timeFilter(ts_event)
GROUP BY underlying
ORDER BY underlying""", "table", ("underlying", "price", "venues_used", "excluded", "as_of")),
    Panel("Option marks (latest)", """
SELECT toString(symbol) AS symbol, argMax(mark_price, ts_event) AS mark_price,
       argMax(iv, ts_event) AS iv, argMax(delta, ts_event) AS delta,
       argMax(underlying_price, ts_event) AS underlying_price
FROM {db}.option_marks FINAL
WHERE $__timeFilter(ts_event)
GROUP BY symbol
ORDER BY symbol""", "table", ("symbol", "mark_price", "iv", "delta", "underlying_price"),
          width=24),
))
