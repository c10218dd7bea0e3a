"""Batched output for agents: librdkafka's producer, flushed before the batch is acknowledged.

Faust's own producer (aiokafka, pure Python) tops out at a few thousand messages per second,
and an agent that publishes several messages per input needs more. Agents hand their output
here and ``await flush()`` at the end of each batch; the batch's input events are acknowledged
only after that, so an offset is never committed before the output it caused is in Kafka.
"""

from __future__ import annotations

import asyncio

from confluent_kafka import KafkaException, Producer

from infra.settings import get_settings
from streams.kafka import make_producer

__all__ = ["BatchOutput"]


class BatchOutput:
    def __init__(self, producer: Producer | None = None) -> None:
        self._producer = producer
        self._errors: list[str] = []
        self._pending = 0

    @property
    def producer(self) -> Producer:
        if self._producer is None:  # created in the worker, not at import
            self._producer = make_producer(get_settings(), **{"linger.ms": 2,
                                                             "batch.num.messages": 10_000})
        return self._producer

    def _on_delivery(self, err: object, _msg: object) -> None:
        if err is not None:
            self._errors.append(str(err))

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        while True:
            try:
                self.producer.produce(topic, key=key, value=value, on_delivery=self._on_delivery)
                break
            except BufferError:
                self.producer.poll(0.01)
        self._pending += 1

    async def flush(self, timeout_s: float = 60.0) -> None:
        """Wait until everything sent is in Kafka; raise (crashing the worker) if it is not."""
        if not self._pending:
            return
        left = await asyncio.to_thread(self.producer.flush, timeout_s)
        self._pending = 0
        if left or self._errors:
            errors, self._errors = self._errors[:5], []
            raise KafkaException(f"output not delivered: {left} left, errors {errors}")
