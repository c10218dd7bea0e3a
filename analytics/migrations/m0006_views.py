"""Analyst views: OHLCV and VWAP from trades, volume by instrument and venue, fees, per-account
PnL and the settlement reconciliation.

Why plain views and not materialized views: the sink is at-least-once (it commits after the
insert, so a crash replays the batch) and a materialized view fires on every *insert*, before
``ReplacingMergeTree`` has merged anything. A materialized view that sums (volume, notional,
fees, PnL) would count a replayed batch twice, and nothing merges that back. These views read
the de-duplicated tables with ``FINAL`` instead, so a replay changes none of their numbers.
(The one materialized view, in m0007, keeps only aggregates that a duplicate cannot change.)

Money stays exact: ``price * qty`` of two ``Decimal(38, 18)`` would overflow ``Decimal(38, 36)``
silently for any notional above 100, so products are taken in ``Decimal256`` and brought back to
18 decimals (exact: venue prices and quantities carry at most 9 decimals each). A VWAP is a
quotient, cut (not rounded) at 18 decimals.
"""

UP = [
    """
    CREATE VIEW IF NOT EXISTS {db}.trades_notional AS
    SELECT event_id, symbol, trade_id, price, qty,
           CAST(toDecimal256(price, 18) * qty AS Decimal(38, 18)) AS notional,
           aggressor_side, maker_account, taker_account, seq, ts_event
    FROM {db}.trades FINAL
    """,
    """
    CREATE VIEW IF NOT EXISTS {db}.ohlcv_1m AS
    SELECT symbol, toStartOfMinute(ts_event) AS minute,
           argMin(price, (ts_event, seq)) AS open, max(price) AS high, min(price) AS low,
           argMax(price, (ts_event, seq)) AS close, sum(qty) AS volume,
           sum(notional) AS notional, count() AS trades,
           CAST(toDecimal256(notional, 36) / volume AS Decimal(38, 18)) AS vwap
    FROM {db}.trades_notional
    GROUP BY symbol, minute
    """,
    """
    CREATE VIEW IF NOT EXISTS {db}.trading_daily AS
    SELECT toDate(ts_event) AS day, symbol,
           argMin(price, (ts_event, seq)) AS open, max(price) AS high, min(price) AS low,
           argMax(price, (ts_event, seq)) AS close, sum(qty) AS volume,
           sum(notional) AS notional, count() AS trades,
           CAST(toDecimal256(notional, 36) / volume AS Decimal(38, 18)) AS vwap
    FROM {db}.trades_notional
    GROUP BY day, symbol
    """,
    """
    CREATE VIEW IF NOT EXISTS {db}.volume_by_venue AS
    SELECT toDate(ts_event) AS day, 'strikeflow' AS venue, toString(symbol) AS symbol,
           count() AS trades, sum(qty) AS volume, sum(notional) AS notional
    FROM {db}.trades_notional
    GROUP BY day, symbol
    UNION ALL
    SELECT toDate(ts_event) AS day, toString(venue) AS venue, toString(symbol) AS symbol,
           count() AS trades, sum(qty) AS volume,
           sum(CAST(toDecimal256(avg_price, 18) * qty AS Decimal(38, 18))) AS notional
    FROM {db}.hedges FINAL
    GROUP BY day, venue, symbol
    """,
    # Fees an account pays are its kind='fee' ledger legs (debits, < 0); the house's matching
    # credits (accounts 'house:…') are left out, so the figure is what clients paid.
    """
    CREATE VIEW IF NOT EXISTS {db}.fees_daily AS
    SELECT toDate(ts_event) AS day, ifNull(toString(symbol), '') AS symbol, account,
           -sum(amount) AS fees, count() AS entries
    FROM {db}.ledger FINAL
    WHERE kind = 'fee' AND NOT startsWith(account, 'house:')
    GROUP BY day, symbol, account
    """,
    """
    CREATE VIEW IF NOT EXISTS {db}.account_pnl AS
    SELECT account,
           p.realized AS realized_pnl, p.unrealized AS unrealized_pnl,
           p.realized + p.unrealized AS pnl, p.positions AS open_positions,
           l.balance AS balance, l.fees AS fees, l.entries AS ledger_entries
    FROM (SELECT account, sum(amount) AS balance, -sumIf(amount, kind = 'fee') AS fees,
                 count() AS entries
          FROM {db}.ledger FINAL GROUP BY account) AS l
    FULL OUTER JOIN
         (SELECT account, sum(realized_pnl) AS realized, sum(unrealized_pnl) AS unrealized,
                 countIf(qty != 0) AS positions
          FROM {db}.positions FINAL GROUP BY account) AS p
    USING account
    """,
    # Every open simplified-option order must be booked exactly once, at the premium it was
    # sold for. 'not_booked' may only be in flight: last_state says how far it got.
    """
    CREATE VIEW IF NOT EXISTS {db}.settlement_reconciliation AS
    SELECT order_id,
           if(o.account != '', o.account, r.account) AS account,
           o.product AS product, o.premium AS ordered_premium, o.opens AS opens,
           r.booked AS booked, r.booked_premium AS booked_premium, r.last_state AS last_state,
           multiIf(o.opens = 0, 'booked_without_order',
                   r.booked = 0, 'not_booked',
                   r.booked > 1, 'booked_more_than_once',
                   r.booked_premium != o.premium, 'premium_mismatch',
                   'ok') AS status
    FROM (SELECT order_id, any(account) AS account, any(toString(product)) AS product,
                 any(premium) AS premium, count() AS opens
          FROM {db}.settlement_orders FINAL WHERE status = 'open' GROUP BY order_id) AS o
    FULL OUTER JOIN
         (SELECT order_id, any(account) AS account, countIf(state = 'booked') AS booked,
                 anyIf(ifNull(premium, toDecimal128(0, 18)), state = 'booked') AS booked_premium,
                 toString(argMax(state, ts_event)) AS last_state
          FROM {db}.settlement_results FINAL GROUP BY order_id) AS r
    USING order_id
    """,
]

DOWN = [
    "DROP VIEW IF EXISTS {db}.settlement_reconciliation",
    "DROP VIEW IF EXISTS {db}.account_pnl",
    "DROP VIEW IF EXISTS {db}.fees_daily",
    "DROP VIEW IF EXISTS {db}.volume_by_venue",
    "DROP VIEW IF EXISTS {db}.trading_daily",
    "DROP VIEW IF EXISTS {db}.ohlcv_1m",
    "DROP VIEW IF EXISTS {db}.trades_notional",
]
