"""All venues of a symbol: feed health, consolidated book and ladders, index, rate bounds."""

from __future__ import annotations

import json
import random
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.marketdata.l2book import L2Verdict
from streams.marketdata.market import BookParams, MarketOutput, SymbolMarket, underlying_of
from streams.marketdata.simulator import SimulatorConfig, generate_market
from topics.catalogue import by_name
from topics.contracts import BookUpdate, IndexPrice, L2Update
from topics.contracts.marketdata import FeedStateChanged

from .md_support import T0, l2, snap

D = Decimal
EVERY = BookParams(stale_after_s=5, outlier_bps=D(50), min_venues=2, index_interval_s=0,
                   book_interval_s=0, depth=10)


def kinds(out: list[MarketOutput], kind: type) -> list:  # type: ignore[type-arg]
    return [o for o in out if isinstance(o, kind)]


def test_underlying_of_spot_symbols_only() -> None:
    assert underlying_of("BTC-USDT") == "BTC"
    assert underlying_of("BTC-20261225-100000-C") is None
    assert underlying_of("BTC-USDC") is None


def test_consolidated_book_sums_live_venues_and_each_venue_has_its_ladder() -> None:
    m = SymbolMarket("BTC-USDT", EVERY)
    m.apply(snap("okx", 1, 0, "100", size="1"))
    m.apply(snap("binance", 1, 0.1, "100", size="2"))
    out = m.drain()
    book = kinds(out, BookUpdate)
    consolidated = [b for b in book if b.source == "consolidated"][-1]
    assert consolidated.bids == [(D("99.5"), D(3)), (D("99"), D(3))]
    assert consolidated.asks == [(D("100.5"), D(3)), (D("101"), D(3))]
    assert consolidated.notional_bid == D("99.5") * 3 + D("99") * 3
    ladders = {b.source: b for b in book if b.source != "consolidated"}
    assert ladders["binance"].bids[0] == (D("99.5"), D(2)) and ladders["binance"].seq == 1
    seqs = [b.seq for b in book if b.source == "consolidated"]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_a_gap_publishes_one_resync_request_and_the_book_leaves_the_consolidated_view() -> None:
    m = SymbolMarket("BTC-USDT", EVERY)
    m.apply(snap("okx", 1, 0, "100"))
    m.apply(snap("binance", 1, 0, "100"))
    m.drain()
    assert m.apply(l2("okx", 3, 1, bids=[("99.5", "9")])) is L2Verdict.GAP
    out = m.drain()
    (feed,) = kinds(out, FeedStateChanged)
    assert (feed.venue, feed.state, feed.reason, feed.resync_requested) == (
        "okx", "out_of_sync", "gap", True)
    assert (feed.last_seq, feed.received_seq) == (1, 3)
    consolidated = [b for b in kinds(out, BookUpdate) if b.source == "consolidated"][-1]
    assert consolidated.bids[0] == (D("99.5"), D(1))  # binance's size only
    okx = [b for b in kinds(out, BookUpdate) if b.source == "okx"][-1]
    assert okx.bids == [] and okx.asks == []
    # more deltas: ignored, no new request until stale_after_s has passed (a lost request)
    m.apply(l2("okx", 4, 2, bids=[("99", "1")]))
    assert kinds(m.drain(), FeedStateChanged) == []
    m.apply(l2("binance", 2, 6.0, bids=[("99", "1")]))
    m.apply(l2("okx", 5, 6.5, bids=[("99", "1")]))
    again = kinds(m.drain(), FeedStateChanged)
    assert [(f.venue, f.state, f.reason) for f in again] == [("okx", "out_of_sync", "gap")]
    m.apply(snap("okx", 9, 7, "100"))
    back = kinds(m.drain(), FeedStateChanged)
    assert [(f.venue, f.state, f.reason, f.resync_requested) for f in back] == [
        ("okx", "live", "snapshot", False)]


def test_a_silent_venue_goes_stale_leaves_the_index_and_comes_back() -> None:
    m = SymbolMarket("BTC-USDT", EVERY)
    for venue, mid in (("okx", "100"), ("binance", "100.2"), ("bybit", "100.1")):
        m.apply(snap(venue, 1, 0, mid))
    m.drain()
    m.apply(l2("binance", 2, 4.9, bids=[("99", "1")]))
    m.apply(l2("okx", 2, 5.0, bids=[("99", "1")]))
    assert kinds(m.drain(), FeedStateChanged) == []  # 5.0 s silent is not yet stale
    m.apply(l2("okx", 3, 5.2, bids=[("99", "2")]))
    out = m.drain()
    (stale,) = kinds(out, FeedStateChanged)
    assert (stale.venue, stale.state, stale.reason) == ("bybit", "stale", "silent")
    index = kinds(out, IndexPrice)[-1]
    assert index.venues_used == ["binance", "okx"] and index.exclusions == {"bybit": "stale"}
    assert index.price == D("100.1")
    m.apply(l2("bybit", 2, 5.3, asks=[("100.6", "1")]))
    back = m.drain()
    assert [(f.venue, f.state, f.reason) for f in kinds(back, FeedStateChanged)] == [
        ("bybit", "live", "resumed")]
    assert kinds(back, IndexPrice)[-1].venues_used == ["binance", "bybit", "okx"]


