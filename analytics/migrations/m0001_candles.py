"""Candles from md.candles, and the rows the sink could never write."""

UP = [
    """
    CREATE TABLE IF NOT EXISTS {db}.candles (
        event_id     String,
        symbol       LowCardinality(String),
        interval     LowCardinality(String),
        window_start DateTime64(6, 'UTC'),
        window_end   DateTime64(6, 'UTC'),
        open         Decimal(38, 18),
        high         Decimal(38, 18),
        low          Decimal(38, 18),
        close        Decimal(38, 18),
        volume       Decimal(38, 18),
        notional     Decimal(38, 18),
        vwap         Decimal(38, 18),
        trades       UInt32,
        version      UInt64,
        final        Bool,
        ts_event     DateTime64(6, 'UTC'),
        ts_init      DateTime64(6, 'UTC'),
        causation_id Nullable(String)
    )
    ENGINE = ReplacingMergeTree(version)
    ORDER BY (symbol, interval, window_start)
    """,
    """
    CREATE TABLE IF NOT EXISTS {db}.sink_dead_letters (
        source_topic     LowCardinality(String),
        source_partition UInt32,
        source_offset    UInt64,
        key              Nullable(String),
        payload          String,
        reason           LowCardinality(String),
        error            String,
        ts_failed        DateTime64(6, 'UTC')
    )
    ENGINE = ReplacingMergeTree
    ORDER BY (source_topic, source_partition, source_offset)
    """,
]

DOWN = [
    "DROP TABLE IF EXISTS {db}.sink_dead_letters",
    "DROP TABLE IF EXISTS {db}.candles",
]
