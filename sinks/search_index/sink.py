"""Kafka → Elasticsearch: batched bulk writes, commit after write, patient with a down cluster.

Built like :mod:`sinks.clickhouse`:

* **Commit after write.** Offsets are committed only once every action of the batch is in
  Elasticsearch (or dead-lettered). Ids are deterministic and order documents only move
  forward by engine ``seq`` (:mod:`~sinks.search_index.documents`), so the batch a crash
  replays adds nothing.
* **Backpressure, not loss.** While Elasticsearch is unreachable (connection refused, timeouts,
  429/5xx) the sink pauses its partitions, keeps polling so it stays in the group, and retries
  with exponential backoff (tenacity); item-level transient failures are retried alone.
* **The bulk body, built once.** Each action is serialized with orjson straight into the
  NDJSON body (the client's stock path runs the stdlib encoder over every action and every
  chunk twice over), the answer asks only for what is read (``filter_path``: status, result,
  error of each item), and two chunks are in flight at once: while Elasticsearch indexes one,
  the sink decodes and serializes the next. Safe because every write is idempotent and
  order documents only move forward by ``seq`` whatever order their updates land in
  (``retry_on_conflict`` absorbs the version races).
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
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Any

import orjson
import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from elasticsearch import Elasticsearch, helpers
from elasticsearch.exceptions import ConnectionError as EsConnectionError
from elasticsearch.exceptions import TransportError
from elasticsearch.serializer import JSONSerializer
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential

from infra.kafka_security import Role
from infra.metrics import SINK_RETRIES, SINK_ROWS
from infra.settings import Settings
from sinks.search_index.documents import Planned, actions_for, dead_letter_doc
from sinks.search_index.indices import KINDS, IndexNames, ensure_indices, open_client
from streams.kafka import make_consumer
from topics.catalogue import ContractError, by_name

__all__ = ["SOURCES", "ElasticsearchSink", "Interrupted", "SinkError", "Unavailable"]

log = structlog.get_logger(__name__)

# topic consumed → the contract (catalogue topic) its messages follow
SOURCES: dict[str, str] = {t: t for t in
                           ("orders.events", "trades", "settlement.results", "risk.alerts",
                            "rfq.events", "compliance.cases")}
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
CHUNK_ACTIONS = 1000  # actions per bulk request
CHUNK_BYTES = 20 * 2**20  # and at most this much body
IN_FLIGHT = 2  # bulk requests at once: Elasticsearch indexes one while the next is built
_FILTER = "errors,items.*.status,items.*.result,items.*.error"
_STOCK = JSONSerializer()


def _line(obj: Any) -> bytes:
    """One NDJSON line; what orjson cannot encode natively (a Decimal, a UUID) is encoded
    as the stock client would encode it."""
    return orjson.dumps(obj, default=_STOCK.default) + b"\n"


def _chunks(items: Iterable[_Item]) -> Iterator[tuple[list[_Item], bytes]]:
    """Items in bulk-sized chunks with their bodies, built lazily (the next chunk is built
    while the previous one is in flight)."""
    batch: list[_Item] = []
    body: list[bytes] = []
    size = 0
    for item in items:
        meta, source = helpers.expand_action(item.action)
        line = _line(meta) + (b"" if source is None else _line(source))
        if batch and (len(batch) >= CHUNK_ACTIONS or size + len(line) > CHUNK_BYTES):
            yield batch, b"".join(body)
            batch, body, size = [], [], 0
        batch.append(item)
        body.append(line)
        size += len(line)
    if batch:
        yield batch, b"".join(body)


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
        self._executor: ThreadPoolExecutor | None = None

    # -- setup ------------------------------------------------------------------------------
    def prepare(self) -> list[str]:
        """Templates, script, indices; waits (with backoff) for a cluster that is down."""
        return self._retrying(None, lambda: ensure_indices(self.client, self.names,
                                                           self.es.replicas))

    # -- one batch --------------------------------------------------------------------------
    def plan(self, msgs: list[Message]) -> list[_Item]:
        """Decode and validate each message; what breaks its contract becomes a dead letter."""
        return list(self._plan(msgs))

    def _plan(self, msgs: Iterable[Message]) -> Iterator[_Item]:
        indices = {kind: self.names[kind] for kind in KINDS}
        script = self.names.order_script
        for msg in msgs:
            contract = self.sources[msg.topic()]
            try:
                event = by_name(contract).decode(msg.value() or b"")
                planned: list[Planned] = actions_for(contract, event, script)
            except ContractError as exc:
                yield self._dead(msg, "invalid", str(exc))
                continue
            for kind, action in planned:
                action["_index"] = indices[kind]  # a fresh dict of actions_for's own
                yield _Item(kind, action, msg)

    def _dead(self, msg: Message, reason: str, error: str, target: str | None = None) -> _Item:
        action = dead_letter_doc(msg.topic(), msg.partition(), msg.offset(), msg.key(),
                                 msg.value(), reason, error, target)
        return _Item("dead-letters", action | {"_index": self.names["dead-letters"]}, None)

    @property
    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="es-bulk")
        return self._executor

    def close(self) -> None:
        """Stop the bulk threads (a later write starts them again)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _send(self, body: bytes) -> Any:
        return self.client.bulk(body=body, filter_path=_FILTER)

    def _results(self, items: Iterable[_Item]) -> Iterator[tuple[_Item, dict[str, Any]]]:
        """Each item with its answer, chunk by chunk, ``IN_FLIGHT`` requests at a time. A
        request that fails (connection, 429 on the whole request …) raises here; requests
        still in flight are waited for (their writes are idempotent)."""
        chunks = _chunks(items)
        pending: list[tuple[list[_Item], Future[Any]]] = []
        try:
            while True:
                for chunk, body in islice(chunks, IN_FLIGHT - len(pending)):
                    pending.append((chunk, self._pool.submit(self._send, body)))
                if not pending:
                    return
                chunk, future = pending.pop(0)
                answer = future.result()
                for item, result in zip(chunk, answer["items"], strict=True):
                    yield item, next(iter(result.values()))
        finally:
            for _, future in pending:
                future.cancel() or future.exception()

    def _bulk(self, items: Iterable[_Item], outcome: _Outcome
              ) -> tuple[list[_Item], list[_Item]]:
        """One pass. Records what succeeded; returns (transient failures to retry, dead
        letters for what was refused for good)."""
        transient: list[_Item] = []
        dead: list[_Item] = []
        for item, info in self._results(items):
            status = info.get("status", 500)
            ok = 200 <= status < 300
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
        outcome = _Outcome()
        planned: list[_Item] = []

        def planning() -> Iterator[_Item]:  # planned while the first chunks are in flight
            for item in self._plan(msgs):
                planned.append(item)
                yield item

        pending: Iterable[_Item] | None = None

        def attempt() -> None:
            nonlocal pending
            if pending is None:  # the first attempt plans as it goes
                pending = planning()
            elif not isinstance(pending, list):  # it failed midway: plan the rest (it joins
                for _ in pending:               # `planned`) and retry all (idempotent)
                    pass
                pending = list(planned)
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
                asked = min(batch, 1000)
                polled = consumer.consume(asked, 0.2)
                # fewer than asked: the poll waited out its timeout, the backlog is drained
                caught_up = len(polled) < asked
                fresh += polled
                for msg in fresh:
                    if msg.error():
                        if msg.error().code() != KafkaError._PARTITION_EOF:
                            log.warning("consume error", error=str(msg.error()))
                        continue
                    if not pending:
                        first_at = time.monotonic()
                    pending.append(msg)
                    last_data = time.monotonic()
                # Flush on size, on time, or once the backlog is drained: waiting out the
                # interval with nothing arriving only delays the documents (Elasticsearch
                # takes small bulks well; ClickHouse, which wants big inserts, waits).
                if pending and (len(pending) >= batch or caught_up
                                or time.monotonic() - first_at >= interval):
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
            self.close()

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
