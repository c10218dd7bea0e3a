"""The gateway's Kafka side: one producer for ``orders.requests`` and one reader of what
traders see.

The reader assigns itself every partition of :data:`topics.acls.GATEWAY_TOPICS` (no consumer
group: every gateway process sees everything, and none commits offsets), starting where each
view needs history — compacted ``positions`` and ``md.marks`` from the beginning, the others a
little before their end — and hands batches to the event loop. It reads committed records
only (the worker writes in transactions). Risk's answer to a command is the first
``orders.events`` record whose ``causation_id`` is the command's id: :meth:`send` returns a
future for it.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from infra.kafka_security import Role
from infra.settings import Settings
from streams.kafka import make_producer
from topics.acls import GATEWAY_TOPICS
from topics.catalogue import by_name

__all__ = ["KafkaBridge", "PublishError"]

log = structlog.get_logger(__name__)

#: How far back each topic is read at start, per partition (None: from the beginning).
HISTORY: dict[str, int | None] = {
    "positions": None, "md.marks": None, "md.book": 20, "md.index": 20, "trades": 200,
    "orders.events": 2000, "risk.alerts": 50, "accounts.activity": 50, "rfq.events": 2000,
}
#: where a command's first answer comes from (its ``causation_id`` is the command's id)
ANSWERS = frozenset({"orders.events", "rfq.events"})
ANSWERED = object()  # a waiter placeholder once its answer came


class PublishError(RuntimeError):
    """Kafka did not take the command (the broker is down, or refused it)."""


class KafkaBridge:
    def __init__(self, settings: Settings, on_records: Callable[[list[tuple[str, Any]]], None]
                 ) -> None:
        self.settings = settings
        self.on_records = on_records
        self.producer = make_producer(settings, Role.GATEWAY, **{"linger.ms": 1})
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.ready = asyncio.Event()
        self.records = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for target in (self._read, self._poll_producer):
            thread = threading.Thread(target=target, name=f"gateway-{target.__name__}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.producer.flush(10)

    # -- publishing ---------------------------------------------------------------------------
    async def send(self, command: Any, topic: str = "orders.requests",
                   key: str | None = None) -> asyncio.Future[dict[str, Any]]:
        """Publish ``command`` (on ``orders.requests`` keyed by its account, unless told
        otherwise); once Kafka has it, return the future of the first answer to it (risk's,
        matching's, or the RFQ agent's). Raises :class:`PublishError`."""
        spec = by_name(topic)
        loop = asyncio.get_running_loop()
        delivered: asyncio.Future[None] = loop.create_future()
        answer: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._waiters[command.command_id] = answer

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            loop.call_soon_threadsafe(_settle, delivered, err)

        try:
            self.producer.produce(spec.name, key=(key or command.account).encode(),
                                  value=spec.encode(command), on_delivery=on_delivery)
        except BufferError:
            self._waiters.pop(command.command_id, None)
            raise PublishError("the gateway's Kafka queue is full") from None
        try:
            await asyncio.wait_for(delivered, timeout=15)
        except (TimeoutError, PublishError) as exc:
            self._waiters.pop(command.command_id, None)
            raise PublishError(f"Kafka did not take the order: {exc}") from None
        return answer

    def forget(self, command_id: str) -> None:
        self._waiters.pop(command_id, None)

    # -- reading ------------------------------------------------------------------------------
    def _poll_producer(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(0.05)

    def _consumer(self) -> Consumer:
        conf = self.settings.kafka.client_config(Role.GATEWAY) | {
            "group.id": f"{self.settings.kafka.security.gateway_group_prefix}"
                        f"{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False, "isolation.level": "read_committed",
            "fetch.wait.max.ms": 10, "log_level": 3,
            # librdkafka prefetches up to 64 MB per consumer by default: a reader of ~30
            # partitions that keeps up needs far less
            "queued.max.messages.kbytes": 8192}
        return Consumer(conf)

    def _assign(self, consumer: Consumer) -> None:
        parts = []
        for topic in GATEWAY_TOPICS:
            meta = consumer.list_topics(topic, timeout=30).topics[topic]
            for p in meta.partitions:
                back = HISTORY.get(topic)
                if back is None:
                    parts.append(TopicPartition(topic, p, OFFSET_BEGINNING))
                    continue
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
                parts.append(TopicPartition(topic, p, max(low, high - back)))
        consumer.assign(parts)

    def _read(self) -> None:
        assert self._loop is not None
        consumer = self._consumer()
        try:
            self._assign(consumer)
            caught_up = False
            while not self._stop.is_set():
                batch = consumer.consume(1000, 0.05)
                records = []
                for msg in batch:
                    if msg.error():
                        continue
                    try:
                        records.append((msg.topic(), orjson.loads(msg.value())))
                    except (orjson.JSONDecodeError, TypeError):
                        log.warning("undecodable record skipped", topic=msg.topic(),
                                    partition=msg.partition(), offset=msg.offset())
                if records:
                    self.records += len(records)
                    self._loop.call_soon_threadsafe(self._dispatch, records)
                if not batch and not caught_up:
                    caught_up = True
                    self._loop.call_soon_threadsafe(self.ready.set)
        except Exception:
            log.exception("the gateway's Kafka reader stopped")
            raise
        finally:
            consumer.close()

    def _dispatch(self, records: list[tuple[str, Any]]) -> None:
        for topic, rec in records:
            if topic in ANSWERS and isinstance(rec, dict):
                waiter = self._waiters.pop(rec.get("causation_id") or "", None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(rec)
        try:
            self.on_records(records)
        except Exception:  # one record a view cannot take must not stop the feed
            log.exception("a record the live views could not apply")


def _settle(fut: asyncio.Future[None], err: KafkaError | None) -> None:
    if fut.done():
        return
    if err is None:
        fut.set_result(None)
    else:
        fut.set_exception(PublishError(str(err)))
