"""Kafka clients outside Faust (producers, tools, tests), configured in one place.

Producers use the murmur2 partitioner, as Java clients and Faust's aiokafka do: a key then
lands on the same partition whoever produced it, which keeps topics co-partitioned with the
Faust tables that are keyed the same way.
"""

from __future__ import annotations

import uuid
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from infra.settings import Settings

__all__ = ["end_offsets", "make_consumer", "make_producer"]


def make_producer(settings: Settings, **overrides: Any) -> Producer:
    conf = {
        "bootstrap.servers": settings.kafka.bootstrap_servers,
        "partitioner": "murmur2_random",
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
    }
    return Producer(conf | overrides)


def make_consumer(settings: Settings, group_id: str, **overrides: Any) -> Consumer:
    conf = {
        "bootstrap.servers": settings.kafka.bootstrap_servers,
        "group.id": group_id,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }
    return Consumer(conf | overrides)


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """Where ``topic`` ends now, per partition: a reader starting here sees only what follows."""
    consumer = make_consumer(settings, f"offsets-{uuid.uuid4().hex[:8]}")
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in parts}
    finally:
        consumer.close()
