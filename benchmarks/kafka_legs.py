"""Pieces the pipeline benchmarks share: producing, watching outputs, the raw passthrough."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from infra.kafka_security import Role
from infra.settings import Settings
from streams.kafka import make_consumer, make_producer

__all__ = ["chained_passthrough", "end_offsets", "passthrough", "produce", "pump",
           "watch_from_end"]


def produce(settings: Settings, topic: str, items: Iterable[tuple[bytes, bytes, str]],
            rate: float | None = None) -> dict[str, float]:
    """Produce ``(key, value, id)`` items, as fast as possible or paced at ``rate``/s;
    returns the wall time each id was handed to the producer."""
    producer = make_producer(settings)
    sent_at: dict[str, float] = {}
    t0 = time.monotonic()
    for n, (key, value, ident) in enumerate(items):
        if rate and (ahead := n / rate - (time.monotonic() - t0)) > 0.0005:
            time.sleep(ahead)
        sent_at[ident] = time.time()
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(60)
    return sent_at


def end_offsets(settings: Settings, topic: str) -> list[TopicPartition]:
    consumer = make_consumer(settings, f"bench-offsets-{uuid.uuid4().hex[:6]}")
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    out = []
    for p in parts:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        out.append(TopicPartition(topic, p, high))
    consumer.close()
    return out


def watch_from_end(settings: Settings, topics: list[str]) -> Consumer:
    """A consumer that will see only what is written to ``topics`` from now on."""
    consumer = make_consumer(settings, f"bench-watch-{uuid.uuid4().hex[:6]}")
    consumer.assign([tp for t in topics for tp in end_offsets(settings, t)])
    return consumer


def drain(consumer: Consumer, on_message: Callable[[Any], None], done: Callable[[], bool],
          timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        for msg in consumer.consume(1000, 0.2):
            if not msg.error():
                on_message(msg)
    return done()


def pump(consumer: Consumer, producer: Any, topic: str, n: int,
         started: list[float] | None = None, timeout_s: float = 300) -> int:
    """Move up to ``n`` messages from ``consumer`` to ``topic`` as they come, bare; the
    monotonic time of the first one goes into ``started``. Returns how many moved."""
    moved = 0
    deadline = time.monotonic() + timeout_s
    while moved < n and time.monotonic() < deadline:
        for msg in consumer.consume(1000, 0.05):
            if msg.error():
                continue
            if started is not None and not started:
                started.append(time.monotonic())
            while True:
                try:
                    producer.produce(topic, key=msg.key(), value=msg.value())
                    break
                except BufferError:
                    producer.poll(0.05)
            moved += 1
        producer.poll(0)
    return moved


def chained_passthrough(settings: Settings, starts: list[TopicPartition], n: int,
                        partitions: int, hops: int = 3) -> float:
    """Messages/s of ``hops`` bare consume→produce legs chained through scratch topics, all
    running at once (one thread each): what Kafka and its client give over the same hops."""
    admin = AdminClient(settings.kafka.client_config(Role.ADMIN))
    scratch = [f"bench.chain.{uuid.uuid4().hex[:6]}.{h}" for h in range(hops)]
    for fut in admin.create_topics([NewTopic(t, partitions, settings.kafka.replication_factor)
                                    for t in scratch]).values():
        fut.result(30)
    started: list[float] = []
    done_at: list[float] = []

    def leg(h: int) -> None:
        consumer = make_consumer(settings, f"bench-chain-{uuid.uuid4().hex[:6]}",
                                 **{"fetch.wait.max.ms": 5})
        consumer.assign(starts if h == 0 else [TopicPartition(scratch[h - 1], p, 0)
                                               for p in range(partitions)])
        producer = make_producer(settings)
        pump(consumer, producer, scratch[h], n, started if h == 0 else None)
        producer.flush(60)
        done_at.append(time.monotonic())
        consumer.close()

    threads = [threading.Thread(target=leg, args=(h,)) for h in range(hops)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    admin.delete_topics(scratch)
    return n / (max(done_at) - started[0]) if started else 0.0


def passthrough(settings: Settings, topic: str, starts: list[TopicPartition], n: int,
                partitions: int) -> float:
    """Messages/s of a raw confluent-kafka consume→produce of ``n`` messages from ``starts``."""
    scratch = f"bench.passthrough.{uuid.uuid4().hex[:6]}"
    admin = AdminClient(settings.kafka.client_config(Role.ADMIN))
    rf = settings.kafka.replication_factor
    admin.create_topics([NewTopic(scratch, partitions, rf)])[scratch].result(30)
    consumer = make_consumer(settings, f"bench-{uuid.uuid4().hex[:6]}")
    consumer.assign(starts)
    producer = make_producer(settings)
    started: list[float] = []
    moved = pump(consumer, producer, scratch, n, started)
    producer.flush(60)
    elapsed = time.monotonic() - started[0] if started else 0.0
    consumer.close()
    admin.delete_topics([scratch])
    return moved / elapsed if elapsed else 0.0
