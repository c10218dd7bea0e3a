"""Kafka clients outside Faust (producers, tools, tests), configured in one place.

Producers use the murmur2 partitioner, as Java clients and Faust's aiokafka do: a key then
lands on the same partition whoever produced it, which keeps topics co-partitioned with the
Faust tables that are keyed the same way.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer, Producer

from infra.settings import Settings

__all__ = ["make_consumer", "make_producer"]


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
