"""Compliance: the AML cases screening raised (``compliance_cases``), one row per case with
its evidence as JSON, for the compliance officers' queue and the period reports
(``strikeflow compliance report``).

``event_id`` is the case id (``<rule>:<account>:<first evidence id>``): a replay replaces
(``ReplacingMergeTree(ts_init)``). ``accounts`` lists every account of the case, comma
separated (the first is ``account``); ``evidence`` is the JSON list of the events cited.
"""

UP = [
    """
    CREATE TABLE IF NOT EXISTS {db}.compliance_cases (
        event_id       String,
        case_id        String,
        rule           LowCardinality(String),
        code           Int64,
        account        String,
        accounts       String,
        severity       LowCardinality(String),
        summary        String,
        source         LowCardinality(String),
        evidence       String,
        ts_event       DateTime64(6, 'UTC'),
        ts_init        DateTime64(6, 'UTC'),
        causation_id   Nullable(String)
    )
    ENGINE = ReplacingMergeTree(ts_init)
    ORDER BY (account, event_id)
    """,
]

DOWN = [
    "DROP TABLE IF EXISTS {db}.compliance_cases",
]
