"""Start a new consumer group at the end of its topics, without a race.

Why: a new Faust worker group (a demo run, a test, a benchmark) would otherwise either replay
the whole change stream from offset 0 (``earliest``: minutes, and every order re-published) or
skip what arrives before its first fetch (``latest``: a race). Committing the current end
offsets for the group *before* the worker starts gives it an exact starting point.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaException, TopicPartition
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

from infra.settings import Settings
from streams.kafka import TOOL_QUIET, make_consumer

__all__ = ["commit_end_offsets", "start_new_group_at_end", "wait_drained"]


@retry(retry=retry_if_exception_type(KafkaException), stop=stop_after_delay(30),
       wait=wait_exponential(multiplier=0.1, max=2), reraise=True)
def _high(consumer: Any, topic: str, partition: int) -> int:
    """The partition's end; retried while a topic just created has no leader everywhere yet
    (NOT_LEADER_FOR_PARTITION right after ``topics apply`` on a fresh stack)."""
    return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]


@retry(retry=retry_if_exception_type(KafkaException), stop=stop_after_delay(30),
       wait=wait_exponential(multiplier=0.1, max=2), reraise=True)
def _committed(consumer: Any, parts: list[TopicPartition]) -> list[TopicPartition]:
    """The group's committed offsets; retried while its coordinator is still loading."""
    return consumer.committed(parts, timeout=10)


def commit_end_offsets(settings: Settings, group: str, topics: Iterable[str]) -> int:
    """Commit each partition's high watermark for ``group``; returns partitions committed."""
    consumer = make_consumer(settings, group, **TOOL_QUIET)
    try:
        offsets = []
        for topic in topics:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            for p in meta.partitions:
                offsets.append(TopicPartition(topic, p, _high(consumer, topic, p)))
        if offsets:
            consumer.commit(offsets=offsets, asynchronous=False)
        return len(offsets)
    finally:
        consumer.close()


def start_new_group_at_end(settings: Settings, group: str, topics: Iterable[str]) -> bool:
    """For a group that has never committed (a first run on a stack that already carries other
    runs' and tests' history), commit the current end of ``topics``; True if it did."""
    names = list(topics)
    consumer = make_consumer(settings, group, **TOOL_QUIET)
    try:
        parts = [TopicPartition(t, p) for t in names
                 for p in consumer.list_topics(t, timeout=10).topics[t].partitions]
        if any(tp.offset >= 0 for tp in _committed(consumer, parts)):
            return False
    finally:
        consumer.close()
    commit_end_offsets(settings, group, names)
    return True


def wait_drained(settings: Settings, group: str, topics: Iterable[str],
                 timeout_s: float = 120.0) -> bool:
    """Until ``group`` has committed every partition of ``topics`` up to its end (it has
    processed all that is there), or ``timeout_s``; True if it got there."""
    import time

    names = list(topics)
    deadline = time.monotonic() + timeout_s
    consumer = make_consumer(settings, group, **TOOL_QUIET)
    try:
        parts = [TopicPartition(t, p) for t in names
                 for p in consumer.list_topics(t, timeout=10).topics[t].partitions]
        while True:
            ends = {(tp.topic, tp.partition): _high(consumer, tp.topic, tp.partition)
                    for tp in parts}
            done = {(tp.topic, tp.partition): max(tp.offset, 0)
                    for tp in _committed(consumer, parts)}
            if all(done[k] >= end for k, end in ends.items()):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(1)
    finally:
        consumer.close()
