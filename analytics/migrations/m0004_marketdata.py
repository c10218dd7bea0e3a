"""Market data beside the candles: ``index_prices`` (md.index) and ``option_marks`` (md.marks).

Ids are deterministic (``{underlying}:index:{seq}``, ``{option}:mark:{index id}``), so both are
``ReplacingMergeTree(ts_init)`` ordered by the instrument and that id.
"""

UP = [
    """
    CREATE TABLE IF NOT EXISTS {db}.index_prices (
        event_id        String,
        underlying      LowCardinality(String),
        price           Decimal(38, 18),
        venues_used     Array(LowCardinality(String)),
        venues_excluded Array(LowCardinality(String)),
        exclusions      Map(String, LowCardinality(String)),
        ts_event        DateTime64(6, 'UTC'),
        ts_init         DateTime64(6, 'UTC'),
        causation_id    Nullable(String)
    )
    ENGINE = ReplacingMergeTree(ts_init)
    ORDER BY (underlying, event_id)
    """,
    """
    CREATE TABLE IF NOT EXISTS {db}.option_marks (
        event_id         String,
        symbol           LowCardinality(String),
        underlying_price Decimal(38, 18),
        mark_price       Decimal(38, 18),
        iv               Decimal(38, 18),
        delta            Decimal(38, 18),
        gamma            Decimal(38, 18),
        vega             Decimal(38, 18),
        theta            Decimal(38, 18),
        expiry           DateTime64(6, 'UTC'),
        forward          Nullable(Decimal(38, 18)),
        ts_event         DateTime64(6, 'UTC'),
        ts_init          DateTime64(6, 'UTC'),
        causation_id     Nullable(String)
    )
    ENGINE = ReplacingMergeTree(ts_init)
    ORDER BY (symbol, event_id)
    """,
]

DOWN = [
    "DROP TABLE IF EXISTS {db}.option_marks",
    "DROP TABLE IF EXISTS {db}.index_prices",
]
