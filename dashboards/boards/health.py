"""Platform health from Prometheus: what every process reports about itself (agents, sinks),
what the ops exporter computes (consumer lag, ledger balance), and whether each is up.

The series are the ones :mod:`infra.metrics` defines (counters scraped as ``<name>_total``);
the alert rules in ``infra/templates/prometheus-rules.yml`` watch the same expressions.
Quantities of different kinds (rows written, rows quarantined) get panels of their own.
"""

from __future__ import annotations

from dashboards.model import Dashboard, PromPanel, PromQuery

__all__ = ["HEALTH"]

HEALTH = Dashboard("strikeflow-health", "StrikeFlow · platform health",
                   "Throughput, latency and dead letters per agent, sink writes, consumer lag, "
                   "the ledger's balance, index freshness and which processes are up "
                   "(Prometheus).", (
    PromPanel("Events per second by agent", (PromQuery(
        "sum by (agent) (rate(strikeflow_agent_events_total[1m]))", "{{agent}}"),),
        unit="ops"),
    PromPanel("Batch latency p99 by agent", (PromQuery(
        "histogram_quantile(0.99, sum by (agent, le) "
        "(rate(strikeflow_agent_batch_seconds_bucket[5m])))", "{{agent}}"),), unit="s",
        description="Time to process one batch with its outputs flushed, 99th percentile "
                    "over 5 minutes."),
    PromPanel("Kafka acknowledgement wait p99", (PromQuery(
        "histogram_quantile(0.99, sum by (what, le) "
        "(rate(strikeflow_flush_seconds_bucket[5m])))", "{{what}}"),), unit="s",
        description="How long a batch waited for Kafka to acknowledge its table changelog "
                    "and its output (waited for at once), 99th percentile over 5 minutes."),
    PromPanel("Dead letters by reason (per 5 min)", (PromQuery(
        "sum by (topic, reason) (increase(strikeflow_dead_letters_total[5m]))",
        "{{topic}} {{reason}}"),), style="points",
        description="Messages the agents sent to a <input>.dlq topic; these never reach "
                    "ClickHouse (the pipeline board's dead letters are the sink's own)."),
    PromPanel("Rebalances (per 15 min)", (PromQuery(
        "sum by (agent) (increase(strikeflow_rebalances_total[15m]))", "{{agent}}"),)),
    PromPanel("Sink rows per second", (PromQuery(
        "sum by (sink, table) (rate(strikeflow_sink_rows_total[1m]))", "{{sink}} {{table}}"),),
        unit="suffix: rows/s"),
    PromPanel("Sink rows quarantined (per 5 min)", (PromQuery(
        "sum by (sink, table) (increase(strikeflow_sink_quarantined_total[5m]))",
        "{{sink}} {{table}}"),),
        description="Rows a data-quality screen refused and kept aside (quarantine table)."),
    PromPanel("Consumer lag by group", (PromQuery(
        "sum by (group) (strikeflow_consumer_lag)", "{{group}}"),), unit="short",
        description="Messages each consumer group has yet to read, all partitions."),
    PromPanel("Ledger imbalance by asset", (PromQuery(
        "sum by (asset) (strikeflow_ledger_imbalance)", "{{asset}}"),),
        description="Sum of every ledger leg per asset: double entry makes it 0."),
    PromPanel("Index price age by underlying", (PromQuery(
        "time() - max by (underlying) (strikeflow_index_price_timestamp_seconds)",
        "{{underlying}}"),), unit="s",
        description="Seconds since the venue time of the last index price."),
    PromPanel("Up by process", (PromQuery(
        "max by (job, process) (up)", "{{job}} {{process}}"),),
        description="1 while Prometheus scrapes the process; 0 when a registered process "
                    "stopped answering (killed: its target file stays behind)."),
))
