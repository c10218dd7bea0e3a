"""Reference prices for agents keyed by something else than the instrument (risk by account,
settlement by order): the latest index per underlying, mark per option and consolidated book
per spot pair, read from every partition by a background consumer (a "global table").

Decisions taken from these prices are recorded by the agent that took them (the risk
agent's decisions, the settlement state machine), so a replay does not depend on the cache.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import orjson
import structlog
from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from infra.settings import Settings
from streams.kafka import make_consumer

__all__ = ["ReferencePrices"]

log = structlog.get_logger(__name__)
_TAIL = 500  # messages per partition read back at start (index and books; marks: all)


class ReferencePrices:
    """Thread-safe latest prices; implements :class:`streams.risk.Prices`."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.settings = settings
        self.name = name
        self._index: dict[str, Decimal] = {}
        self._marks: dict[str, Decimal] = {}
        self._greeks: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (delta, vega)
        self._books: dict[str, tuple[list[tuple[Decimal, Decimal]],
                                     list[tuple[Decimal, Decimal]]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()

    # -- Prices -----------------------------------------------------------------------------
    def index(self, underlying: str) -> Decimal | None:
        return self._index.get(underlying)

    def mark(self, symbol: str) -> Decimal | None:
        return self._marks.get(symbol)

    def greeks(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        return self._greeks.get(symbol)

    def book(self, symbol: str) -> tuple[list[tuple[Decimal, Decimal]],
                                         list[tuple[Decimal, Decimal]]] | None:
        """The consolidated (bids, asks) of a spot pair, best first."""
        with self._lock:
            return self._books.get(symbol)

    def set_index(self, underlying: str, price: Decimal) -> None:
        self._index[underlying] = price

    # -- the consumer -----------------------------------------------------------------------
    def start(self) -> ReferencePrices:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f"reference-{self.name}")
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _assignment(self, consumer: Any) -> list[TopicPartition]:
        parts = []
        for topic in ("md.index", "md.marks", "md.book"):
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            for p in meta.partitions:
                if topic == "md.marks":
                    parts.append(TopicPartition(topic, p, OFFSET_BEGINNING))
                    continue
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                parts.append(TopicPartition(topic, p, max(low, high - _TAIL)))
        return parts

    def _run(self) -> None:
        consumer = make_consumer(self.settings, f"reference-{self.name}",
                                 **{"enable.partition.eof": True})
        try:
            parts = self._assignment(consumer)
            consumer.assign(parts)
            at_end: set[tuple[str, int]] = set()
            while not self._stop.is_set():
                for msg in consumer.consume(500, 0.2):
                    if msg.error():
                        at_end.add((msg.topic(), msg.partition()))
                        continue
                    self._apply(msg.topic(), msg.value())
                if not self.ready.is_set() and len(at_end) >= len(parts):
                    self.ready.set()
        except Exception:  # the cache must not take the worker down; agents see stale prices
            log.exception("reference prices consumer failed", name=self.name)
        finally:
            consumer.close()

    def _apply(self, topic: str, raw: bytes | None) -> None:
        if not raw:
            return
        try:
            data = orjson.loads(raw)
            if topic == "md.index":
                self._index[data["underlying"]] = Decimal(data["price"])
            elif topic == "md.marks":
                self._marks[data["symbol"]] = Decimal(data["mark_price"])
                self._greeks[data["symbol"]] = (Decimal(data["delta"]), Decimal(data["vega"]))
            elif data.get("source") == "consolidated":
                book = ([(Decimal(p), Decimal(q)) for p, q in data["bids"]],
                        [(Decimal(p), Decimal(q)) for p, q in data["asks"]])
                with self._lock:
                    self._books[data["symbol"]] = book
        except (ValueError, KeyError, TypeError):
            pass  # the producing agents validate; a bad record here is theirs to dead-letter
