"""A materialized one-minute OHLC of our venue's trades that a replayed batch cannot change.

A materialized view fires on every insert, replays included, so it may only keep aggregates for
which a duplicate row changes nothing: first and last price (``argMin``/``argMax`` by event
time and engine sequence), high, low, and the number of *distinct* trade ids (``uniqExact``).
Volume, notional and VWAP would double count and come from the ``ohlcv_1m`` view (m0006).
The migration back-fills from the trades already stored, which is safe for the same reason.
"""

_SELECT = """
    SELECT symbol, toStartOfMinute(ts_event) AS minute,
           argMinState(price, (ts_event, seq)) AS open, maxState(price) AS high,
           minState(price) AS low, argMaxState(price, (ts_event, seq)) AS close,
           uniqExactState(event_id) AS trades
    FROM {db}.trades
    GROUP BY symbol, minute
"""

UP = [
    """
    CREATE TABLE IF NOT EXISTS {db}.trades_ohlc_1m_state (
        symbol LowCardinality(String),
        minute DateTime('UTC'),
        open   AggregateFunction(argMin, Decimal(38, 18), Tuple(DateTime64(6, 'UTC'), UInt64)),
        high   AggregateFunction(max, Decimal(38, 18)),
        low    AggregateFunction(min, Decimal(38, 18)),
        close  AggregateFunction(argMax, Decimal(38, 18), Tuple(DateTime64(6, 'UTC'), UInt64)),
        trades AggregateFunction(uniqExact, String)
    )
    ENGINE = AggregatingMergeTree
    ORDER BY (symbol, minute)
    """,
    "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.trades_ohlc_1m_mv "
    "TO {db}.trades_ohlc_1m_state AS" + _SELECT,
    "INSERT INTO {db}.trades_ohlc_1m_state" + _SELECT,
    """
    CREATE VIEW IF NOT EXISTS {db}.ohlc_1m AS
    SELECT symbol, minute, argMinMerge(open) AS open, maxMerge(high) AS high,
           minMerge(low) AS low, argMaxMerge(close) AS close, uniqExactMerge(trades) AS trades
    FROM {db}.trades_ohlc_1m_state
    GROUP BY symbol, minute
    """,
]

DOWN = [
    "DROP VIEW IF EXISTS {db}.ohlc_1m",
    "DROP VIEW IF EXISTS {db}.trades_ohlc_1m_mv",
    "DROP TABLE IF EXISTS {db}.trades_ohlc_1m_state",
]
