"""Pipeline health: how fresh each table is, dead letters, quarantined batches, quality."""

from __future__ import annotations

from dashboards.model import Dashboard, Panel

__all__ = ["PIPELINE", "SUNK_TABLES"]

SUNK_TABLES = ("candles", "trades", "order_events", "ledger", "positions", "risk_alerts",
               "index_prices", "option_marks", "settlement_orders", "settlement_results",
               "hedges", "expiries")

# Freshness: how long since each table's newest row was made (ts_init, wall clock); a table
# whose topic flows but whose age grows is a stuck sink. An empty table has no newest row and
# no age (NULL, shown as "no data"): max() of no rows is 1970-01-01, an age of 56 years.
_FRESHNESS = "\nUNION ALL\n".join(
    f"SELECT '{t}' AS table, count() AS rows, maxOrNull(ts_init) AS newest, "
    f"dateDiff('millisecond', maxOrNull(ts_init), now64(6)) / 1000 AS age_s FROM {{db}}.{t}"
    for t in SUNK_TABLES)

PIPELINE = Dashboard("strikeflow-pipeline", "StrikeFlow · pipeline health",
                     "Is every table fresh, what could not be written (dead letters), what "
                     "broke a data-quality suite (quarantine), and the latest check.", (
    Panel("Table freshness", f"SELECT * FROM ({_FRESHNESS}) ORDER BY table", "table",
          ("table", "rows", "newest", "age_s"), width=24),
    Panel("Dead letters by topic and reason", """
SELECT topic, reason, sum(n) AS dead_letters FROM (
    SELECT toString(dead_letter_topic) AS topic, toString(reason) AS reason, count() AS n
    FROM {db}.stream_dead_letters FINAL
    WHERE $__timeFilter(ts_failed)
    GROUP BY topic, reason
    UNION ALL
    SELECT concat('sink: ', toString(source_topic)) AS topic, toString(reason) AS reason,
           count() AS n
    FROM {db}.sink_dead_letters FINAL
    WHERE $__timeFilter(ts_failed)
    GROUP BY topic, reason)
GROUP BY topic, reason
ORDER BY dead_letters DESC""", "bar", ("topic", "reason", "dead_letters"),
          description="The stream agents' dead letters (every <input>.dlq topic, sunk into "
                      "stream_dead_letters) and, prefixed 'sink:', the messages the ClickHouse "
                      "sink itself could not write. `strikeflow ops dlq list` shows each one."),
    Panel("Quarantined rows by table", """
SELECT toString(table) AS table, count() AS rows, uniqExact(batch_id) AS batches
FROM {db}.quarantine FINAL
WHERE $__timeFilter(ts_quarantined)
GROUP BY table
ORDER BY rows DESC""", "bar", ("table", "rows", "batches")),
    Panel("Quality failures per interval", """
SELECT $__timeInterval(ts) AS time, toString(suite) AS suite, count() AS failures
FROM {db}.quality_results FINAL
WHERE NOT success AND $__timeFilter(ts)
GROUP BY time, suite
ORDER BY time, suite""", "timeseries", ("time", "suite", "failures"), style="bars"),
    Panel("Latest quality check", """
SELECT toString(suite) AS suite, check, countIf(success) AS passed,
       countIf(NOT success) AS failed
FROM {db}.quality_results FINAL
WHERE run_id = (SELECT max(run_id) FROM {db}.quality_results WHERE kind = 'check')
GROUP BY suite, check
ORDER BY failed DESC, suite, check""", "table", ("suite", "check", "passed", "failed")),
))
