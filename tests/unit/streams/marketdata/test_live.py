"""The live view folds the market-data topics and renders index, ladder and marks."""

from __future__ import annotations

import json
from datetime import timedelta

from rich.console import Console

from streams.marketdata.live import MarketView
from streams.marketdata.market import BookParams, MarketOutput, SymbolMarket
from streams.marketdata.marks import UnderlyingMarks
from topics.contracts import BookUpdate, IndexPrice, OptionMark

from .md_support import T0, l2, snap


def _fold(view: MarketView, outs: list[MarketOutput | OptionMark]) -> None:
    topic = {BookUpdate: "md.book", IndexPrice: "md.index", OptionMark: "md.marks"}
    for o in outs:
        view.add(topic.get(type(o), "md.feed.status"), json.loads(o.model_dump_json()))


def _render(view: MarketView) -> str:
    console = Console(width=160, record=True)
    console.print(view.renderable(depth=3, marks=4))
    return console.export_text()


def test_view_shows_index_ladder_marks_and_unhealthy_feeds() -> None:
    market = SymbolMarket("BTC-USDT", BookParams(index_interval_s=0, book_interval_s=0))
    market.apply(snap("okx", 1, 0, "91000", size="1.5"))
    market.apply(snap("binance", 1, 0.1, "91000.2", half="0.1", size="0.25"))
    market.apply(snap("bybit", 1, 0.2, "91500"))  # an outlier
    market.apply(l2("deribit", 7, 0.3, bids=[("90999", "1")]))  # no snapshot: out of sync
    outs: list[MarketOutput | OptionMark] = list(market.drain())
    index = [o for o in outs if isinstance(o, IndexPrice)][-1]
    outs += UnderlyingMarks("BTC").offer(index, now_wall=1.0)
    view = MarketView()
    _fold(view, outs)
    view.add("md.index", {"underlying": "XYZ", "ts_event": "x"})  # not watched: ignored
    text = _render(view)
    assert "91,000.10" in text and "bybit (outlier)" in text
    assert "deribit (out_of_sync)" in text
    assert "BTC-USDT consolidated book" in text
    header = next(line for line in text.splitlines() if "price" in line and "total" in line)
    assert [w for w in header.split() if w.isalpha()][-3:] == ["binance", "bybit", "okx"]
    assert "91000.1" in text and "0.2500" in text  # binance's best bid at its ladder column
    assert "feeds not live: deribit@BTC-USDT out_of_sync (no_snapshot)" in text
    assert text.count("BTC-2026") == 4  # four marks around the money, nearest expiry
    assert "ETH" in text  # the index table lists every watched underlying


def test_newer_event_time_wins_whatever_the_read_order() -> None:
    view = MarketView(("BTC",))
    base = {"underlying": "BTC", "venues_used": ["okx"], "exclusions": {}}
    new = base | {"price": "2", "ts_event": (T0 + timedelta(seconds=1)).isoformat()}
    old = base | {"price": "1", "ts_event": T0.isoformat()}
    view.add("md.index", new)
    view.add("md.index", old)
    assert view.index["BTC"]["price"] == "2"
