"""Our venue's executions (``trades``) and order lifecycle (``orders.events``).

Both are immutable events with a deterministic id (``{symbol}:{engine seq}``), so each table is
a ``ReplacingMergeTree`` ordered by that natural key with the engine sequence as version: a
replayed batch writes the same keys again and collapses into the rows already there (read with
``FINAL``, or wait for the background merge).
"""

UP = [
    """
    CREATE TABLE IF NOT EXISTS {db}.trades (
        event_id        String,
        symbol          LowCardinality(String),
        trade_id        String,
        price           Decimal(38, 18),
        qty             Decimal(38, 18),
        aggressor_side  LowCardinality(String),
        maker_order_id  String,
        taker_order_id  String,
        maker_account   String,
        taker_account   String,
        seq             UInt64,
        ts_event        DateTime64(6, 'UTC'),
        ts_init         DateTime64(6, 'UTC'),
        causation_id    Nullable(String)
    )
    ENGINE = ReplacingMergeTree(seq)
    ORDER BY (symbol, event_id)
    """,
    """
    CREATE TABLE IF NOT EXISTS {db}.order_events (
        event_id        String,
        symbol          LowCardinality(String),
        seq             UInt64,
        kind            LowCardinality(String),
        account         Nullable(String),
        client_order_id Nullable(String),
        order_id        Nullable(String),
        side            LowCardinality(Nullable(String)),
        order_type      LowCardinality(Nullable(String)),
        time_in_force   LowCardinality(Nullable(String)),
        price           Nullable(Decimal(38, 18)),
        stop_price      Nullable(Decimal(38, 18)),
        trigger_price   Nullable(Decimal(38, 18)),
        qty             Nullable(Decimal(38, 18)),
        leaves_qty      Nullable(Decimal(38, 18)),
        trade_id        Nullable(String),
        is_maker        Nullable(Bool),
        reason_code     Nullable(Int32),
        reason          Nullable(String),
        ts_event        DateTime64(6, 'UTC'),
        ts_init         DateTime64(6, 'UTC'),
        causation_id    Nullable(String)
    )
    ENGINE = ReplacingMergeTree(seq)
    ORDER BY (symbol, event_id)
    """,
]

DOWN = [
    "DROP TABLE IF EXISTS {db}.order_events",
    "DROP TABLE IF EXISTS {db}.trades",
]
