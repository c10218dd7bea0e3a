"""Accounts: the USDT ``ledger``, latest ``positions`` and ``risk_alerts``.

* ``ledger``: one row per posting leg, ordered by its id ``<posting id>:<leg>``; the version is
  ``ts_init``, so a re-emitted leg (same id, same amounts) replaces the earlier copy.
* ``positions``: the latest position per ``(account, symbol)`` like the compacted topic; the
  account's change counter ``seq`` is the version, so an older version replayed late loses.
* ``risk_alerts``: one row per crossing (``event_id`` names it).
"""

UP = [
    """
    CREATE TABLE IF NOT EXISTS {db}.ledger (
        event_id     String,
        posting_id   String,
        account      String,
        amount       Decimal(38, 18),
        kind         LowCardinality(String),
        reference    String,
        symbol       LowCardinality(Nullable(String)),
        ts_event     DateTime64(6, 'UTC'),
        ts_init      DateTime64(6, 'UTC'),
        causation_id Nullable(String)
    )
    ENGINE = ReplacingMergeTree(ts_init)
    ORDER BY (account, event_id)
    """,
    """
    CREATE TABLE IF NOT EXISTS {db}.positions (
        account            String,
        symbol             LowCardinality(String),
        qty                Decimal(38, 18),
        avg_price          Decimal(38, 18),
        realized_pnl       Decimal(38, 18),
        unrealized_pnl     Decimal(38, 18),
        mark_price         Nullable(Decimal(38, 18)),
        maintenance_margin Decimal(38, 18),
        seq                UInt64,
        event_id           String,
        ts_event           DateTime64(6, 'UTC'),
        ts_init            DateTime64(6, 'UTC'),
        causation_id       Nullable(String)
    )
    ENGINE = ReplacingMergeTree(seq)
    ORDER BY (account, symbol)
    """,
    """
    CREATE TABLE IF NOT EXISTS {db}.risk_alerts (
        event_id     String,
        account      String,
        kind         LowCardinality(String),
        level        LowCardinality(String),
        message      String,
        margin_ratio Nullable(Decimal(38, 18)),
        symbol       LowCardinality(Nullable(String)),
        ts_event     DateTime64(6, 'UTC'),
        ts_init      DateTime64(6, 'UTC'),
        causation_id Nullable(String)
    )
    ENGINE = ReplacingMergeTree(ts_init)
    ORDER BY (account, event_id)
    """,
]

DOWN = [
    "DROP TABLE IF EXISTS {db}.risk_alerts",
    "DROP TABLE IF EXISTS {db}.positions",
    "DROP TABLE IF EXISTS {db}.ledger",
]
