"""Feed adapters: the simulator's books match its trades; the file replayer; the publisher."""

from __future__ import annotations

import json
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from streams.marketdata.feeds import (
    FeedAdapter,
    FileReplayFeed,
    RawPayload,
    publish_feed,
    read_ticks,
)
from streams.marketdata.l2book import L2Verdict, VenueBook
from streams.marketdata.samples.make_sample import SAMPLE, write_sample
from streams.marketdata.simulator import (
    SimulatorConfig,
    SimulatorFeed,
    generate_market,
    generate_ticks,
)
from topics.contracts import L2Update, Tick

from .md_support import T0


class FakeProducer:
    """Records what would go to Kafka, and when."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, float]] = []

    def produce(self, topic: str, key: bytes, value: bytes, **_: Any) -> None:
        self.sent.append((topic, key, value, time.monotonic()))

    def poll(self, _timeout: float) -> int:
        return 0

    def flush(self, _timeout: float) -> int:
        return 0


def _no_init(items: list[Any]) -> list[Any]:
    return [i.model_dump(exclude={"ts_init"}) for i in items if isinstance(i, Tick)]


def test_books_do_not_change_the_trades() -> None:
    cfg = SimulatorConfig(count=500, seed=11, start=T0, duplicate_rate=0.01, invalid_every=97)
    with_books = SimulatorConfig(**{**cfg.__dict__, "l2": True})
    assert _no_init(list(generate_market(with_books))) == _no_init(list(generate_ticks(cfg)))
    assert sum(isinstance(i, bytes) for i in generate_ticks(cfg)) == 5


def test_every_trade_prints_at_the_touch_of_the_venues_book() -> None:
    cfg = SimulatorConfig(rate=100, count=3000, speed=10, seed=5, start=T0, l2=True,
                          snapshot_every=50)
    books: dict[tuple[str, str], VenueBook] = {}
    verdicts: Counter[L2Verdict] = Counter()
    checked = 0
    for item in generate_market(cfg):
        if isinstance(item, L2Update):
            verdicts[books.setdefault((item.venue, item.symbol), VenueBook()).apply(item)] += 1
        elif isinstance(item, Tick):
            book = books[(item.venue, item.symbol)]
            touch = book.best_ask() if item.side == "buy" else book.best_bid()
            assert item.price == touch
            assert item.qty < (book.asks if item.side == "buy" else book.bids)[touch]
            checked += 1
    assert checked == 3000
    assert set(verdicts) == {L2Verdict.SNAPSHOT, L2Verdict.APPLIED}
    assert verdicts[L2Verdict.SNAPSHOT] >= 8 * 3000 // (8 * 50) - 8  # about every 50 updates


def test_lost_deltas_make_gaps_that_the_next_snapshot_repairs() -> None:
    cfg = SimulatorConfig(rate=100, count=2000, speed=10, seed=5, start=T0, l2=True,
                          snapshot_every=40, gap_every=15)
    books: dict[tuple[str, str], VenueBook] = {}
    verdicts = Counter(books.setdefault((i.venue, i.symbol), VenueBook()).apply(i)
                       for i in generate_market(cfg) if isinstance(i, L2Update))
    assert verdicts[L2Verdict.GAP] > 10 and verdicts[L2Verdict.IGNORED] > 0
    assert verdicts[L2Verdict.SNAPSHOT] > verdicts[L2Verdict.GAP]


def test_adapters_satisfy_the_protocol() -> None:
    assert isinstance(SimulatorFeed(SimulatorConfig(count=1)), FeedAdapter)
    assert isinstance(FileReplayFeed(SAMPLE), FeedAdapter)


def test_the_shipped_sample_is_what_the_script_writes(tmp_path: Path) -> None:
    fresh = tmp_path / "sample.csv"
    assert write_sample(fresh) == 1440
    assert fresh.read_bytes() == SAMPLE.read_bytes()


def test_replay_reads_csv_and_parquet_exactly(tmp_path: Path) -> None:
    ticks = list(read_ticks(SAMPLE))
    assert len(ticks) == 1440 and {t.symbol for t in ticks} == {"BTC-USDT", "ETH-USDT"}
    assert len({t.venue for t in ticks}) == 4
    frame = pd.read_csv(SAMPLE, dtype=str)
    frame["price"] = frame["price"].map(Decimal)  # a Parquet decimal column
    frame["ts_event"] = pd.to_datetime(frame["ts_event"], utc=True)
    frame = frame.drop(columns=["event_id"])
    parquet = tmp_path / "ticks.parquet"
    frame.to_parquet(parquet)
    again = list(read_ticks(parquet))
    assert [t.model_dump(exclude={"ts_init"}) for t in again] == \
        [t.model_dump(exclude={"ts_init"}) for t in ticks]


def test_bad_rows_are_skipped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "ts_event,venue,symbol,trade_id,price,qty,side\n"
        "2026-01-02T00:00:00Z,okx,BTC-USDT,1,91000.5,0.1,buy\n"
        "2026-01-02T00:00:01Z,okx,BTC-USDT,2,-5,0.1,buy\n"
        "2026-01-02T00:00:02,okx,BTC-USDT,3,91000.5,0.1,buy\n"
        "2026-01-02T00:00:03Z,okx,BTC-USDT,x,91000.5,0.1,buy\n")
    feed = FileReplayFeed(path)
    assert [t.trade_id for t in feed.events()] == [1]  # type: ignore[union-attr]
    assert feed.report.rows == 4 and feed.report.skipped == 3
    assert "row 2" in feed.report.errors[0] and "no timezone" in feed.report.errors[1]
    with pytest.raises(ValueError, match="missing columns"):
        list(read_ticks(_write(tmp_path / "x.csv", "ts_event,venue\n")))
    with pytest.raises(ValueError, match=r"expected a \.csv"):
        list(read_ticks(_write(tmp_path / "x.json", "{}")))


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_rebase_and_synthetic_books() -> None:
    feed = FileReplayFeed(SAMPLE, rebase=True, synthetic_l2=True, half_spread_bps=Decimal(2))
    events = list(feed.events())
    ticks = [e for e in events if isinstance(e, Tick)]
    quotes = [e for e in events if isinstance(e, L2Update)]
    assert len(ticks) == len(quotes) == 1440
    original = list(read_ticks(SAMPLE))
    assert abs((ticks[0].ts_event - original[0].ts_event).days) > 300  # moved to now
    assert ticks[-1].ts_event - ticks[0].ts_event == original[-1].ts_event - original[0].ts_event
    assert ticks[0].trade_id > original[0].trade_id
    assert ticks[0].event_id == f"{ticks[0].venue}:{ticks[0].symbol}:{ticks[0].trade_id}"
    q = quotes[0]
    assert q.snapshot and q.bids[0][0] < ticks[0].price < q.asks[0][0]
    assert float((q.asks[0][0] - ticks[0].price) / ticks[0].price) == pytest.approx(0.0002,
                                                                                   rel=1e-3)
    book = VenueBook()
    assert all(book.apply(x) is L2Verdict.SNAPSHOT for x in quotes
               if (x.venue, x.symbol) == (q.venue, q.symbol))


def test_publisher_routes_by_type_and_paces_by_event_time() -> None:
    cfg = SimulatorConfig(rate=50, count=40, speed=2.0, seed=1, start=T0, l2=True,
                          invalid_every=17)
    producer = FakeProducer()
    t0 = time.monotonic()
    sent = publish_feed(producer, SimulatorFeed(cfg), speed=cfg.speed)
    elapsed = time.monotonic() - t0
    assert 0.7 < elapsed < 2.0  # 40 ticks at 50/s of wall time: ~0.78 s
    topics = Counter(t for t, *_ in producer.sent)
    assert topics["md.ticks"] == sent["ticks"] + sent["invalid"] == 40
    assert topics["md.l2"] == sent["l2"] > 0
    for topic, key, value, _ in producer.sent:
        body = json.loads(value)
        if topic == "md.l2" or "trade_id" in body:
            assert key == body["symbol"].encode()
    fast = FakeProducer()
    t0 = time.monotonic()
    publish_feed(fast, [RawPayload("md.l2", b"k", b"{}"), *list(read_ticks(SAMPLE))[:300]],
                 speed=0)
    assert time.monotonic() - t0 < 1.0 and len(fast.sent) == 301
