"""Kafka → Elasticsearch: batched bulk writes, commit after write, patient with a down cluster.

Built like :mod:`sinks.clickhouse`:

* **Commit after write.** Offsets are committed only once every action of the batch is in
  Elasticsearch (or dead-lettered). Ids are deterministic and order documents only move
  forward by engine ``seq`` (:mod:`~sinks.search_index.documents`), so the batch a crash
  replays adds nothing.
* **Backpressure, not loss.** While Elasticsearch is unreachable (connection refused, timeouts,
  429/5xx) the sink pauses its partitions, keeps polling so it stays in the group, and retries
  with exponential backoff (tenacity); item-level transient failures are retried alone.
* **Dead letters in Elasticsearch.** A payload breaking its contract, or a document the
  cluster refuses for good (a mapping conflict, a value it cannot parse), is written to the
  ``<prefix>dead-letters`` index with the reason, error, source topic/partition/offset and the
  original payload; the rest of the batch goes on. An index rather than a topic: the sink's
  inputs (``orders.events``, ``trades`` …) are outputs of other agents with no ``.dlq`` of
  their own, and ops already search Elasticsearch for exactly these documents. The id names
  the source offset, so a replay does not duplicate a letter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from elasticsearch import Elasticsearch, helpers
from elasticsearch.exceptions import ConnectionError as EsConnectionError
from elasticsearch.exceptions import TransportError
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential

from infra.kafka_security import Role
from infra.metrics import SINK_RETRIES, SINK_ROWS
from infra.settings import Settings
from sinks.search_index.documents import Planned, actions_for, dead_letter_doc
from sinks.search_index.indices import IndexNames, ensure_indices, open_client
from streams.kafka import make_consumer
from topics.catalogue import ContractError, by_name

__all__ = ["SOURCES", "ElasticsearchSink", "Interrupted", "SinkError", "Unavailable"]

log = structlog.get_logger(__name__)

# topic consumed → the contract (catalogue topic) its messages follow
SOURCES: dict[str, str] = {t: t for t in
                           ("orders.events", "trades", "settlement.results", "risk.alerts")}
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}


class SinkError(RuntimeError):
    """An invariant broke (a dead letter refused): crash, and resume from committed offsets."""


class Unavailable(Exception):
    """Elasticsearch cannot take the writes now; retry later."""


class Interrupted(Exception):
    """Told to stop (or out of time) while waiting for Elasticsearch: the batch is not
    committed and will be read again."""


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, (Unavailable, EsConnectionError, ConnectionError, TimeoutError)):
        return True
    return isinstance(exc, TransportError) and exc.status_code in _TRANSIENT_STATUS


@dataclass
class _Item:
    kind: str
    action: dict[str, Any]
    msg: Message | None  # None for the dead letters themselves


@dataclass
class _Outcome:
    written: int = 0
    unchanged: int = 0
    dead_letters: int = 0


def _error_text(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    text = f"{error.get('type')}: {error.get('reason')}"
    cause = error.get("caused_by")
    return f"{text} (caused by {cause.get('type')}: {cause.get('reason')})" \
        if isinstance(cause, dict) else text


class ElasticsearchSink:
    def __init__(self, settings: Settings, sources: Mapping[str, str] | None = None,
                 group_id: str | None = None, client: Elasticsearch | None = None) -> None:
        self.settings = settings
        self.es = settings.elasticsearch
        self.names = IndexNames.of(settings)
        self.sources = dict(sources or SOURCES)
        self.group_id = group_id or self.es.group_id
        self.client = client if client is not None else open_client(settings)
        self.stop_event = threading.Event()
        self.counts = {"messages": 0, "written": 0, "unchanged": 0, "dead_letters": 0,
                       "batches": 0, "retries": 0}
        self._deadline: float | None = None
        self._held: list[Message] = []  # polled while paused (a partition newly assigned)

    # -- setup ------------------------------------------------------------------------------
    def prepare(self) -> list[str]:
        """Templates, script, indices; waits (with backoff) for a cluster that is down."""
        return self._retrying(None, lambda: ensure_indices(self.client, self.names,
                                                           self.es.replicas))

    # -- one batch --------------------------------------------------------------------------
    def plan(self, msgs: list[Message]) -> list[_Item]:
        """Decode and validate each message; what breaks its contract becomes a dead letter."""
        items: list[_Item] = []
        for msg in msgs:
            contract = self.sources[msg.topic()]
            try:
                event = by_name(contract).decode(msg.value() or b"")
                planned: list[Planned] = actions_for(contract, event, self.names.order_script)
            except ContractError as exc:
                items.append(self._dead(msg, "invalid", str(exc)))
                continue
            for kind, action in planned:
                items.append(_Item(kind, action | {"_index": self.names[kind]}, msg))
        return items

    def _dead(self, msg: Message, reason: str, error: str, target: str | None = None) -> _Item:
        action = dead_letter_doc(msg.topic(), msg.partition(), msg.offset(), msg.key(),
                                 msg.value(), reason, error, target)
        return _Item("dead-letters", action | {"_index": self.names["dead-letters"]}, None)

    def _bulk(self, items: list[_Item], outcome: _Outcome) -> tuple[list[_Item], list[_Item]]:
        """One pass. Records what succeeded; returns (transient failures to retry, dead
        letters for what was refused for good)."""
        transient: list[_Item] = []
        dead: list[_Item] = []
        results = helpers.streaming_bulk(
            self.client, (i.action for i in items), chunk_size=1000,
            max_chunk_bytes=20 * 2**20, raise_on_error=False, raise_on_exception=True,
            max_retries=0, yield_ok=True)
        for item, (ok, result) in zip(items, results, strict=True):
            info = next(iter(result.values()))
            status = info.get("status", 0)
            letter = item.kind == "dead-letters"
            if ok or (status == 409 and item.action["_op_type"] == "create"):
                # created, updated, noop, or already there (a replay)
                if letter:
                    outcome.dead_letters += 1
                elif ok and info.get("result") != "noop":
                    outcome.written += 1
                else:
                    outcome.unchanged += 1
            elif status in _TRANSIENT_STATUS or status == 409:
                transient.append(item)
            elif item.msg is None:
                raise SinkError(f"dead letter refused: {_error_text(info.get('error'))}")
            else:
                dead.append(self._dead(item.msg, "refused", _error_text(info.get("error")),
                                       item.action["_index"]))
        return transient, dead

    def write(self, msgs: list[Message], consumer: Consumer | None = None) -> None:
        """Write one batch, waiting while Elasticsearch is unavailable; then it may be
        committed. Raises :class:`Interrupted` if stopped before it is all written."""
        pending = self.plan(msgs)
        outcome = _Outcome()

        def attempt() -> None:
            nonlocal pending
            while pending:
                transient, dead = self._bulk(pending, outcome)
                pending = transient + dead
                if transient:
                    raise Unavailable(f"{len(transient)} actions refused for now, e.g. "
                                      f"{transient[0].action['_index']}")

        self._retrying(consumer, attempt)
        self.counts["messages"] += len(msgs)
        self.counts["written"] += outcome.written
        self.counts["unchanged"] += outcome.unchanged
        self.counts["dead_letters"] += outcome.dead_letters
        self.counts["batches"] += 1
        SINK_ROWS.labels("elasticsearch", "documents").inc(outcome.written)
        SINK_ROWS.labels("elasticsearch", "dead_letters").inc(outcome.dead_letters)

    # -- waiting ----------------------------------------------------------------------------
    def _retrying(self, consumer: Consumer | None, fn: Any) -> Any:
        def stop(_state: RetryCallState) -> bool:
            return self._should_stop()

        def before_sleep(state: RetryCallState) -> None:
            self.counts["retries"] += 1
            SINK_RETRIES.labels("elasticsearch").inc()
            exc = state.outcome.exception() if state.outcome else None
            log.warning("elasticsearch unavailable, retrying", error=str(exc)[:200],
                        delay_s=round(state.next_action.sleep, 2) if state.next_action else None)

        retrying = Retrying(retry=retry_if_exception(_transient), stop=stop,
                            wait=wait_exponential(multiplier=0.2, max=15),
                            sleep=lambda s: self._pause(consumer, s),
                            before_sleep=before_sleep, reraise=True)
        try:
            return retrying(fn)
        except Exception as exc:
            if _transient(exc) and self._should_stop():
                raise Interrupted(str(exc)) from exc
            raise

    def _should_stop(self) -> bool:
        return self.stop_event.is_set() or (self._deadline is not None
                                            and time.monotonic() > self._deadline)

    def _pause(self, consumer: Consumer | None, seconds: float) -> None:
        """Back off while staying in the consumer group: partitions paused, polling on."""
        if consumer is None:
            self.stop_event.wait(seconds)
            return
        paused = consumer.assignment()
        consumer.pause(paused)
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self._should_stop():
            msg = consumer.poll(0.1)
            if msg is not None and not msg.error():
                self._held.append(msg)
        consumer.resume(paused)

    # -- the loop ---------------------------------------------------------------------------
    def run(self, max_seconds: float | None = None, idle_stop_s: float | None = None) -> None:
        """Consume until stopped (or for ``max_seconds``, or after ``idle_stop_s`` idle)."""
        started = last_data = time.monotonic()
        self._deadline = None if max_seconds is None else started + max_seconds
        consumer = make_consumer(self.settings, self.group_id, Role.SEARCH_SINK)
        consumer.subscribe(list(self.sources))
        batch, interval = self.es.batch_messages, self.es.flush_interval_s
        pending: list[Message] = []
        first_at = 0.0
        try:
            while not self._should_stop():
                if idle_stop_s is not None and not pending and \
                        time.monotonic() - last_data > idle_stop_s:
                    break
                fresh, self._held = self._held, []
                fresh += consumer.consume(min(batch, 1000), 0.2)
                for msg in fresh:
                    if msg.error():
                        if msg.error().code() != KafkaError._PARTITION_EOF:
                            log.warning("consume error", error=str(msg.error()))
                        continue
                    if not pending:
                        first_at = time.monotonic()
                    pending.append(msg)
                    last_data = time.monotonic()
                if pending and (len(pending) >= batch or time.monotonic() - first_at >= interval):
                    self._flush(pending, consumer)
                    pending = []
                    last_data = time.monotonic()  # a slow write is not idle time
            if pending:  # stopping: write what was read (Interrupted if the cluster is down)
                self._flush(pending, consumer)
        except Interrupted:
            log.warning("stopped while elasticsearch was unavailable; batch not committed",
                        messages=len(pending))
        finally:
            consumer.close()

    def _flush(self, msgs: list[Message], consumer: Consumer) -> None:
        self.write(msgs, consumer)
        try:
            consumer.commit(offsets=_next_offsets(msgs), asynchronous=False)
        except KafkaException as exc:  # a rebalance took the partitions: the new owner
            log.warning("commit failed; the batch will be replayed (idempotent)",  # replays
                        error=str(exc))


def _next_offsets(msgs: list[Message]) -> list[TopicPartition]:
    top: dict[tuple[str, int], int] = {}
    for m in msgs:
        key = (m.topic(), m.partition())
        top[key] = max(top.get(key, -1), m.offset())
    return [TopicPartition(t, p, o + 1) for (t, p), o in top.items()]
