"""Turn a message that cannot be processed into a dead letter with its reason and origin.

Dead letters go through the worker's shared librdkafka producer (:mod:`streams.output`), so
the agent's end-of-batch flush puts them in Kafka before the source offset is committed: a
message is never skipped without either an outcome or a dead letter.
"""

from __future__ import annotations

from typing import Any

from infra.metrics import DEAD_LETTERS
from streams.output import BatchOutput
from topics.catalogue import dead_letter_of
from topics.contracts import DeadLetter

__all__ = ["dead_letter", "send_dead_letter"]

_MAX_PAYLOAD = 64 * 1024
_MAX_ERROR = 4 * 1024
_output = BatchOutput()


def _text(raw: bytes | str | None, limit: int) -> str:
    if raw is None:
        return ""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    # lone surrogates cannot be encoded as UTF-8 JSON: replace them too
    return text[:limit].encode("utf-8", errors="replace").decode("utf-8")


def dead_letter(message: Any, reason: str, error: str) -> DeadLetter:
    """The dead letter of a Kafka message (Faust's ``event.message`` or a re-read one)."""
    return DeadLetter(
        source_topic=message.topic, source_partition=message.partition,
        source_offset=message.offset, key=_text(message.key, 1024) or None,
        payload=_text(message.value, _MAX_PAYLOAD), reason=reason,
        error=_text(error, _MAX_ERROR))


async def send_dead_letter(event: Any, reason: str, error: str) -> None:
    """Queue the dead letter of ``event``; the agent's end-of-batch flush delivers it."""
    msg = event.message
    spec = dead_letter_of(msg.topic)
    DEAD_LETTERS.labels(msg.topic, reason).inc()
    _output.send(spec.name, msg.key if isinstance(msg.key, bytes) else None,
                 spec.encode(dead_letter(msg, reason, error)))
