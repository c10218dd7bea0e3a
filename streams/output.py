"""Batched output for agents: librdkafka's producer, flushed before the batch is acknowledged.

Faust's own producer (aiokafka, pure Python) tops out at a few thousand messages per second,
and an agent that publishes several messages per input needs more. Agents hand their output
here and ``await flush()`` at the end of each batch; the batch's input events are acknowledged
only after that, so an offset is never committed before the output it caused is in Kafka.

Every agent of a worker shares one librdkafka producer (one connection pool, one set of
buffers): a flush waits for everything any agent sent, and a delivery failure anywhere is an
infrastructure failure that crashes the worker, which then resumes from committed offsets.
"""

from __future__ import annotations

import asyncio

from confluent_kafka import KafkaException, Producer

from infra.metrics import FLUSH_SECONDS
from infra.settings import get_settings
from streams.kafka import make_batch_producer, produce_waiting

__all__ = ["BatchOutput"]


class _Shared:
    """The process's one producer and the delivery errors not yet reported."""

    producer: Producer | None = None
    errors: list[str] = []  # noqa: RUF012 - process-wide on purpose
    pending = 0

    @classmethod
    def get(cls) -> Producer:
        if cls.producer is None:  # created in the worker, not at import
            # only failures are reported back: a callback per delivered message cost ~5%
            # of a worker's CPU, and flush() still waits for every acknowledgement
            cls.producer = make_batch_producer(get_settings(),
                                               **{"delivery.report.only.error": True})
        return cls.producer

    @classmethod
    def on_delivery(cls, err: object, _msg: object) -> None:
        if err is not None:
            cls.errors.append(str(err))


class BatchOutput:
    def __init__(self, producer: Producer | None = None) -> None:
        self._own = producer  # a test may hand its own; agents share the process's

    @property
    def producer(self) -> Producer:
        return self._own if self._own is not None else _Shared.get()

    def send(self, topic: str, key: bytes | None, value: bytes,
             partition: int | None = None,
             headers: list[tuple[str, bytes]] | None = None) -> None:
        """Queue a message; ``partition`` pins it (re-routing), otherwise the key decides."""
        extra: dict[str, object] = {} if partition is None else {"partition": partition}
        if headers:
            extra["headers"] = headers
        produce_waiting(self.producer, topic, key=key, value=value,
                        on_delivery=_Shared.on_delivery, **extra)
        _Shared.pending += 1

    async def flush(self, timeout_s: float = 60.0) -> None:
        """Wait until everything sent is in Kafka; raise (crashing the worker) if it is not."""
        if not _Shared.pending and not _Shared.errors:
            return
        with FLUSH_SECONDS.labels("output").time():
            left = await asyncio.to_thread(self.producer.flush, timeout_s)
        _Shared.pending = 0
        if left or _Shared.errors:
            errors, _Shared.errors = _Shared.errors[:5], []
            raise KafkaException(f"output not delivered: {left} left, errors {errors}")
