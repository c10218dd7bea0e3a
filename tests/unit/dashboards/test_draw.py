"""The preview renderer drawing as Grafana does (issue #14): time axes, gaps, bars, tables,
repeated panels, depth labels. Real matplotlib (Agg), no database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.dates import num2date
from matplotlib.patches import Rectangle

from dashboards.boards.market import MARKET
from dashboards.boards.trading import TRADING
from dashboards.draw import (
    MAX_TICK_LABELS,
    NO_DATA,
    Window,
    cell,
    draw_panel,
    thin_labels,
    time_limits,
    with_gaps,
)
from dashboards.model import Panel
from dashboards.render import layout, query_panels, repeat_width

T = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 3, tzinfo=UTC)


@pytest.fixture
def ax() -> Iterator[Any]:
    fig = plt.figure()
    yield fig.add_subplot(1, 1, 1)
    plt.close(fig)


def _panel(title: str) -> Panel:
    return next(p for d in (MARKET, TRADING) for p in d.panels if p.title.startswith(title))


def test_one_point_spans_minutes_not_years() -> None:
    lo, hi = time_limits(pd.Series([pd.Timestamp(T)]), Window(now=NOW))  # type: ignore[misc]
    assert lo < pd.Timestamp(T) < hi
    assert timedelta(minutes=10) <= hi - lo <= timedelta(minutes=11)


def test_bad_timestamps_do_not_stretch_the_axis() -> None:
    times = pd.Series(pd.to_datetime(["1970-01-01", T, T + timedelta(minutes=30),
                                      "2199-01-01"], utc=True))
    lo, hi = time_limits(times, Window(now=NOW))  # type: ignore[misc]
    assert pd.Timestamp(T) - timedelta(minutes=2) < lo < pd.Timestamp(T)
    assert pd.Timestamp(T) + timedelta(minutes=30) < hi < pd.Timestamp(T) + timedelta(minutes=32)


def test_a_given_time_range_is_the_axis() -> None:
    window = Window(T, T + timedelta(hours=6), 60, NOW)
    times = pd.Series([pd.Timestamp(T + timedelta(minutes=5))])
    assert time_limits(times, window) == (pd.Timestamp(T), pd.Timestamp(T + timedelta(hours=6)))


def test_drawn_time_axis_of_a_single_bucket(ax: Any) -> None:
    panel = next(p for p in TRADING.panels if p.title == "Trades per second")
    frame = pd.DataFrame({"time": [pd.Timestamp(T), pd.Timestamp(0, tz="UTC")],
                          "symbol": ["BTC-USDT", "BTC-USDT"], "trades_per_s": [2.0, 9.0]})
    draw_panel(ax, panel, panel.title, frame, "", Window(now=NOW))
    lo, hi = (num2date(x) for x in ax.get_xlim())
    assert hi - lo < timedelta(hours=1)
    assert "1 point(s) with a bad timestamp" in " ".join(t.get_text() for t in ax.texts)


def test_a_line_is_broken_across_missing_buckets() -> None:
    frame = pd.DataFrame({"time": [pd.Timestamp(T + timedelta(minutes=m)) for m in (0, 1, 9)],
                          "value": [1.0, 2.0, 3.0]})
    out = with_gaps(frame, 120)
    assert len(out) == 4 and out["value"].isna().tolist() == [False, False, True, False]
    assert with_gaps(frame, 0) is frame


def test_volume_is_stacked_bars_not_a_line_down_to_zero(ax: Any) -> None:
    panel = _panel("Traded notional per interval")
    assert panel.style == "bars"
    frame = pd.DataFrame({
        "time": [pd.Timestamp(T), pd.Timestamp(T), pd.Timestamp(T + timedelta(minutes=7))],
        "symbol": ["BTC-USDT", "ETH-USDT", "BTC-USDT"],
        "notional": [Decimal("100"), Decimal("50"), Decimal("20")]})
    draw_panel(ax, panel, panel.title, frame, "", Window(now=NOW))
    assert not ax.lines  # nothing drawn between the buckets
    bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_height() > 0]
    assert sorted(b.get_height() for b in bars) == [20.0, 50.0, 100.0]
    eth = next(b for b in bars if b.get_height() == 50.0)
    assert eth.get_y() == 100.0  # stacked on BTC's bar of the same bucket


def test_an_empty_value_reads_no_data_not_an_age_from_epoch() -> None:
    assert [cell(v) for v in (None, float("nan"), pd.NaT)] == [NO_DATA] * 3
    assert cell(Decimal("1.50")) == "1.5" and cell(0) == "0"


def test_many_price_levels_show_a_readable_subset_of_labels(ax: Any) -> None:
    assert len([n for n in thin_labels([str(i) for i in range(80)]) if n]) <= MAX_TICK_LABELS
    panel = _panel("Resting depth")
    frame = pd.DataFrame({"price": [str(90000 + i) for i in range(40)],
                          "bids": [Decimal(1)] * 20 + [None] * 20,
                          "asks": [None] * 20 + [Decimal(2)] * 20})
    draw_panel(ax, panel, "Resting depth · BTC-USDT", frame, "", Window(now=NOW))
    shown = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert 0 < len(shown) <= MAX_TICK_LABELS
    bids, asks = ax.containers  # one colour per side, each level's bar of its own side
    assert (bids.get_label(), asks.get_label()) == ("bids", "asks")
    assert bids.patches[0].get_facecolor() != asks.patches[0].get_facecolor()
    assert [p.get_height() for p in bids.patches[:21]] == [1.0] * 20 + [0.0]
    assert [p.get_height() for p in asks.patches[19:21]] == [0.0, 2.0]


def _reader(values: list[str]) -> Any:
    """SQL in, rows out: the variable's values, or the one series the panel selected."""

    def read(sql: str) -> pd.DataFrame:
        if "DISTINCT" in sql:
            return pd.DataFrame({"value": values})
        chosen = next(v for v in values if f"'{v}'" in sql)
        price = {"BTC": 90000.0, "ETH": 3000.0}[chosen]
        return pd.DataFrame({"time": [pd.Timestamp(T)], "underlying": [chosen],
                             "price": [price]})

    return read


def test_prices_of_different_scale_get_a_panel_each() -> None:
    panel = _panel("Index price")
    assert panel.repeat is not None and panel.repeat.variable == "underlying"
    data = query_panels(MARKET, _reader(["BTC", "ETH"]), "sf")
    copies = [d for d in data if d.panel is panel]
    assert [c.title for c in copies] == ["Index price · BTC", "Index price · ETH"]
    assert [c.frame["price"].tolist() for c in copies] == [[90000.0], [3000.0]]  # type: ignore[index]
    assert all(c.width == 12 for c in copies)


def test_every_price_panel_of_the_market_board_is_one_series_per_axis() -> None:
    for panel in MARKET.panels:
        if isinstance(panel, Panel) and panel.kind == "timeseries" and panel.unit == "USDT":
            assert panel.repeat is not None, panel.title


def test_repeated_copies_take_rows_of_their_own() -> None:
    assert repeat_width(2, 12) == 12 and repeat_width(1, 12) == 24 and repeat_width(9, 8) == 8
    data = query_panels(MARKET, _reader(["BTC", "ETH"]), "sf")
    rows = layout([d for d in data if d.panel.title.startswith(("Close", "Index"))])
    assert [[d.title for d in row] for row in rows][1:] == [
        ["Index price · BTC", "Index price · ETH"], ["Index basis to venue prints (bps)"]]
