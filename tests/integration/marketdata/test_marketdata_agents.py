"""Venue feeds → index, books, feed health, marks, alerts and rollups, through the real Kafka
and a real worker (every agent of the app), compared with the pure code on the same input."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from infra.settings import Settings
from streams.instruments import listing_session
from streams.marketdata.alerts import AlertBook
from streams.marketdata.market import BookParams, SymbolMarket
from streams.marketdata.marks import ChainParams, OptionChain, surface_for
from streams.marketdata.settings import MarketDataSettings
from topics.catalogue import by_name
from topics.contracts import BookUpdate, IndexPrice, L2Update, Tick
from topics.contracts.marketdata import FeedStateChanged, SetPriceAlert

from .support import Tail, live_worker, produce, value

pytestmark = pytest.mark.kafka

D = Decimal
L2, ALERTS = by_name("md.l2"), by_name("md.alerts.commands")
# The defaults: other suites' workers on the shared broker run these agents with them too.
ENV: dict[str, str] = {}
SETTINGS = MarketDataSettings()
WATCHED = ("md.index", "md.book", "md.feed.status", "md.marks", "md.l2.dlq", "risk.alerts",
           "md.alerts.commands.dlq", "md.candles")


@pytest.fixture(scope="module")
def worker(stack: Settings) -> Iterator[Settings]:
    with live_worker(stack, ENV):
        _warm_up(stack)
        yield stack


def _asset() -> str:
    return "T" + uuid.uuid4().hex[:6].upper()


def _warm_up(settings: Settings) -> None:
    """Until a probe's index comes out, the worker may not have found the end of md.l2."""
    tail = Tail(settings, ("md.index",))
    try:
        for attempt in range(20):
            underlying = _asset()
            now = datetime.now(UTC)
            probe = [_l2(underlying, v, 1, now, D(100), snapshot=True) for v in ("okx", "bybit")]
            produce(settings, [(L2.name, f"{underlying}-USDT".encode(), L2.encode(u))
                               for u in probe])
            try:
                tail.collect(lambda m, u=underlying: m.key() == u.encode(), bool, timeout_s=3)
                return
            except AssertionError:
                if attempt == 19:
                    raise
    finally:
        tail.close()


def _l2(underlying: str, venue: str, seq: int, ts: datetime, mid: Decimal,
        snapshot: bool = False, old_mid: Decimal | None = None) -> L2Update:
    """A one-level book around ``mid`` (as a delta: moved from ``old_mid``)."""
    bids = [(mid - D("0.5"), D(1))]
    asks = [(mid + D("0.5"), D(1))]
    if not snapshot and old_mid is not None and old_mid != mid:
        bids.append((old_mid - D("0.5"), D(0)))
        asks.append((old_mid + D("0.5"), D(0)))
    symbol = f"{underlying}-USDT"
    return L2Update(event_id=f"{venue}:{symbol}:l2:{seq}", ts_event=ts, venue=venue,
                    symbol=symbol, seq=seq, snapshot=snapshot, bids=bids, asks=asks)


def _venue_feed(underlying: str, start: datetime) -> list[L2Update | tuple[bytes, bytes]]:
    """Four venues for 12 s of event time: deribit quotes 3% away (an outlier), okx loses a
    delta (a gap, then a snapshot), binance sends a crossed delta; plus an invalid message
    and one under the wrong key (as raw ``(key, value)`` pairs)."""
    symbol = f"{underlying}-USDT"
    mids = {"binance": D("1000.00"), "okx": D("1000.10"), "bybit": D("999.90"),
            "deribit": D("1030.00")}
    seq = dict.fromkeys(mids, 100)
    out: list[L2Update | tuple[bytes, bytes]] = [
        _l2(underlying, v, seq[v], start, m, snapshot=True) for v, m in mids.items()]
    for step in range(1, 41):
        ts = start + timedelta(seconds=0.3 * step)
        for venue, old in list(mids.items()):
            mids[venue] = new = old + (D("0.05") if step % 4 else D("-0.10"))
            seq[venue] += 1
            if venue == "okx" and step == 10:
                seq[venue] += 1  # the delta before this one was lost
            if venue in ("okx", "binance") and step in (15, 24):
                out.append(_l2(underlying, venue, seq[venue], ts, new, snapshot=True))
                continue
            out.append(_l2(underlying, venue, seq[venue], ts, new, old_mid=old))
            if venue == "binance" and step == 20:  # crossed: a bid above the ask
                seq[venue] += 1
                crossed = L2Update(event_id=f"binance:{symbol}:l2:{seq[venue]}", ts_event=ts,
                                   venue="binance", symbol=symbol, seq=seq[venue],
                                   snapshot=False, bids=[(new + 2, D(1))])
                out.append(crossed)
        if step == 5:
            out.append((symbol.encode(), b'{"venue": "okx", "symbol": "' + symbol.encode()
                         + b'", "seq": "x"}'))
            wrong = _l2(underlying, "okx", 1, ts, D(1))
            out.append((b"SOMETHING-USDT", L2.encode(wrong)))
    return out


