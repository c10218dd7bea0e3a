"""Each venue's own book per spot pair, from ``md.book``: what routing splits against.

:class:`~streams.reference.ReferencePrices` keeps only the consolidated book (settlement hedges
against it); routing needs every venue's ladder apart — the market-data worker publishes them
under ``source=<venue>`` — and StrikeFlow's own book (``source="venue"``, from matching), which
routing calls :data:`~streams.routing.venues.OWN_VENUE`. Same background reader, another filter.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import orjson
from confluent_kafka import TopicPartition

from infra.settings import Settings
from streams.reference import ReferencePrices
from streams.routing.venues import OWN_VENUE
from streams.settlement.venue import Book

__all__ = ["VenueBooks"]

_TAIL = 2000  # md.book messages per partition read back at start (every venue's latest)
_OWN_SOURCE = "venue"


class VenueBooks(ReferencePrices):
    """Thread-safe latest (bids, asks) per (symbol, venue), best first."""

    def __init__(self, settings: Settings, name: str, venues: Iterable[str]) -> None:
        super().__init__(settings, name)
        self.venues = frozenset(venues)
        self._by_venue: dict[str, dict[str, Book]] = {}

    def books(self, symbol: str) -> dict[str, Book]:
        """Every routable venue's book of ``symbol`` (venues without one are left out)."""
        with self._lock:
            return dict(self._by_venue.get(symbol, {}))

    def venue_book(self, symbol: str, venue: str) -> Book | None:
        with self._lock:
            return self._by_venue.get(symbol, {}).get(venue)

    def put(self, symbol: str, venue: str, book: Book) -> None:
        with self._lock:
            self._by_venue.setdefault(symbol, {})[venue] = book

    def _assignment(self, consumer: Any) -> list[TopicPartition]:
        topic = "md.book"
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        parts = []
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            parts.append(TopicPartition(topic, p, max(low, high - _TAIL)))
        return parts

    def _apply(self, topic: str, raw: bytes | None) -> None:
        if not raw:
            return
        try:
            data = orjson.loads(raw)
            source = data.get("source")
            venue = OWN_VENUE if source == _OWN_SOURCE else source
            if venue not in self.venues:
                return
            book = ([(Decimal(p), Decimal(q)) for p, q in data["bids"]],
                    [(Decimal(p), Decimal(q)) for p, q in data["asks"]])
            self.put(data["symbol"], venue, book)
        except (ValueError, KeyError, TypeError, AttributeError):
            pass  # the producing agents validate; a bad record here is theirs to dead-letter
