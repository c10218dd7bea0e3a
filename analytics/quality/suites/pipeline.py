"""The sink's own tables: rows it could never write."""

from __future__ import annotations

from typing import Any

from analytics.quality.spec import TableSuite, non_negative, nonempty

__all__ = ["SINK_DEAD_LETTERS"]


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
