"""Feed adapters: anything that yields normalised venue data, and one publisher for them all.

A venue connector, the simulator and a file of historical trades all look the same to the
pipeline: a :class:`FeedAdapter` yields :class:`~topics.contracts.Tick` and
:class:`~topics.contracts.L2Update` in event-time order, and :func:`publish_feed` puts them on
``md.ticks`` and ``md.l2`` keyed by symbol. The publisher paces by **event time**: an event
``ts`` seconds after the first one is sent ``ts / speed`` wall seconds after the start, so the
simulator's ``rate`` and a replay's ``--speed`` are the same mechanism, and a replay at xN
reproduces the original spacing N times faster. (``speed=0`` sends as fast as possible.)

:class:`FileReplayFeed` reads CSV or Parquet with the columns ``ts_event, venue, symbol,
trade_id, price, qty, side`` (``event_id`` optional). Prices and sizes are read as text (or
Parquet decimals) so they stay exact; a row that breaks the Tick contract is skipped and
reported, never published. ``rebase`` moves the event times to start now and shifts trade
ids above any earlier replay's (for demos: the candle agent would otherwise treat a second
replay as duplicates, which it is). ``synthetic_l2`` derives a one-level venue book around
each trade, a half-spread either side, for back-testing the index and marks from trade history
alone — it is labelled synthetic for what it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError

from topics.catalogue import by_name
from topics.contracts import L2Update, Tick

__all__ = [
    "FeedAdapter",
    "FileReplayFeed",
    "MarketEvent",
    "RawPayload",
    "ReplayReport",
    "publish_feed",
    "read_ticks",
    "synthetic_quote",
]

MarketEvent = Tick | L2Update
REQUIRED_COLUMNS = ("ts_event", "venue", "symbol", "trade_id", "price", "qty", "side")


@dataclass(frozen=True)
class RawPayload:
    """Bytes to publish as they are: fault injection (an invalid message), never real data."""

    topic: str
    key: bytes
    value: bytes


@runtime_checkable
class FeedAdapter(Protocol):
    """A source of normalised market data, in event-time order."""

    name: str

    def events(self) -> Iterator[MarketEvent | RawPayload]:
        """Ticks and L2 updates (and, for fault injection only, raw payloads)."""
        ...


@dataclass
class ReplayReport:
    """What a file replay read: rows, rows skipped and why (the first few)."""

    rows: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def skip(self, row: int, why: str) -> None:
        self.skipped += 1
        if len(self.errors) < 10:
            self.errors.append(f"row {row}: {why}")


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):  # also pandas.Timestamp
        ts = value
    else:
        ts = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no timezone")
    return ts.astimezone(UTC)


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    import pandas as pd

    if path.suffix.lower() in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    elif path.suffix.lower() in (".csv", ".gz") or path.name.endswith(".csv.gz"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    else:
        raise ValueError(f"{path}: expected a .csv, .csv.gz or .parquet file")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    for record in frame.to_dict("records"):
        yield {str(k): v for k, v in record.items()}


def _exact(value: Any) -> str:
    """Text for a price or size: Decimals and strings as they are, floats by shortest repr."""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def read_ticks(path: Path, report: ReplayReport | None = None) -> Iterator[Tick]:
    """The ticks of a CSV or Parquet file, validated; bad rows are counted in ``report``."""
    report = report if report is not None else ReplayReport()
    for n, row in enumerate(_rows(path), start=1):
        report.rows += 1
        try:
            trade_id = int(row["trade_id"])
            event_id = row.get("event_id") or f"{row['venue']}:{row['symbol']}:{trade_id}"
            yield Tick(event_id=str(event_id), ts_event=_utc(row["ts_event"]),
                       venue=row["venue"], symbol=row["symbol"], trade_id=trade_id,
                       price=_exact(row["price"]), qty=_exact(row["qty"]), side=row["side"])
        except ValidationError as exc:
            report.skip(n, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                     for e in exc.errors(include_url=False)))
        except (ValueError, TypeError) as exc:
            report.skip(n, str(exc))


def synthetic_quote(tick: Tick, seq: int, half_spread_bps: Decimal) -> L2Update:
    """A one-level snapshot around a trade: bid and ask ``half_spread_bps`` either side."""
    half = tick.price * half_spread_bps / Decimal(10_000)
    q = Decimal("1e-9")
    bid = (tick.price - half).quantize(q)
    ask = (tick.price + half).quantize(q)
    if ask <= bid:
        ask = bid + q
    return L2Update(event_id=f"{tick.venue}:{tick.symbol}:l2:{seq}", ts_event=tick.ts_event,
                    venue=tick.venue, symbol=tick.symbol, seq=seq, snapshot=True,
                    bids=[(bid, tick.qty)], asks=[(ask, tick.qty)])


@dataclass
class FileReplayFeed:
    """Historical ticks from a file, as a feed adapter; see the module docstring."""

    path: Path
    rebase: bool = False
    synthetic_l2: bool = False
    half_spread_bps: Decimal = Decimal(1)
    name: str = "replay"
    report: ReplayReport = field(default_factory=ReplayReport)

    def events(self) -> Iterator[MarketEvent]:
        shift = None
        id_offset = 0
        seqs: dict[tuple[str, str], int] = {}
        now = datetime.now(UTC)
        for tick in read_ticks(self.path, self.report):
            if self.rebase:
                if shift is None:
                    shift = now - tick.ts_event
                    id_offset = int(now.timestamp()) * 1000
                tick = _rebased(tick, tick.ts_event + shift, tick.trade_id + id_offset)
            if self.synthetic_l2:
                key = (tick.venue, tick.symbol)
                seqs[key] = seqs.get(key, id_offset + tick.trade_id) + 1
                yield synthetic_quote(tick, seqs[key], self.half_spread_bps)
            yield tick


def _rebased(tick: Tick, ts: datetime, trade_id: int) -> Tick:
    return tick.model_copy(update={"ts_event": ts, "trade_id": trade_id,
                                   "event_id": f"{tick.venue}:{tick.symbol}:{trade_id}"})


def publish_feed(producer: Any, feed: FeedAdapter | Iterable[MarketEvent | RawPayload],
                 speed: float = 1.0,
                 progress: Callable[[dict[str, int]], object] | None = None,
                 ) -> dict[str, int]:
    """Publish a feed to ``md.ticks``/``md.l2``, paced by event time at x``speed``.

    Returns counts: ``ticks`` (first sends), ``duplicates`` (a tick sent again), ``l2`` and
    ``invalid`` (raw payloads). ``progress`` is called with the counts every 500 messages.
    """
    ticks, l2 = by_name("md.ticks"), by_name("md.l2")
    events = feed.events() if isinstance(feed, FeedAdapter) else iter(feed)
    sent = {"ticks": 0, "duplicates": 0, "invalid": 0}
    seen: set[str] = set()
    t0 = time.monotonic()
    first_ts: float | None = None
    for n, item in enumerate(events):
        if isinstance(item, RawPayload):
            _produce(producer, item.topic, item.key, item.value, None)
            sent["invalid"] += 1
        else:
            ts = item.ts_event.timestamp()
            if speed > 0:
                first_ts = ts if first_ts is None else first_ts
                ahead = (ts - first_ts) / speed - (time.monotonic() - t0)
                if ahead > 0.002:
                    time.sleep(ahead)
            if isinstance(item, Tick):
                kind = "duplicates" if item.event_id in seen else "ticks"
                seen.add(item.event_id)
                _produce(producer, ticks.name, item.symbol.encode(), ticks.encode(item),
                         int(ts * 1000))
            else:
                kind = "l2"
                _produce(producer, l2.name, item.symbol.encode(), l2.encode(item),
                         int(ts * 1000))
            sent[kind] = sent.get(kind, 0) + 1
        producer.poll(0)
        if progress is not None and n % 500 == 0:
            progress(dict(sent))
    producer.flush(30)
    if progress is not None:
        progress(dict(sent))
    return sent


def _produce(producer: Any, topic: str, key: bytes, value: bytes, ts_ms: int | None) -> None:
    kwargs = {} if ts_ms is None else {"timestamp": ts_ms}
    while True:
        try:
            producer.produce(topic, key=key, value=value, **kwargs)
            return
        except BufferError:  # the local queue is full: let it drain
            producer.poll(0.05)
