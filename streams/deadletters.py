"""Turn a message that cannot be processed into a dead letter with its reason and origin."""

from __future__ import annotations

from faust.types import EventT

from streams.app import app
from topics.catalogue import dead_letter_of
from topics.contracts import DeadLetter

__all__ = ["send_dead_letter"]

_MAX_PAYLOAD = 64 * 1024


def _text(raw: bytes | str | None) -> str:
    if raw is None:
        return ""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return text[:_MAX_PAYLOAD]


async def send_dead_letter(event: EventT, reason: str, error: str) -> None:
    msg = event.message
    spec = dead_letter_of(msg.topic)
    letter = DeadLetter(
        source_topic=msg.topic, source_partition=msg.partition, source_offset=msg.offset,
        key=_text(msg.key) or None, payload=_text(msg.value), reason=reason, error=error,
    )
    await app.topic(spec.name, value_serializer="raw", key_serializer="raw").send(
        key=msg.key, value=spec.encode(letter))
