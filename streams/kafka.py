"""Kafka clients outside Faust (producers, tools, tests), configured in one place.

Producers use the murmur2 partitioner, as Java clients and Faust's aiokafka do: a key then
lands on the same partition whoever produced it, which keeps topics co-partitioned with the
Faust tables that are keyed the same way.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition

from infra.kafka_security import Role
from infra.settings import Settings

__all__ = ["end_offsets", "make_batch_producer", "make_consumer", "make_producer",
           "produce_waiting", "read_range", "read_since"]


def make_producer(settings: Settings, principal: Role | str = Role.WORKER,
                  **overrides: Any) -> Producer:
    """An idempotent acks=all producer authenticated as ``principal`` (the worker's
    identity unless told: the platform's own tools act as the worker)."""
    conf: dict[str, Any] = settings.kafka.client_config(principal) | {
        "partitioner": "murmur2_random",
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
    }
    return Producer(conf | overrides)


def make_batch_producer(settings: Settings, **overrides: Any) -> Producer:
    """A worker's producer for what a batch sends: short linger, large batches (a batch is
    waited for with ``flush`` before it is acknowledged)."""
    return make_producer(settings, **{"linger.ms": 2, "batch.num.messages": 10_000,
                                      **overrides})


def produce_waiting(producer: Producer, topic: str, **message: Any) -> None:
    """``producer.produce``, waiting for room while librdkafka's queue is full."""
    while True:
        try:
            producer.produce(topic, **message)
            return
        except BufferError:
            producer.poll(0.01)


# A short-lived reader (offsets, a range) closed while its group-coordinator connection is
# still logging in makes librdkafka log "SASL authentication error: Broker transport failure":
# harmless, and its real failures surface as exceptions from the calls. Only critical logs.
TOOL_QUIET: dict[str, Any] = {"log_level": 2}


def make_consumer(settings: Settings, group_id: str, principal: Role | str = Role.WORKER,
                  **overrides: Any) -> Consumer:
    """A consumer that commits explicitly, authenticated as ``principal``."""
    conf: dict[str, Any] = settings.kafka.client_config(principal) | {
        "group.id": group_id,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }
    return Consumer(conf | overrides)


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """Where ``topic`` ends now, per partition: a reader starting here sees only what follows."""
    consumer = make_consumer(settings, f"offsets-{uuid.uuid4().hex[:8]}", **TOOL_QUIET)
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in parts}
    finally:
        consumer.close()


def read_range(settings: Settings, topic: str, partition: int, start: int, end: int,
               timeout_s: float = 120.0) -> list[Message]:
    """The messages at offsets ``[start, end)`` of one partition, read straight from Kafka
    (a gap to fill, a command log to replay). Offsets that hold no message (transaction
    markers, compacted or deleted records) are simply absent."""
    if start >= end:
        return []
    consumer = make_consumer(settings, f"read-range-{uuid.uuid4().hex[:8]}", **TOOL_QUIET)
    consumer.assign([TopicPartition(topic, partition, start)])
    found: list[Message] = []
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        end = min(end, high)
        position = max(start, low)
        deadline = time.monotonic() + timeout_s
        while position < end:
            if time.monotonic() > deadline:
                raise KafkaException(f"reading {topic}[{partition}] {start}..{end} timed out "
                                     f"at {position}")
            # librdkafka's consume waits for the whole timeout unless it has ``num_messages``:
            # asking for exactly what is left returns as soon as it arrived (it was ~1 s per
            # call, a second per partition for every replay and read-back); a short timeout
            # bounds the wait where compaction or markers leave fewer messages than offsets
            batch = consumer.consume(min(5000, end - position), 0.1)
            if not batch:  # control records (transaction markers) carry no message
                at = consumer.position([TopicPartition(topic, partition)])[0].offset
                position = max(position, at)
            for msg in batch:
                if msg.error():
                    continue
                position = msg.offset() + 1
                if msg.offset() >= end:
                    break
                found.append(msg)
    finally:
        consumer.close()
    return found


def read_since(settings: Settings, topic: str, since: dict[int, int]) -> list[Message]:
    """Every message of ``topic`` from ``since`` (partition → offset; absent: the start) up to
    where each partition ends now."""
    return [msg for partition, end in end_offsets(settings, topic).items()
            for msg in read_range(settings, topic, partition, since.get(partition, 0), end)]
