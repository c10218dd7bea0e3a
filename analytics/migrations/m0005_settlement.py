"""Settlement: simplified-option orders (``settlement_orders``), their settlement steps
(``settlement_results``), the house's ``hedges`` on external venues and option ``expiries``.

Every id is deterministic (``option-order:<id>:<status>``, ``settlement:<id>:<state>``,
``hedge-fill:<hedge id>``, ``expiry:<underlying>:<expiry>``); each table is a
``ReplacingMergeTree(ts_init)`` ordered by it, so a replay or a re-emission replaces.
"""

UP = [
    """
    CREATE TABLE IF NOT EXISTS {db}.settlement_orders (
        event_id         String,
        order_id         String,
        account          String,
        client_order_id  String,
        product          LowCardinality(String),
        underlying       LowCardinality(String),
        strike           Decimal(38, 18),
        expiry           DateTime64(6, 'UTC'),
        option_type      LowCardinality(String),
        contract_size    Decimal(38, 18),
        side             LowCardinality(String),
        contracts        Decimal(38, 18),
        underlying_price Decimal(38, 18),
        iv               Decimal(38, 18),
        price            Decimal(38, 18),
        premium          Decimal(38, 18),
        fee              Decimal(38, 18),
        total            Decimal(38, 18),
        status           LowCardinality(String),
        ordered_at       DateTime64(6, 'UTC'),
        source           LowCardinality(String),
        source_lsn       Nullable(UInt64),
        source_tx_id     Nullable(UInt64),
        ts_event         DateTime64(6, 'UTC'),
        ts_init          DateTime64(6, 'UTC'),
        causation_id     Nullable(String)
    )
    ENGINE = ReplacingMergeTree(ts_init)
    ORDER BY (order_id, event_id)
    """,
    """
    CREATE TABLE IF NOT EXISTS {db}.settlement_results (
        event_id     String,
        order_id     String,
        account      String,
        state        LowCardinality(String),
        product      LowCardinality(Nullable(String)),
        underlying   LowCardinality(Nullable(String)),
        premium      Nullable(Decimal(38, 18)),
        fee          Nullable(Decimal(38, 18)),
        hedge_id     Nullable(String),
        hedge_symbol LowCardinality(Nullable(String)),
        hedge_side   LowCardinality(Nullable(String)),
        hedge_qty    Nullable(Decimal(38, 18)),
        hedge_price  Nullable(Decimal(38, 18)),
        attempts     UInt32,
        reason       Nullable(String),
        ts_event     DateTime64(6, 'UTC'),
        ts_init      DateTime64(6, 'UTC'),
        causation_id Nullable(String)
    )
    ENGINE = ReplacingMergeTree(ts_init)
    ORDER BY (order_id, event_id)
    """,
    """
    CREATE TABLE IF NOT EXISTS {db}.hedges (
        event_id        String,
        hedge_id        String,
        order_id        String,
        venue           LowCardinality(String),
        symbol          LowCardinality(String),
        underlying      LowCardinality(String),
        side            LowCardinality(String),
        qty             Decimal(38, 18),
        avg_price       Decimal(38, 18),
        reference_price Decimal(38, 18),
        slippage_bps    Decimal(38, 18),
        fee             Decimal(38, 18),
        ts_event        DateTime64(6, 'UTC'),
        ts_init         DateTime64(6, 'UTC'),
        causation_id    Nullable(String)
    )
    ENGINE = ReplacingMergeTree(ts_init)
    ORDER BY (symbol, event_id)
    """,
    """
    CREATE TABLE IF NOT EXISTS {db}.expiries (
        event_id           String,
        underlying         LowCardinality(String),
        expiry             DateTime64(6, 'UTC'),
        settlement_price   Decimal(38, 18),
        twap_window_start  DateTime64(6, 'UTC'),
        samples            UInt32,
        positions          UInt32,
        total_payout       Decimal(38, 18),
        payout_to_accounts Decimal(38, 18),
        ts_event           DateTime64(6, 'UTC'),
        ts_init            DateTime64(6, 'UTC'),
        causation_id       Nullable(String)
    )
    ENGINE = ReplacingMergeTree(ts_init)
    ORDER BY (underlying, event_id)
    """,
]

DOWN = [
    "DROP TABLE IF EXISTS {db}.expiries",
    "DROP TABLE IF EXISTS {db}.hedges",
    "DROP TABLE IF EXISTS {db}.settlement_results",
    "DROP TABLE IF EXISTS {db}.settlement_orders",
]