def unique(msgs: list[Any]) -> list[Any]:
    """The first copy of each event id: any worker running these agents publishes the same
    events with the same ids (other suites' workers on the shared broker run them too)."""
    seen: set[str] = set()
    out = []
    for m in msgs:
        event_id = value(m).get("event_id") or f"{m.topic()}:{m.partition()}:{m.offset()}"
        if event_id not in seen:
            seen.add(event_id)
            out.append(m)
    return out


def _wire(items: list[Any]) -> list[dict[str, Any]]:
    return [i.model_dump(mode="json", exclude={"ts_init"}) for i in items]


def _no_init(msgs: list[Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in value(m).items() if k != "ts_init"} for m in msgs]


def test_index_books_feed_health_and_marks_from_venue_feeds(worker: Settings) -> None:
    underlying = _asset()
    symbol = f"{underlying}-USDT"
    feed = _venue_feed(underlying, datetime.now(UTC).replace(microsecond=0))
    expected = SymbolMarket(symbol, BookParams.from_settings(SETTINGS))
    for item in feed:
        if isinstance(item, L2Update):
            expected.apply(item)
    want = expected.drain()
    want_index = [o for o in want if isinstance(o, IndexPrice)]
    want_feed = [o for o in want if isinstance(o, FeedStateChanged)]
    want_books = [o for o in want if isinstance(o, BookUpdate) and o.source == "consolidated"]

    tail = Tail(worker, WATCHED)
    try:
        offsets = produce(worker, [
            (L2.name, *item) if isinstance(item, tuple)
            else (L2.name, symbol.encode(), L2.encode(item)) for item in feed])
        last_index = want_index[-1].event_id
        index = tail.collect(
            lambda m: m.topic() == "md.index" and m.key() == underlying.encode(),
            lambda got: any(value(m)["event_id"] == last_index for m in got))
        health = tail.collect(
            lambda m: m.topic() == "md.feed.status" and m.key() == symbol.encode(),
            lambda got: len(got) >= len(want_feed))
        books = tail.collect(
            lambda m: m.topic() == "md.book" and m.key() == symbol.encode()
            and value(m)["source"] == "consolidated",
            lambda got: len(got) >= len(want_books))
        letters = tail.collect(lambda m: m.topic() == "md.l2.dlq" and (
            m.key() in (symbol.encode(), b"SOMETHING-USDT")),
            lambda got: len({value(m)["reason"] for m in got}) >= 3)
        chain_size = OptionChain.build(underlying, listing_session(want_index[0].ts_event),
                                       D(1000), ChainParams.from_settings(SETTINGS)).size
        marks = tail.collect(
            lambda m: m.topic() == "md.marks" and m.key().startswith(f"{underlying}-".encode()),
            lambda got: len(got) >= chain_size)
    finally:
        tail.close()

    # the agent published exactly what the pure code computes from the same input
    assert _no_init(unique(index)) == _wire(want_index)
    assert _no_init(unique(health)) == _wire(want_feed)
    assert _no_init(unique(books)) == _wire(want_books)
    final = want_index[-1]
    assert final.exclusions == {"deribit": "outlier"}
    assert final.venues_used == ["binance", "bybit", "okx"]
    assert [(f.venue, f.state, f.reason) for f in want_feed] == [
        ("binance", "live", "snapshot"), ("okx", "live", "snapshot"),
        ("bybit", "live", "snapshot"), ("deribit", "live", "snapshot"),
        ("okx", "out_of_sync", "gap"), ("okx", "live", "snapshot"),
        ("binance", "out_of_sync", "crossed"), ("binance", "live", "snapshot")]
    assert [f.resync_requested for f in want_feed if f.state == "out_of_sync"] == [True, True]

    # dead letters: the invalid message, the wrong key and the crossed delta, with offsets
    by_reason = {value(m)["reason"]: value(m) for m in letters}  # copies are identical
    assert set(by_reason) == {"invalid", "wrong_key", "crossed"}
    raw_at = [n for n, item in enumerate(feed) if isinstance(item, tuple)]
    assert by_reason["invalid"]["source_offset"] == offsets[raw_at[0]]
    assert "seq: Input should be a valid integer" in by_reason["invalid"]["error"]
    assert by_reason["wrong_key"]["source_offset"] == offsets[raw_at[1]]
    assert by_reason["crossed"]["source_topic"] == "md.l2"

    # marks: a whole chain, equal to the pure chain marked from the same index. The chain is
    # listed around the first index a worker marked (several workers of other test suites
    # may run these agents on the shared broker too): find that listing among the indexes.
    by_id = {i.event_id: i for i in want_index}
    got = [by_name("md.marks").decode(m.value()) for m in unique(marks)]
    params = ChainParams.from_settings(SETTINGS)
    chains = [OptionChain.build(underlying, listing_session(i.ts_event), i.price, params)
              for i in want_index]
    checked = 0
    for cause in {m.causation_id for m in got}:
        group = {m.symbol: m for m in got if m.causation_id == cause}
        for chain in chains:
            if not {i.instrument_id for i in chain.instruments} <= set(group):
                continue
            for mark in chain.marks(by_id[cause or ""], surface_for(underlying)):
                assert group[mark.symbol].model_dump(exclude={"ts_init"}) == \
                    mark.model_dump(exclude={"ts_init"})
                checked += 1
            break
    assert checked >= chain_size  # at least one whole chain, mark for mark


