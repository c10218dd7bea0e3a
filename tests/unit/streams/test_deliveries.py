"""A batch waits for the messages its own task sent, not for everything the shared producer
holds (the cause of 31 ms output flushes at 500 requests/s: each agent's ``flush()`` also
waited for the others' messages). librdkafka's producer is replaced by one whose delivery
reports the test releases."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from confluent_kafka import KafkaException

from streams.deliveries import TrackedProducer


class HeldProducer:
    """Reports delivery of every message except those whose key is in ``held``."""

    def __init__(self) -> None:
        self.held: set[bytes] = set()
        self.fail: set[bytes] = set()
        self.queued: list[tuple[bytes, Any]] = []
        self.lock = threading.Lock()

    def produce(self, topic: str, *, key: bytes, value: bytes, on_delivery: Any) -> None:
        with self.lock:
            self.queued.append((key, on_delivery))

    def poll(self, timeout: float) -> int:
        with self.lock:
            ready = [(k, cb) for k, cb in self.queued if k not in self.held]
            self.queued = [(k, cb) for k, cb in self.queued if k in self.held]
        for key, cb in ready:
            cb("broker down" if key in self.fail else None, None)
        time.sleep(0.002)
        return len(ready)


def test_a_task_waits_for_its_own_messages_only() -> None:
    fake = HeldProducer()
    fake.held.add(b"slow")
    tracked = TrackedProducer(fake)

    async def agent(key: bytes, n: int) -> float:
        for _ in range(n):
            tracked.send("t", key=key, value=b"x")
        started = time.monotonic()
        await tracked.wait("output", timeout_s=0.5)
        return time.monotonic() - started

    async def main() -> tuple[Any, Any]:
        fast = asyncio.create_task(agent(b"fast", 100))
        slow = asyncio.create_task(agent(b"slow", 3))
        return await asyncio.gather(fast, slow, return_exceptions=True)

    fast, slow = asyncio.run(main())
    assert isinstance(fast, float) and fast < 0.4  # not held up by the other task's messages
    assert isinstance(slow, KafkaException) and "3 messages not acknowledged" in str(slow)


def test_a_failed_delivery_fails_the_wait_of_the_task_that_sent_it() -> None:
    fake = HeldProducer()
    fake.fail.add(b"bad")
    tracked = TrackedProducer(fake)

    async def agent(key: bytes) -> None:
        tracked.send("t", key=key, value=b"x")
        await tracked.wait("output", timeout_s=2)

    async def main() -> list[Any]:
        return await asyncio.gather(agent(b"ok"), agent(b"bad"), return_exceptions=True)

    ok, bad = asyncio.run(main())
    assert ok is None
    assert isinstance(bad, KafkaException) and "output not delivered" in str(bad)


def test_nothing_sent_is_nothing_to_wait_for() -> None:
    tracked = TrackedProducer(HeldProducer())
    assert not tracked.pending()
    assert asyncio.run(tracked.wait("output", timeout_s=0.01)) == {}


@pytest.mark.parametrize("n", [1, 500])
def test_every_report_counts_whatever_thread_serves_it(n: int) -> None:
    """``produce_waiting`` polls from the sending thread when librdkafka's queue is full, so
    reports may arrive on two threads at once: none may be lost."""
    fake = HeldProducer()
    tracked = TrackedProducer(fake)

    async def agent() -> None:
        for i in range(n):
            tracked.send("t", key=b"k", value=b"x")
            if i % 7 == 0:
                fake.poll(0)  # as produce_waiting does
        await tracked.wait("output", timeout_s=2)

    asyncio.run(agent())
    assert not tracked.pending()


def test_what_a_started_task_sends_is_waited_for_by_the_task_that_started_it() -> None:
    """Matching restores books in tasks of its own (``asyncio.gather``) and may write a
    snapshot there: the batch's wait must cover it. ``current()`` at the agent's start puts
    the counts in the context those tasks copy."""
    fake = HeldProducer()
    fake.held.add(b"child")
    tracked = TrackedProducer(fake)

    async def child() -> None:
        tracked.send("t", key=b"child", value=b"x")

    async def agent() -> bool:
        tracked.current()
        await asyncio.gather(child())
        return tracked.pending()

    assert asyncio.run(agent())
