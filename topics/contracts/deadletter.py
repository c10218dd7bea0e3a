"""The dead letter: a message that could not be processed, with why and where it came from."""

from __future__ import annotations

from pydantic import Field

from topics.contracts.base import Contract, UtcDatetime, utc_now

__all__ = ["DeadLetter", "DeadLetterReplayed"]


class DeadLetter(Contract):
    source_topic: str
    source_partition: int
    source_offset: int
    key: str | None
    payload: str = Field(description="the original value (UTF-8, invalid bytes replaced)")
    reason: str = Field(description="a short code: invalid, late, duplicate, unknown_symbol …")
    error: str = Field(description="the precise error")
    ts_failed: UtcDatetime = Field(default_factory=utc_now)


class DeadLetterReplayed(Contract):
    """A dead letter an operator re-published to its source topic (``strikeflow ops dlq replay``).

    Kept on the compacted ``ops.replays``, keyed ``<source topic>/<partition>/<offset>``: a
    second replay of the same source message finds its record and publishes nothing.
    """

    source_topic: str
    source_partition: int
    source_offset: int
    dead_letter_topic: str
    dead_letter_offset: int
    reason: str
    ts_replayed: UtcDatetime = Field(default_factory=utc_now)
