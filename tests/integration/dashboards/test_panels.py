"""Every panel of every dashboard, its SQL run against a real embedded ClickHouse (chDB in a
temporary directory, migrations applied) holding a seeded sample: the columns it promises, and
rows. Then the PNG previews from the same queries."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from confluent_kafka import Message

from analytics.migrate import migrate
from analytics.quality.check import run_checks
from analytics.quality.screen import screen
from analytics.quality.store import parquet_reader, save_results
from dashboards.boards import DASHBOARDS
from dashboards.model import Dashboard, Panel
from dashboards.render import render_all
from dashboards.sql import expand
from sinks.clickhouse import MAPPINGS
from tests.integration.analytics.seed import _candles, seed

pytestmark = pytest.mark.clickhouse
DB = "strikeflow"
PANELS = [(d, p) for d in DASHBOARDS for p in d.panels if isinstance(p, Panel)]


def _quarantine_something(client: Any) -> None:
    """A batch with a bad candle through the sink's screen, into the real tables."""
    mapping = next(m for m in MAPPINGS if m.table == "candles")
    rows = [mapping.to_row(c) for c in _candles()[:3]]
    rows[1][mapping.columns.index("vwap")] = Decimal("1")  # below the low
    data = [(r, Message(topic="md.candles", partition=0, offset=i, key=b"BTC-USDT",
                        value=b"{}")) for i, r in enumerate(rows)]
    _, held = screen({"candles": data}, MAPPINGS)
    assert len(held) == 1
    held.insert(lambda table, cols, rows_: client.insert(f"{DB}.{table}", rows_,
                                                        column_names=list(cols)))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import clickhouse_connect

    path = tmp_path_factory.mktemp("dashboards") / "clickhouse"
    client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
    migrate(client, DB)
    seed(client, DB)
    _quarantine_something(client)
    read = parquet_reader(lambda sql: bytes(client.raw_query(sql, fmt="Parquet")))
    save_results(client, DB, run_checks(read, DB, settle_s=0))
    yield client
    client.close()


def _read(client: Any) -> Any:
    return parquet_reader(lambda sql: bytes(client.raw_query(sql, fmt="Parquet")))


@pytest.mark.parametrize(("dashboard", "panel"), PANELS,
                         ids=[f"{d.uid}:{p.title}" for d, p in PANELS])
def test_panel_sql_returns_its_columns_and_rows(store: Any, dashboard: Dashboard,
                                                panel: Panel) -> None:
    variables = None
    if panel.repeat:  # one copy per value: the values, then the first copy's rows
        values = _read(store)(expand(panel.repeat.values_sql, DB))
        assert len(values) > 0, f"{panel.title}: no {panel.repeat.variable}"
        variables = {panel.repeat.variable: str(values.iloc[0, 0])}
    frame: pd.DataFrame = _read(store)(expand(panel.sql, DB, variables=variables))
    assert tuple(frame.columns) == panel.columns
    assert len(frame) > 0, f"{dashboard.uid}: {panel.title} returned no rows"
    if panel.kind == "timeseries":
        assert pd.api.types.is_datetime64_any_dtype(frame["time"])
    if "basis_bps" in frame:  # the sample's index sits 0.2% above the venues' close
        assert frame["basis_bps"].between(19, 21).all(), frame["basis_bps"].tolist()


def test_every_dashboard_has_a_panel_of_each_table_it_promises() -> None:
    sql = " ".join(p.sql for _, p in PANELS)
    for table in ("candles", "index_prices", "option_marks", "trades", "order_events",
                  "positions", "risk_alerts", "settlement_orders", "settlement_results",
                  "hedges", "expiries", "sink_dead_letters", "quarantine", "quality_results"):
        assert f"{{db}}.{table}" in sql, table


def test_render_writes_a_png_per_dashboard_with_every_panel_drawn(store: Any,
                                                                   tmp_path: Path) -> None:
    done = render_all(_read(store), DB, tmp_path)
    assert set(done) == {d.uid for d in DASHBOARDS}
    assert done.pop("strikeflow-health") == (None, 0)  # Prometheus: not without its URL
    for path, failed in done.values():
        assert failed == 0 and path is not None
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 20_000


def test_an_empty_table_has_no_age_and_dead_letters_are_counted(store: Any) -> None:
    """Freshness of a table with no rows is NULL ("no data"), not 56 years since 1970; the
    sample's one dead letter is counted by topic and reason."""
    pipeline = next(d for d in DASHBOARDS if d.uid == "strikeflow-pipeline")
    freshness, dead = pipeline.panels[0], pipeline.panels[1]
    assert isinstance(freshness, Panel) and isinstance(dead, Panel)
    migrate(store, "empty_for_freshness")
    try:
        rows = _read(store)(expand(freshness.sql, "empty_for_freshness"))
    finally:
        store.command("DROP DATABASE empty_for_freshness")
    assert (rows["rows"] == 0).all() and rows["age_s"].isna().all(), rows
    assert rows["newest"].isna().all()
    seeded = _read(store)(expand(freshness.sql, DB))
    assert seeded["age_s"].between(0, 3600).all(), seeded
    store.command(  # an agent's dead letter, as the sink writes one from md.ticks.dlq
        f"INSERT INTO {DB}.stream_dead_letters SELECT 'md.ticks.dlq', 'md.ticks', 0, 7, 'BTC', "
        "'{}', 'future', 'ts_event ahead of the venue clock', now64(6)")
    counted = _read(store)(expand(dead.sql, DB))
    assert sorted(counted[["topic", "reason", "dead_letters"]].values.tolist()) == [
        ["md.ticks.dlq", "future", 1], ["sink: md.ticks", "invalid", 1]]


def test_depth_is_per_symbol_and_nearest_the_touch(store: Any) -> None:
    from dashboards.boards.trading import DEPTH_LEVELS, TRADING

    depth = next(p for p in TRADING.panels if isinstance(p, Panel) and p.repeat)
    assert depth.repeat is not None
    symbols = _read(store)(expand(depth.repeat.values_sql, DB))["value"].tolist()
    for symbol in symbols:
        rows = _read(store)(expand(depth.sql, DB, variables={depth.repeat.variable: symbol}))
        assert 0 < len(rows) <= 2 * DEPTH_LEVELS
        prices = [float(p) for p in rows["price"]]
        assert prices == sorted(prices)
        bids = [p for p, b in zip(prices, rows["bids"], strict=True) if b and b > 0]
        asks = [p for p, a in zip(prices, rows["asks"], strict=True) if a and a > 0]
        assert not bids or not asks or max(bids) < min(asks), (symbol, bids, asks)


def test_a_panel_whose_table_is_missing_is_drawn_as_an_error(store: Any,
                                                              tmp_path: Path) -> None:
    store.command(f"RENAME TABLE {DB}.hedges TO {DB}.hedges_away")
    try:
        done = render_all(_read(store), DB, tmp_path)
    finally:
        store.command(f"RENAME TABLE {DB}.hedges_away TO {DB}.hedges")
    assert done["strikeflow-settlement"][1] == 2  # slippage and notional by venue
    assert done["strikeflow-market"][1] == 0
