"""What the market-data agents publish, read back from Kafka and rendered for a terminal.

For the demo (or ``strikeflow md watch``): the latest index per underlying with the venues it
used and why others were left out, the top of the consolidated book with each venue's size at
every level (the ladder), a few option marks around the money, and the venues that are not
live. Two ways in:

* :func:`summary` — one call, one renderable: reads the recent tail of ``md.index``,
  ``md.book``, ``md.marks`` and ``md.feed.status`` and renders it;
* :class:`MarketWatch` — for a live screen: create it once (at the end of the topics, or with
  a tail of history), then call :meth:`MarketWatch.drain` and :meth:`MarketWatch.renderable`
  on every refresh, and :meth:`MarketWatch.close` at the end.

It reads with its own consumer (no group commits), so it never disturbs the agents.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from confluent_kafka import TopicPartition
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from infra.settings import Settings
from streams.kafka import make_consumer

__all__ = ["MarketView", "MarketWatch", "summary"]

# Messages per partition read back when starting with history: enough to find the watched
# underlyings among others' (tests and benchmarks share a broker); md.marks holds chains.
TAILS = {"md.index": 2_000, "md.book": 2_000, "md.feed.status": 500, "md.marks": 20_000}
BY_TIME = ("md.book", "md.marks")  # read from a little before the latest watched index
LOOKBACK_MS = 15_000


@dataclass
class MarketView:
    """The latest of everything, folded from the topics; pure (no Kafka) and renderable."""

    underlyings: tuple[str, ...] = ("BTC", "ETH")
    index: dict[str, dict[str, Any]] = field(default_factory=dict)
    books: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # sym -> src
    marks: dict[str, dict[str, Any]] = field(default_factory=dict)
    feed: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    messages: int = 0

    def _wanted(self, symbol: str) -> bool:
        return symbol.split("-")[0] in self.underlyings

    def add(self, topic: str, value: dict[str, Any]) -> None:
        """Fold one message in (newer by event time wins, so any read order works)."""
        if topic == "md.index":
            key, store = value["underlying"], self.index
            if value["underlying"] not in self.underlyings:
                return
        elif topic == "md.book":
            if not self._wanted(value["symbol"]):
                return
            key, store = value["source"], self.books.setdefault(value["symbol"], {})
        elif topic == "md.marks":
            if not self._wanted(value["symbol"]):
                return
            key, store = value["symbol"], self.marks
        elif topic == "md.feed.status":
            if not self._wanted(value["symbol"]):
                return
            self.feed[(value["symbol"], value["venue"])] = value
            self.messages += 1
            return
        else:
            return
        have = store.get(key)
        if have is None or have["ts_event"] <= value["ts_event"]:
            store[key] = value
        self.messages += 1

    # -- rendering ----------------------------------------------------------------------------
    def renderable(self, depth: int = 5, marks: int = 6) -> RenderableType:
        parts: list[RenderableType] = [self._index_table()]
        for u in self.underlyings:
            symbol = f"{u}-USDT"
            if symbol in self.books and "consolidated" in self.books[symbol]:
                parts.append(self._ladder(symbol, depth))
        parts.append(self._marks_table(marks))
        unhealthy = {k: v for k, v in self.feed.items() if v["state"] != "live"}
        if unhealthy:
            parts.append(Text("feeds not live: " + ", ".join(
                f"{venue}@{sym} {v['state']} ({v['reason']})"
                for (sym, venue), v in sorted(unhealthy.items())), style="yellow"))
        return Group(*parts)

    def _index_table(self) -> Table:
        table = Table("underlying", "index", "venues used", "left out", "event time",
                      title="md.index (median of venue mids)", title_justify="left")
        for u in self.underlyings:
            ix = self.index.get(u)
            if ix is None:
                table.add_row(u, "-", "", "", "")
                continue
            out = ", ".join(f"{v} ({r})" for v, r in sorted(ix.get("exclusions", {}).items()))
            table.add_row(u, _num(ix["price"], 2), ", ".join(ix["venues_used"]), out,
                          ix["ts_event"][11:23])
        return table

    def _ladder(self, symbol: str, depth: int) -> Table:
        sources = self.books[symbol]
        book = sources["consolidated"]
        venues = sorted(s for s in sources if s not in ("consolidated", "venue"))
        sizes = {v: {**{p: q for p, q in sources[v]["bids"]},
                     **{p: q for p, q in sources[v]["asks"]}} for v in venues}
        crossed = (book["bids"] and book["asks"]
                   and Decimal(book["bids"][0][0]) >= Decimal(book["asks"][0][0]))
        table = Table("", "price", "total", *venues, title_justify="left",
                      title=f"{symbol} consolidated book #{book['seq']} and venue ladders"
                      + (" (crossed across venues)" if crossed else ""))
        asks = book["asks"][:depth][::-1]
        for side, levels, style in (("ask", asks, "red"), ("bid", book["bids"][:depth], "green")):
            for price, total in levels:
                table.add_row(Text(side, style=style), _num(price), _num(total, 4),
                              *(_num(sizes[v][price], 4) if price in sizes[v] else "·"
                                for v in venues))
        return table

    def _marks_table(self, limit: int) -> Table:
        table = Table("option", "mark", "iv", "delta", "gamma", "vega", "theta",
                      title="md.marks (nearest expiry, strikes around the index)",
                      title_justify="left")
        for u in self.underlyings:
            rows = [m for s, m in self.marks.items() if s.startswith(f"{u}-")]
            if not rows:
                continue
            nearest = min(m["expiry"] for m in rows)
            rows = [m for m in rows if m["expiry"] == nearest]
            spot = Decimal(rows[0]["underlying_price"])
            rows.sort(key=lambda m: (abs(Decimal(m["symbol"].split("-")[2]) - spot),
                                     m["symbol"]))
            for m in sorted(rows[:limit], key=lambda m: m["symbol"]):
                table.add_row(m["symbol"], _num(m["mark_price"], 2),
                              f"{float(m['iv']) * 100:.1f}%", _num(m["delta"], 3),
                              f"{float(m['gamma']):.2e}", _num(m["vega"], 2),
                              _num(m["theta"], 2))
        return table


def _num(text: str, places: int | None = None) -> str:
    if places is None:
        return str(text)
    return f"{Decimal(text):,.{places}f}"


class MarketWatch:
    """A consumer on the market-data topics that keeps a :class:`MarketView` up to date.

    With ``history``, it starts with the recent past: the tail of ``md.index`` and
    ``md.feed.status``, and ``md.book`` and ``md.marks`` from a little before the latest
    watched index was made (found by timestamp, so the chains of a busy shared broker's other
    underlyings are skipped, not read).
    """

    def __init__(self, settings: Settings, underlyings: Sequence[str] = ("BTC", "ETH"),
                 history: bool = True) -> None:
        self.view = MarketView(tuple(underlyings))
        self.consumer = make_consumer(
            settings, f"strikeflow-md-watch-{os.getpid()}-{uuid.uuid4().hex[:6]}")
        since_ms = self._latest_index_ms(underlyings) - LOOKBACK_MS if history else None
        assignments: list[TopicPartition] = []
        for topic, tail in TAILS.items():
            meta = self.consumer.list_topics(topic, timeout=10).topics[topic]
            parts = [TopicPartition(topic, p) for p in meta.partitions]
            if since_ms is not None and topic in BY_TIME:
                found = self.consumer.offsets_for_times(
                    [TopicPartition(topic, p.partition, since_ms) for p in parts], timeout=10)
                for tp in found:
                    _, high = self.consumer.get_watermark_offsets(tp, timeout=10)
                    assignments.append(TopicPartition(topic, tp.partition,
                                                      tp.offset if tp.offset >= 0 else high))
                continue
            for tp in parts:
                low, high = self.consumer.get_watermark_offsets(tp, timeout=10)
                start = max(low, high - tail) if history else high
                assignments.append(TopicPartition(topic, tp.partition, start))
        self.consumer.assign(assignments)

    def _latest_index_ms(self, underlyings: Sequence[str]) -> int:
        """When the newest index of a watched underlying was made (else: a minute ago)."""
        fallback = int(time.time() * 1000) - 60_000
        topic = "md.index"
        meta = self.consumer.list_topics(topic, timeout=10).topics[topic]
        parts = []
        for p in meta.partitions:
            low, high = self.consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                            timeout=10)
            parts.append(TopicPartition(topic, p, max(low, high - TAILS[topic])))
        self.consumer.assign(parts)
        latest = 0
        while batch := self.consumer.consume(1000, 0.3):
            for msg in batch:
                if msg.error():
                    continue
                try:
                    if json.loads(msg.value())["underlying"] in underlyings:
                        latest = max(latest, msg.timestamp()[1])
                except (ValueError, KeyError, TypeError):
                    continue
        self.consumer.unassign()
        return latest or fallback

    def drain(self, timeout_s: float = 0.0, max_messages: int = 20_000) -> int:
        """Fold in what has arrived (waiting up to ``timeout_s`` for the first message)."""
        got = 0
        deadline = time.monotonic() + timeout_s
        while got < max_messages:
            batch = self.consumer.consume(500, max(0.0, deadline - time.monotonic()))
            if not batch:
                break
            for msg in batch:
                if msg.error():
                    continue
                try:
                    self.view.add(msg.topic(), json.loads(msg.value()))
                except (ValueError, KeyError, TypeError):
                    continue  # not ours to judge: the agents dead-letter bad input
                got += 1
            deadline = time.monotonic()  # after the first batch, only take what is there
        return got

    def renderable(self, depth: int = 5, marks: int = 6) -> RenderableType:
        return self.view.renderable(depth, marks)

    def close(self) -> None:
        self.consumer.close()

    def __enter__(self) -> MarketWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def summary(settings: Settings, underlyings: Sequence[str] = ("BTC", "ETH"),
            timeout_s: float = 5.0, depth: int = 5, marks: int = 6) -> RenderableType:
    """The latest index, consolidated book and option marks, as one rich renderable."""
    with MarketWatch(settings, underlyings, history=True) as watch:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and watch.drain(timeout_s=0.5):
            pass
        made = datetime.now(UTC).strftime("%H:%M:%S")
        return Group(Text(f"market data at {made} UTC ({watch.view.messages} messages read)",
                          style="bold"), watch.renderable(depth, marks))
