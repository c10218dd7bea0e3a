"""The stream agents' dead letters (every ``<input>.dlq`` topic), beside the sink's own.

One row per dead letter; the key is where the message came from and why, so a dead letter the
sink reads twice (a replay) collapses into one row.
"""

UP = [
    """
    CREATE TABLE IF NOT EXISTS {db}.stream_dead_letters (
        dead_letter_topic LowCardinality(String),
        source_topic      LowCardinality(String),
        source_partition  UInt32,
        source_offset     UInt64,
        key               Nullable(String),
        payload           String,
        reason            LowCardinality(String),
        error             String,
        ts_failed         DateTime64(6, 'UTC')
    )
    ENGINE = ReplacingMergeTree
    ORDER BY (source_topic, source_partition, source_offset, reason)
    """,
]

DOWN = [
    "DROP TABLE IF EXISTS {db}.stream_dead_letters",
]
