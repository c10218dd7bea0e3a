"""Start a new consumer group at the end of its topics, without a race.

Why: a new Faust worker group (a demo run, a test, a benchmark) would otherwise either replay
the whole change stream from offset 0 (``earliest``: minutes, and every order re-published) or
skip what arrives before its first fetch (``latest``: a race). Committing the current end
offsets for the group *before* the worker starts gives it an exact starting point.
"""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import TopicPartition

from infra.settings import Settings
from streams.kafka import make_consumer

__all__ = ["commit_end_offsets", "start_new_group_at_end"]


def commit_end_offsets(settings: Settings, group: str, topics: Iterable[str]) -> int:
    """Commit each partition's high watermark for ``group``; returns partitions committed."""
    consumer = make_consumer(settings, group)
    try:
        offsets = []
        for topic in topics:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            for p in meta.partitions:
                _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                offsets.append(TopicPartition(topic, p, high))
        if offsets:
            consumer.commit(offsets=offsets, asynchronous=False)
        return len(offsets)
    finally:
        consumer.close()


def start_new_group_at_end(settings: Settings, group: str, topics: Iterable[str]) -> bool:
    """For a group that has never committed (a first run on a stack that already carries other
    runs' and tests' history), commit the current end of ``topics``; True if it did."""
    names = list(topics)
    consumer = make_consumer(settings, group)
    try:
        parts = [TopicPartition(t, p) for t in names
                 for p in consumer.list_topics(t, timeout=10).topics[t].partitions]
        if any(tp.offset >= 0 for tp in consumer.committed(parts, timeout=10)):
            return False
    finally:
        consumer.close()
    commit_end_offsets(settings, group, names)
    return True
