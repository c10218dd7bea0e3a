"""Trading on our venue: volume, trades per second, depth, order outcomes."""

from __future__ import annotations

from dashboards.model import Dashboard, Panel, Repeat

__all__ = ["DEPTH_LEVELS", "TRADING"]

# Orders still resting (latest event accepted, partially filled, amended or triggered, with
# quantity left), from the order lifecycle: each order's latest event.
_RESTING = """
SELECT symbol, side, price, leaves
FROM (SELECT toString(symbol) AS symbol, order_id,
             toString(argMax(side, seq)) AS side, argMax(price, seq) AS price,
             argMax(leaves_qty, seq) AS leaves, toString(argMax(kind, seq)) AS last_kind
      FROM {db}.order_events FINAL
      WHERE order_id IS NOT NULL AND kind != 'command_rejected'
      GROUP BY symbol, order_id)
WHERE last_kind IN ('accepted', 'partially_filled', 'amended', 'triggered') AND leaves > 0"""

DEPTH_LEVELS = 12  # per side, nearest the touch: a readable bar chart, not 80 labels

# One symbol's book: bids and asks per price level, the levels nearest the touch (highest
# bids, lowest asks), in price order; a bar per level, coloured by side.
_DEPTH = f"""
SELECT toString(level) AS price, sumIf(depth, side = 'buy') AS bids,
       sumIf(depth, side = 'sell') AS asks
FROM (SELECT side, price AS level, sum(leaves) AS depth
      FROM ({_RESTING})
      WHERE symbol = '${{book_symbol}}'
      GROUP BY side, level
      ORDER BY side, if(side = 'buy', -toFloat64(level), toFloat64(level))
      LIMIT {DEPTH_LEVELS} BY side)
GROUP BY level
ORDER BY level"""

_BOOK_SYMBOLS = Repeat("book_symbol", f"""
SELECT DISTINCT symbol AS value FROM ({_RESTING}) ORDER BY value""")

TRADING = Dashboard("strikeflow-trading", "StrikeFlow · trading",
                    "Executions on StrikeFlow's own books: volume, rate, resting depth.", (
    Panel("Traded notional per interval", """
SELECT $__timeInterval(ts_event) AS time, toString(symbol) AS symbol,
       CAST(sum(toDecimal256(qty, 18) * price) AS Decimal(38, 18)) AS notional
FROM {db}.trades FINAL
WHERE $__timeFilter(ts_event)
GROUP BY time, symbol
ORDER BY time, symbol""", "timeseries", ("time", "symbol", "notional"), unit="USDT",
          style="bars", description="Stacked per symbol: in USDT, so symbols add up (a BTC "
                                    "and an ETH quantity would not)."),
    Panel("Trades per second", """
SELECT $__timeInterval(ts_event) AS time, toString(symbol) AS symbol,
       count() / $__interval_s AS trades_per_s
FROM {db}.trades FINAL
WHERE $__timeFilter(ts_event)
GROUP BY time, symbol
ORDER BY time, symbol""", "timeseries", ("time", "symbol", "trades_per_s"), unit="ops",
          style="bars"),
    Panel("Resting depth · ${book_symbol}", _DEPTH, "bar", ("price", "bids", "asks"),
          labels=("price",), stacked=True, width=8, repeat=_BOOK_SYMBOLS,
          description=f"Quantity resting per price level, the {DEPTH_LEVELS} levels nearest "
                      "the touch on each side."),
    Panel("Order events by kind", """
SELECT toString(kind) AS kind, count() AS events
FROM {db}.order_events FINAL
WHERE $__timeFilter(ts_event)
GROUP BY kind
ORDER BY events DESC""", "bar", ("kind", "events")),
    Panel("Daily trading (OHLCV, VWAP)", """
SELECT day, symbol, open, high, low, close, volume, notional, vwap, trades
FROM {db}.trading_daily
ORDER BY day DESC, symbol""", "table",
          ("day", "symbol", "open", "high", "low", "close", "volume", "notional", "vwap",
           "trades")),
    Panel("Volume by venue (ours and hedge venues)", """
SELECT venue, symbol, sum(trades) AS trades, sum(volume) AS volume, sum(notional) AS notional
FROM {db}.volume_by_venue
GROUP BY venue, symbol
ORDER BY notional DESC""", "table", ("venue", "symbol", "trades", "volume", "notional")),
))