def _alert(underlying: str, alert_id: str, threshold: str, command_id: str) -> SetPriceAlert:
    return SetPriceAlert(command_id=command_id, ts_sent=datetime.now(UTC), account="acc-7",
                         alert_id=alert_id, underlying=underlying, direction="above",
                         threshold=D(threshold))


def test_a_price_alert_notifies_once_per_crossing(worker: Settings) -> None:
    underlying = _asset()
    key = underlying.encode()
    tail = Tail(worker, WATCHED)
    try:
        first = _alert(underlying, "a", "1000", f"c-{underlying}-1")
        sentinel = _alert(underlying, "sentinel", "1050", f"c-{underlying}-2")
        offsets = produce(worker, [(ALERTS.name, key, ALERTS.encode(c))
                                   for c in (first, sentinel, first)]
                          + [(ALERTS.name, key, b'{"type": "set", "underlying": "' + key + b'"}')])
        letters = tail.collect(lambda m: m.topic() == "md.alerts.commands.dlq"
                               and m.key() == key,
                               lambda got: len({value(m)["reason"] for m in got}) >= 2)
        assert sorted({(value(m)["reason"], value(m)["source_offset"]) for m in letters}) == [
            ("duplicate", offsets[2]), ("invalid", offsets[3])]
        # the index goes 990 → crosses 1000 → hovers around it → 1060 (the sentinel fires)
        path = ["990", "995", "1001", "999.5", "1000.5", "999.8", "1002", "1020", "1060"]
        start = datetime.now(UTC)
        updates = []
        for n, mid in enumerate(path):
            for venue in ("okx", "bybit"):
                updates.append(_l2(underlying, venue, n + 1, start + timedelta(seconds=n),
                                   D(mid), snapshot=True))
        produce(worker, [(L2.name, f"{underlying}-USDT".encode(), L2.encode(u))
                         for u in updates])
        notes = tail.collect(lambda m: m.topic() == "risk.alerts" and m.key() == b"acc-7"
                             and underlying in value(m)["message"],
                             lambda got: any("sentinel" in value(m)["message"] for m in got))
    finally:
        tail.close()
    # the same notifications as the pure code gives for the index of these books
    market = SymbolMarket(f"{underlying}-USDT", BookParams.from_settings(SETTINGS))
    for u in updates:
        market.apply(u)
    book = AlertBook(underlying)
    book.command(first)
    book.command(sentinel)
    want = [n for i in market.drain() if isinstance(i, IndexPrice) for n in book.on_index(i)]
    assert _no_init(unique(notes)) == _wire(want)
    assert [n.message.rsplit(" ", 2)[-1] for n in want] == ["a)", "sentinel)"]  # once each


