"""Waiting for the messages one agent sent, not for everything the worker's producer holds.

Every agent of a worker shares one librdkafka producer for its output and one for the
tables' changelogs, and each batch ends by waiting until what it sent is in Kafka. With
``Producer.flush()`` that wait covered everything *any* agent had sent, and the others kept
sending meanwhile: paced at 500 requests/s an output flush took 31 ms on average and a
changelog flush 14 ms, so batches stayed small and the worker fell behind a rate it drains
at 839/s from a backlog.

:class:`TrackedProducer` counts what each asyncio task (an agent, a timer) sends and the
delivery reports that come back for it; :meth:`TrackedProducer.wait` returns once that
task's messages are all acknowledged. One thread per producer serves the delivery reports
(``poll``), so a wait needs no other task's messages. A delivery that failed, or a wait
that times out, raises ``KafkaException``: an infrastructure failure, which crashes the
worker.

Counting per task works because each agent and timer runs in an asyncio task of its own,
with its own copy of the context: the task's :class:`Deliveries` lives in a context
variable, made on the task's first send. Tasks that a batch starts (``asyncio.gather`` of
two waits) copy the context, so they see the same counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from contextvars import ContextVar
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from streams.kafka import produce_waiting

__all__ = ["Deliveries", "TrackedProducer"]

log = structlog.get_logger(__name__)

POLL_S = 0.05  # the poller's wait for a delivery report; reports wake it at once


class Deliveries:
    """The messages one task sent through one producer and their delivery reports: how
    many, the errors, and — for changelogs — the highest offset delivered per partition."""

    def __init__(self) -> None:
        self.sent = 0
        self.done = 0
        self.errors: list[str] = []
        self.offsets: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()  # reports may be served by two threads at once
        self._waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None

    def on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        self._report(err, None)

    def on_delivery_with_offset(self, err: KafkaError | None, msg: Message) -> None:
        self._report(err, msg)

    def _report(self, err: KafkaError | None, msg: Message | None) -> None:
        with self._lock:
            self.done += 1
            if err is not None:
                self.errors.append(str(err))
            elif msg is not None:
                where = (msg.topic(), msg.partition())
                if msg.offset() > self.offsets.get(where, -1):
                    self.offsets[where] = msg.offset()
            waiter = self._waiter if self.done >= self.sent else None
            if waiter is not None:
                self._waiter = None
        if waiter is not None:
            loop, future = waiter
            with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits
                loop.call_soon_threadsafe(_resolve, future)

    async def wait(self, timeout_s: float) -> None:
        """Until every message sent so far has its delivery report."""
        with self._lock:
            if self.done >= self.sent:
                return
            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()
            self._waiter = (loop, future)
        try:
            await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise KafkaException(f"{self.sent - self.done} messages not acknowledged within "
                                 f"{timeout_s} s") from None

    def take(self) -> tuple[list[str], dict[tuple[str, int], int]]:
        """The errors and offsets reported since the last call."""
        with self._lock:
            errors, self.errors = self.errors, []
            offsets, self.offsets = self.offsets, {}
        return errors, offsets


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class TrackedProducer:
    """A librdkafka producer whose sends are counted per asyncio task (module docstring).
    ``offsets``: the reports also record the offsets delivered (changelogs need them)."""

    def __init__(self, producer: Producer, *, offsets: bool = False) -> None:
        self.producer = producer
        self._offsets = offsets
        self._current: ContextVar[Deliveries | None] = ContextVar(
            f"deliveries-{id(self)}", default=None)
        self._poller = threading.Thread(target=self._poll, name="delivery-reports",
                                        daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while True:
            try:
                self.producer.poll(POLL_S)
            except Exception:  # a report's callback failed: keep serving the others
                log.exception("delivery report failed")

    def current(self) -> Deliveries:
        """This task's deliveries (made on its first send)."""
        deliveries = self._current.get()
        if deliveries is None:
            deliveries = Deliveries()
            self._current.set(deliveries)
        return deliveries

    def pending(self) -> bool:
        """Whether this task sent anything not yet waited for."""
        deliveries = self._current.get()
        return deliveries is not None and (deliveries.sent > deliveries.done
                                           or bool(deliveries.errors))

    def send(self, topic: str, **message: Any) -> None:
        deliveries = self.current()
        deliveries.sent += 1
        report = (deliveries.on_delivery_with_offset if self._offsets
                  else deliveries.on_delivery)
        produce_waiting(self.producer, topic, on_delivery=report, **message)

    async def wait(self, what: str, timeout_s: float = 60.0
                   ) -> dict[tuple[str, int], int]:
        """Until everything this task sent is in Kafka; the offsets delivered since the last
        wait. Raises ``KafkaException`` (``what`` not delivered) on any failure."""
        deliveries = self._current.get()
        if deliveries is None:
            return {}
        await deliveries.wait(timeout_s)
        errors, offsets = deliveries.take()
        if errors:
            raise KafkaException(f"{what} not delivered: errors {errors[:5]}")
        return offsets
