"""Risk: exposure by account and instrument, margin alerts, PnL."""

from __future__ import annotations

from dashboards.model import Dashboard, Panel

__all__ = ["RISK"]

# Exact products: Decimal(38, 18) x Decimal(38, 18) would need 36 decimals (see m0006).
_EXPOSURE = "CAST(toDecimal256(qty, 18) * ifNull(mark_price, avg_price) AS Decimal(38, 18))"

RISK = Dashboard("strikeflow-risk", "StrikeFlow · risk",
                 "Positions marked to market, margin alerts as they cross, PnL per account.", (
    Panel("Exposure by account", f"""
SELECT account, toString(symbol) AS symbol, qty, ifNull(mark_price, avg_price) AS mark,
       {_EXPOSURE} AS exposure, maintenance_margin, unrealized_pnl
FROM {{db}}.positions FINAL
WHERE qty != 0
ORDER BY abs(exposure) DESC
LIMIT 50""", "table",
          ("account", "symbol", "qty", "mark", "exposure", "maintenance_margin",
           "unrealized_pnl"), width=24),
    Panel("Gross and net exposure by symbol", f"""
SELECT toString(symbol) AS symbol, sum(abs({_EXPOSURE})) AS gross, sum({_EXPOSURE}) AS net
FROM {{db}}.positions FINAL
GROUP BY symbol
ORDER BY gross DESC""", "bar", ("symbol", "gross", "net"), unit="USDT"),
    Panel("Margin alerts per interval", """
SELECT $__timeInterval(ts_event) AS time, toString(level) AS level, count() AS alerts
FROM {db}.risk_alerts FINAL
WHERE $__timeFilter(ts_event)
GROUP BY time, level
ORDER BY time, level""", "timeseries", ("time", "level", "alerts"), style="bars"),
    Panel("Latest risk alerts", """
SELECT ts_event, account, toString(kind) AS kind, toString(level) AS level, margin_ratio,
       message
FROM {db}.risk_alerts FINAL
WHERE $__timeFilter(ts_event)
ORDER BY ts_event DESC
LIMIT 50""", "table", ("ts_event", "account", "kind", "level", "margin_ratio", "message")),
    Panel("PnL by account", """
SELECT account, realized_pnl, unrealized_pnl, pnl, balance, fees, open_positions
FROM {db}.account_pnl
ORDER BY pnl DESC""", "table",
          ("account", "realized_pnl", "unrealized_pnl", "pnl", "balance", "fees",
           "open_positions")),
))
