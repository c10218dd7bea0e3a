"""The dead letter: a message that could not be processed, with why and where it came from."""

from __future__ import annotations

from pydantic import Field

from topics.contracts.base import Contract, UtcDatetime, utc_now

__all__ = ["DeadLetter"]


class DeadLetter(Contract):
    source_topic: str
    source_partition: int
    source_offset: int
    key: str | None
    payload: str = Field(description="the original value (UTF-8, invalid bytes replaced)")
    reason: str = Field(description="a short code: invalid, late, duplicate, unknown_symbol …")
    error: str = Field(description="the precise error")
    ts_failed: UtcDatetime = Field(default_factory=utc_now)
