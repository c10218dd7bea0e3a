"""Batched output for agents: librdkafka's producer, waited for before the batch is acknowledged.

Faust's own producer (aiokafka, pure Python) tops out at a few thousand messages per second,
and an agent that publishes several messages per input needs more. Agents hand their output
here and ``await flush()`` at the end of each batch; the batch's input events are acknowledged
only after that, so an offset is never committed before the output it caused is in Kafka.
Every agent of a worker shares one librdkafka producer (one connection pool, one set of
buffers); a flush waits for what its own task sent (:mod:`streams.deliveries`), and a
delivery failure is an infrastructure failure that crashes the worker, which then resumes
from committed offsets.
"""

from __future__ import annotations

from confluent_kafka import Producer

from infra.metrics import FLUSH_SECONDS
from infra.settings import get_settings
from streams.deliveries import TrackedProducer
from streams.kafka import make_batch_producer

__all__ = ["BatchOutput"]


class _Shared:
    """The process's one output producer."""

    producer: TrackedProducer | None = None

    @classmethod
    def get(cls) -> TrackedProducer:
        if cls.producer is None:  # created in the worker, not at import
            cls.producer = TrackedProducer(make_batch_producer(get_settings()))
        return cls.producer


class BatchOutput:
    def __init__(self, producer: Producer | None = None) -> None:
        # a test may hand its own; agents share the process's
        self._own = TrackedProducer(producer) if producer is not None else None

    @property
    def producer(self) -> TrackedProducer:
        return self._own if self._own is not None else _Shared.get()

    def send(self, topic: str, key: bytes | None, value: bytes,
             partition: int | None = None,
             headers: list[tuple[str, bytes]] | None = None) -> None:
        """Queue a message; ``partition`` pins it (re-routing), otherwise the key decides."""
        extra: dict[str, object] = {} if partition is None else {"partition": partition}
        if headers:
            extra["headers"] = headers
        self.producer.send(topic, key=key, value=value, **extra)

    async def flush(self, timeout_s: float = 60.0) -> None:
        """Wait until everything this task sent is in Kafka; raise (crashing the worker) if
        it is not."""
        if not self.producer.pending():
            return
        with FLUSH_SECONDS.labels("output").time():
            await self.producer.wait("output", timeout_s)
