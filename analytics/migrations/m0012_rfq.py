"""Block RFQs: every step of every RFQ (``rfq_events``: opened, quotes, refusals with their
6xxx code, the accepted block trade, expiry). The block trade's legs themselves are trades
like any other (``trades``, ``order_events``, ``ledger``), with ids ``rfq:<rfq id>:<leg>``.

``event_id`` is ``<rfq id>:<seq>``: a replay replaces (``ReplacingMergeTree(ts_init)``).
"""

UP = [
    """
    CREATE TABLE IF NOT EXISTS {db}.rfq_events (
        event_id     String,
        rfq_id       String,
        seq          UInt64,
        kind         LowCardinality(String),
        account      Nullable(String),
        maker        Nullable(String),
        quote_id     Nullable(String),
        side         LowCardinality(Nullable(String)),
        price        Nullable(Decimal(38, 18)),
        amount       Nullable(Decimal(38, 18)),
        legs         Nullable(String),
        trade_id     Nullable(String),
        expires_at   Nullable(DateTime64(6, 'UTC')),
        code         Nullable(Int64),
        reason       Nullable(String),
        ts_event     DateTime64(6, 'UTC'),
        ts_init      DateTime64(6, 'UTC'),
        causation_id Nullable(String)
    )
    ENGINE = ReplacingMergeTree(ts_init)
    ORDER BY (rfq_id, event_id)
    """,
]

DOWN = [
    "DROP TABLE IF EXISTS {db}.rfq_events",
]