def test_rollups_of_one_minute_candles_equal_the_five_minute_candles(worker: Settings) -> None:
    symbol = f"{_asset()}-USDT"
    start = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    ticks = [Tick(event_id=f"okx:{symbol}:{i}", ts_event=start + timedelta(seconds=2 * i),
                  venue="okx", symbol=symbol, trade_id=i, price=D(1000 + (i * 37) % 101),
                  qty=D(1 + i % 7) / 10, side="buy") for i in range(330)]  # 11 minutes
    closer = Tick(event_id=f"okx:{symbol}:999", ts_event=start + timedelta(minutes=13),
                  venue="okx", symbol=symbol, trade_id=999, price=D(1000), qty=D(1),
                  side="sell")
    spec = by_name("md.ticks")
    tail = Tail(worker, WATCHED)
    try:
        produce(worker, [(spec.name, symbol.encode(), spec.encode(t)) for t in [*ticks, closer]])
        finals = tail.collect(
            lambda m: m.topic() == "md.candles" and m.key() == symbol.encode()
            and value(m)["interval"] == "5m" and value(m)["final"],
            lambda got: len({value(m)["event_id"] for m in got}) >= 2)
    finally:
        tail.close()
    got = {value(m)["window_start"]: value(m) for m in finals}
    for minutes in (0, 5):
        window = start + timedelta(minutes=minutes)
        inside = [t for t in ticks if window <= t.ts_event < window + timedelta(minutes=5)]
        candle = got[window.isoformat(timespec="microseconds").replace("+00:00", "Z")]
        volume = sum(t.qty for t in inside)
        notional = sum(t.price * t.qty for t in inside)
        assert D(candle["open"]) == inside[0].price and D(candle["close"]) == inside[-1].price
        assert D(candle["high"]) == max(t.price for t in inside)
        assert D(candle["low"]) == min(t.price for t in inside)
        assert (D(candle["volume"]), D(candle["notional"])) == (volume, notional)
        assert candle["trades"] == len(inside)
        assert D(candle["vwap"]) == (notional / volume).quantize(D("1e-8"))


def test_the_simulator_feed_adapter_drives_index_books_and_marks(worker: Settings) -> None:
    """The simulator, as a feed adapter through the publisher: books coherent with its trades,
    lost deltas (resyncs) and a rogue venue; the agents' output equals the pure code's."""
    from streams.kafka import make_producer
    from streams.marketdata.feeds import publish_feed
    from streams.marketdata.simulator import SimulatorConfig, SimulatorFeed, generate_market

    assets = (_asset(), _asset())
    cfg = SimulatorConfig(rate=200, count=1500, speed=20, seed=11,
                          start=datetime.now(UTC).replace(microsecond=0), l2=True,
                          snapshot_every=20, gap_every=45, rogue_venue="bybit", assets=assets)
    markets: dict[str, SymbolMarket] = {}
    for item in generate_market(cfg):
        if isinstance(item, L2Update):
            markets.setdefault(item.symbol, SymbolMarket(
                item.symbol, BookParams.from_settings(SETTINGS))).apply(item)
    want = {u: [o for o in markets[f"{u}-USDT"].drain() if isinstance(o, IndexPrice)]
            for u in assets}
    assert all(w[-1].exclusions.get("bybit") == "outlier" for w in want.values())
    tail = Tail(worker, WATCHED)
    try:
        sent = publish_feed(make_producer(worker), SimulatorFeed(cfg), speed=0)
        assert sent["ticks"] == 1500 and sent["l2"] > 1000
        index = tail.collect(
            lambda m: m.topic() == "md.index" and m.key().decode() in assets,
            lambda got: {value(m)["event_id"] for m in got}
            >= {w[-1].event_id for w in want.values()})
        resyncs = tail.collect(
            lambda m: m.topic() == "md.feed.status" and m.key().decode().split("-")[0] in assets
            and value(m)["resync_requested"], lambda got: len(got) >= 2)
        marks = tail.collect(
            lambda m: m.topic() == "md.marks" and m.key().decode().split("-")[0] in assets,
            lambda got: {value(m)["symbol"].split("-")[0] for m in got} == set(assets))
    finally:
        tail.close()
    for u in assets:
        got = [m for m in unique(index) if value(m)["underlying"] == u]
        assert _no_init(got) == _wire(want[u])
    assert all(value(m)["reason"] == "gap" for m in resyncs)
    assert all(D(value(m)["underlying_price"]) > 0 for m in marks)
