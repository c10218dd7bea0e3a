"""Smart order routing: every version of every routed parent order (``routing_reports``):
status, fills aggregated over its children, VWAP and slippage against the arrival price (with
and without fees), fees, the share filled per venue and the rounds used. The last version of
a parent has ``final = true``.

``event_id`` is ``route:<parent id>:<version>``: a replay replaces (``ReplacingMergeTree``).
"""

UP = [
    """
    CREATE TABLE IF NOT EXISTS {db}.routing_reports (
        event_id            String,
        parent_id           String,
        version             UInt64,
        account             String,
        symbol              LowCardinality(String),
        side                LowCardinality(String),
        status              LowCardinality(String),
        final               Bool,
        qty                 Decimal(38, 18),
        filled_qty          Decimal(38, 18),
        remainder           Decimal(38, 18),
        vwap                Nullable(Decimal(38, 18)),
        arrival_price       Nullable(Decimal(38, 18)),
        slippage_bps        Nullable(Decimal(38, 18)),
        all_in_slippage_bps Nullable(Decimal(38, 18)),
        fees                Decimal(38, 18),
        venue_shares        Map(String, Decimal(38, 18)),
        rounds              UInt64,
        reason              Nullable(String),
        ts_event            DateTime64(6, 'UTC'),
        ts_init             DateTime64(6, 'UTC'),
        causation_id        Nullable(String)
    )
    ENGINE = ReplacingMergeTree(ts_init)
    ORDER BY (parent_id, event_id)
    """,
]

DOWN = [
    "DROP TABLE IF EXISTS {db}.routing_reports",
]
