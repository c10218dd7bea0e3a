"""Kafka plumbing the market-data agents share (Faust-free, no domain logic).

:func:`warm_producer` exists because librdkafka connects lazily: the first message an agent
sends waited for the connection, the SASL login, the topic's metadata and the idempotent
producer id — 1-2 s on a fresh worker, which made the first indexes and chain marks of a
session (and every restart) seconds late. Agents call it once before their first batch.
"""

from __future__ import annotations

import structlog
from confluent_kafka import KafkaException, Producer

__all__ = ["warm_producer"]

log = structlog.get_logger(__name__)


def warm_producer(producer: Producer, topic: str, timeout_s: float = 10.0) -> None:
    """Connect ``producer`` and fetch ``topic``'s metadata now (blocking: run in a thread).

    Only a warm-up: a broker that does not answer is logged, and the first send retries.
    """
    try:
        producer.list_topics(topic, timeout=timeout_s)
    except KafkaException as exc:
        log.warning("producer warm-up failed; the first send will connect", topic=topic,
                    error=str(exc))
