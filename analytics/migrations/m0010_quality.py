"""Data quality: sink batches held back by their suite (``quarantine``) and the outcome of every
expectation run, on sink batches and by ``strikeflow analytics check`` (``quality_results``).

Both are ReplacingMergeTree on deterministic keys, so a retried insert or a replayed batch
replaces its own rows.
"""

UP = [
    """
    CREATE TABLE IF NOT EXISTS {db}.quarantine (
        table            LowCardinality(String),
        source_topic     LowCardinality(String),
        source_partition UInt32,
        source_offset    UInt64,
        key              Nullable(String),
        row              String,
        payload          String,
        failed           Array(String),
        detail           String,
        batch_id         String,
        ts_quarantined   DateTime64(6, 'UTC')
    )
    ENGINE = ReplacingMergeTree
    ORDER BY (source_topic, source_partition, source_offset)
    """,
    """
    CREATE TABLE IF NOT EXISTS {db}.quality_results (
        run_id       String,
        kind         LowCardinality(String),
        suite        LowCardinality(String),
        check        String,
        expectation  String,
        success      Bool,
        rows_checked UInt64,
        unexpected   UInt64,
        detail       String,
        ts           DateTime64(6, 'UTC')
    )
    ENGINE = ReplacingMergeTree
    ORDER BY (run_id, suite, check, expectation)
    """,
]

DOWN = [
    "DROP TABLE IF EXISTS {db}.quality_results",
    "DROP TABLE IF EXISTS {db}.quarantine",
]
