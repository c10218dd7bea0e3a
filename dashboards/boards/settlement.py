"""Settlement and hedging: simplified-option orders, their settlement, hedges, expiries."""

from __future__ import annotations

from dashboards.model import Dashboard, Panel

__all__ = ["SETTLEMENT"]

SETTLEMENT = Dashboard("strikeflow-settlement", "StrikeFlow · settlement and hedging",
                       "Simplified options sold, how far each got through settlement, the "
                       "house's hedges and their slippage, expiries.", (
    Panel("Premium sold per interval", """
SELECT $__timeInterval(ordered_at) AS time, toString(underlying) AS underlying,
       sum(premium) AS premium
FROM {db}.settlement_orders FINAL
WHERE status = 'open' AND $__timeFilter(ordered_at)
GROUP BY time, underlying
ORDER BY time, underlying""", "timeseries", ("time", "underlying", "premium"), unit="USDT",
          style="bars"),
    Panel("Orders by settlement state", """
SELECT toString(state) AS state, uniqExact(order_id) AS orders
FROM {db}.settlement_results FINAL
WHERE $__timeFilter(ts_event)
GROUP BY state
ORDER BY orders DESC""", "bar", ("state", "orders")),
    Panel("Reconciliation (orders vs bookings)", """
SELECT status, count() AS orders
FROM {db}.settlement_reconciliation
GROUP BY status
ORDER BY orders DESC""", "bar", ("status", "orders"),
          description="ok, or why not: not_booked (maybe in flight), booked_more_than_once, "
                      "premium_mismatch, booked_without_order."),
    Panel("Hedge slippage (bps)", """
SELECT ts_event AS time, toString(underlying) AS underlying, slippage_bps
FROM {db}.hedges FINAL
WHERE $__timeFilter(ts_event)
ORDER BY time, underlying""", "timeseries", ("time", "underlying", "slippage_bps"), unit="bps",
          style="points", description="One point per hedge fill."),
    Panel("Hedged notional by venue", """
SELECT toString(venue) AS venue, toString(side) AS side, count() AS hedges,
       CAST(sum(toDecimal256(qty, 18) * avg_price) AS Decimal(38, 18)) AS notional,
       sum(fee) AS fees
FROM {db}.hedges FINAL
WHERE $__timeFilter(ts_event)
GROUP BY venue, side
ORDER BY notional DESC""", "bar", ("venue", "side", "hedges", "notional", "fees"),
          unit="USDT"),
    Panel("Expiries", """
SELECT expiry, toString(underlying) AS underlying, settlement_price, samples, positions,
       total_payout, payout_to_accounts
FROM {db}.expiries FINAL
ORDER BY expiry DESC
LIMIT 20""", "table",
          ("expiry", "underlying", "settlement_price", "samples", "positions", "total_payout",
           "payout_to_accounts")),
))
