"""Trading on our venue: volume, trades per second, depth, order outcomes."""

from __future__ import annotations

from dashboards.model import Dashboard, Panel

__all__ = ["TRADING"]

# The book's depth from the order lifecycle: each order's latest event; those still resting
# (accepted, partially filled, amended or triggered, with quantity left) at their price.
_DEPTH = """
SELECT symbol, side, price, sum(leaves) AS depth
FROM (SELECT toString(symbol) AS symbol, order_id,
             toString(argMax(side, seq)) AS side, argMax(price, seq) AS price,
             argMax(leaves_qty, seq) AS leaves, toString(argMax(kind, seq)) AS last_kind
      FROM {db}.order_events FINAL
      WHERE order_id IS NOT NULL AND kind != 'command_rejected'
      GROUP BY symbol, order_id)
WHERE last_kind IN ('accepted', 'partially_filled', 'amended', 'triggered') AND leaves > 0
GROUP BY symbol, side, price
ORDER BY symbol, side, price"""

TRADING = Dashboard("strikeflow-trading", "StrikeFlow · trading",
                    "Executions on StrikeFlow's own books: volume, rate, resting depth.", (
    Panel("Volume per interval", """
SELECT $__timeInterval(ts_event) AS time, toString(symbol) AS symbol, sum(qty) AS volume
FROM {db}.trades FINAL
WHERE $__timeFilter(ts_event)
GROUP BY time, symbol
ORDER BY time, symbol""", "timeseries", ("time", "symbol", "volume")),
    Panel("Trades per second", """
SELECT $__timeInterval(ts_event) AS time, toString(symbol) AS symbol,
       count() / $__interval_s AS trades_per_s
FROM {db}.trades FINAL
WHERE $__timeFilter(ts_event)
GROUP BY time, symbol
ORDER BY time, symbol""", "timeseries", ("time", "symbol", "trades_per_s"), unit="ops"),
    Panel("Resting depth by price", _DEPTH, "bar", ("symbol", "side", "price", "depth"),
          labels=("symbol", "side", "price")),
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
