"""A Kafka broker of the benchmark's own, so that a benchmark can run beside a live stack.

A benchmark that writes into the stack's topics leaves its orders, dead letters and backlog
to the stack's workers (a past run left ~180k dead letters and minutes of lag), and a live
stack's workers answer the benchmark's orders too. So each pipeline benchmark starts a
one-node KRaft broker on free loopback ports with its own data dir, creates the catalogue's
topics and ACLs there (``strikeflow topics apply``), runs its workers against it (child
processes get its ports through the environment) and deletes it all at the end.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra import stack
from infra.ports import free_port_block
from infra.settings import Settings
from topics.admin import apply_topics

__all__ = ["private_kafka"]


@contextmanager
def private_kafka(settings: Settings, heap: str = "512m") -> Iterator[Settings]:
    """Yield ``settings`` pointing at a fresh one-broker Kafka (and a fresh data dir);
    the broker is stopped and its data deleted on exit, whatever happened."""
    base = free_port_block(first=29500, size=2)
    data_dir = Path(tempfile.mkdtemp(prefix="strikeflow-bench-"))
    ours = settings.model_copy(update={
        "data_dir": data_dir,
        "kafka": settings.kafka.model_copy(update={
            "port": base, "controller_port": base + 1, "brokers": 1, "heap": heap}),
    })
    t0 = time.monotonic()
    try:
        stack.up(ours, ("kafka",))
        apply_topics(ours.kafka.bootstrap_servers, settings=ours)
        print(f"private Kafka on 127.0.0.1:{base} ready in {time.monotonic() - t0:.1f}s "
              f"({data_dir})")
        yield ours
    finally:
        try:
            stack.down(ours)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
