"""Dead letters: rows the sink could never write, and the stream agents' dead letters."""

from __future__ import annotations

from typing import Any

from analytics.quality.spec import TableSuite, non_negative, nonempty

__all__ = ["SINK_DEAD_LETTERS", "STREAM_DEAD_LETTERS"]


def _rows() -> list[Any]:
    return [*nonempty("source_topic", "reason", "payload"),
            *non_negative("source_partition", "source_offset")]


SINK_DEAD_LETTERS = TableSuite(
    table="sink_dead_letters",
    schema={"source_topic": "LowCardinality(String)", "source_partition": "UInt32",
            "source_offset": "UInt64", "key": "Nullable(String)", "payload": "String",
            "reason": "LowCardinality(String)", "error": "String",
            "ts_failed": "DateTime64(6, 'UTC')"},
    batch_key=("source_topic", "source_partition", "source_offset"),
    table_key=("source_topic", "source_partition", "source_offset"),
    rows=_rows,
)


STREAM_DEAD_LETTERS = TableSuite(
    table="stream_dead_letters",
    schema={"dead_letter_topic": "LowCardinality(String)", **SINK_DEAD_LETTERS.schema},
    batch_key=("source_topic", "source_partition", "source_offset", "reason"),
    table_key=("source_topic", "source_partition", "source_offset", "reason"),
    rows=_rows,
)