def test_outlier_venue_is_excluded_from_the_index_with_its_reason() -> None:
    m = SymbolMarket("BTC-USDT", EVERY)
    for venue, mid in (("okx", "100"), ("binance", "100.1"), ("bybit", "103")):
        m.apply(snap(venue, 1, 0, mid))
    out = m.drain()
    index = kinds(out, IndexPrice)[-1]
    assert index.price == D("100.05") and index.exclusions == {"bybit": "outlier"}
    assert index.venues_excluded == ["bybit"] and index.underlying == "BTC"
    # nor is it in the consolidated book (its own ladder is still published)
    books = kinds(out, BookUpdate)
    consolidated = [b for b in books if b.source == "consolidated"][-1]
    assert consolidated.bids[0] == (D("99.6"), D(1)) and consolidated.asks[0][0] == D("100.5")
    assert [b for b in books if b.source == "bybit"][-1].bids[0][0] == D("102.5")


def test_index_is_published_at_a_bounded_rate_and_only_when_it_changed() -> None:
    params = BookParams(stale_after_s=5, min_venues=1, index_interval_s=1.0,
                        book_interval_s=1.0)
    m = SymbolMarket("BTC-USDT", params)
    m.apply(snap("okx", 1, 0, "100"))
    for i in range(1, 40):  # 10 updates a second for 4 seconds, the mid moving each time
        m.apply(l2("okx", 2 * i, i / 10, bids=[(str(100 + i), "0")]))
        m.apply(snap("okx", 2 * i + 1, i / 10, str(100 + i)))
    out = m.drain()
    times = [(o.ts_event - T0).total_seconds() for o in kinds(out, IndexPrice)]
    assert times == [0, 1.0, 2.0, 3.0]
    books = [(o.ts_event - T0).total_seconds() for o in kinds(out, BookUpdate)
             if o.source == "consolidated"]
    assert books == [0, 1.0, 2.0, 3.0]
    # the latest mid (139, at 3.9 s) waited for the interval; it goes with the next update
    m.apply(snap("okx", 100, 10, "139"))
    m.apply(snap("okx", 101, 11, "139"))  # unchanged: not published again
    late = kinds(m.drain(), IndexPrice)
    assert [(i.price, (i.ts_event - T0).total_seconds()) for i in late] == [(139, 10.0)]


def test_no_index_for_option_symbols_or_too_few_venues() -> None:
    option = SymbolMarket("BTC-20261225-100000-C", EVERY)
    option.apply(snap("okx", 1, 0, "100", symbol="BTC-20261225-100000-C"))
    option.apply(snap("bybit", 1, 0, "100", symbol="BTC-20261225-100000-C"))
    assert kinds(option.drain(), IndexPrice) == []
    lonely = SymbolMarket("BTC-USDT", EVERY)
    lonely.apply(snap("okx", 1, 0, "100"))
    assert kinds(lonely.drain(), IndexPrice) == []


def _feed(n: int, seed: int) -> list[L2Update]:
    cfg = SimulatorConfig(rate=100, count=n, speed=10, seed=seed, start=T0, l2=True,
                          gap_every=37, snapshot_every=25)
    return [i for i in generate_market(cfg) if isinstance(i, L2Update)
            and i.symbol == "BTC-USDT"]


def _wire(outs: list[MarketOutput]) -> list[dict]:  # type: ignore[type-arg]
    return [o.model_dump(mode="json", exclude={"ts_init"}) for o in outs]


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 10_000), st.lists(st.integers(1, 60), min_size=1, max_size=10))
def test_output_does_not_depend_on_batches_or_restarts(seed: int, cuts: list[int]) -> None:
    """Draining (a batch end) or persisting and reloading (a restart) anywhere: same output."""
    updates = _feed(400, seed)
    params = BookParams(stale_after_s=2, index_interval_s=0.5, book_interval_s=0.25)
    whole = SymbolMarket("BTC-USDT", params)
    for u in updates:
        whole.apply(u)
    expected = _wire(whole.drain())

    got: list[MarketOutput] = []
    market = SymbolMarket("BTC-USDT", params)
    rng = random.Random(seed)
    for n, u in enumerate(updates):
        market.apply(u)
        if n % cuts[n % len(cuts)] == 0:
            got += market.drain()
            if rng.random() < 0.5:
                market = SymbolMarket.from_state(json.loads(json.dumps(market.to_state())),
                                                 params)
    got += market.drain()
    assert _wire(got) == expected


def test_simulated_feed_gives_valid_contracts_and_excludes_the_rogue_venue() -> None:
    cfg = SimulatorConfig(rate=100, count=1500, speed=10, seed=3, start=T0, l2=True,
                          rogue_venue="bybit", rogue_bps=150)
    markets: dict[str, SymbolMarket] = {}
    out: list[MarketOutput] = []
    for item in generate_market(cfg):
        if isinstance(item, L2Update):
            market = markets.setdefault(item.symbol, SymbolMarket(item.symbol))
            assert market.apply(item) in (L2Verdict.SNAPSHOT, L2Verdict.APPLIED)
            out += market.drain()
    topic = {BookUpdate: "md.book", IndexPrice: "md.index", FeedStateChanged: "md.feed.status"}
    for o in out[::7] + kinds(out, IndexPrice) + kinds(out, FeedStateChanged):
        spec = by_name(topic[type(o)])
        assert spec.decode(spec.encode(o)) == o
    last = {i.underlying: i for i in kinds(out, IndexPrice)}
    assert set(last) == {"BTC", "ETH"}
    for index in last.values():
        assert index.exclusions == {"bybit": "outlier"}
        assert index.venues_used == ["binance", "deribit", "okx"]
