"""What ClickHouse holds, for the end of the demo: rows per table (de-duplicated), dead
letters, our venue's trading, fees and the settlement reconciliation, in one rich table."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table as RichTable

from analytics.query import QueryError, session
from analytics.reports.model import Fetch, fmt
from infra.settings import Settings
from sinks.clickhouse import MAPPINGS

__all__ = ["build", "render"]


def build(fetch: Fetch, db: str = "strikeflow") -> Group:
    """The renderable, from any query function (pure apart from ``fetch``)."""
    counts = RichTable(title="ClickHouse: rows per table (FINAL, replays collapsed)")
    counts.add_column("topic")
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    topics: dict[str, list[str]] = {}
    for m in MAPPINGS:
        topics.setdefault(m.table, []).append(m.topic)
    union = " UNION ALL ".join(f"SELECT '{t}' AS t, count() AS n FROM {db}.{t} FINAL"
                               for t in topics)
    rows = dict(fetch(union).rows)
    for table, sources in topics.items():
        label = sources[0] if len(sources) == 1 else f"<input>.dlq ({len(sources)} topics)"
        counts.add_row(label, table, str(rows.get(table, 0)))
    dead = fetch(f"SELECT count() FROM {db}.sink_dead_letters FINAL").rows[0][0]
    counts.add_row("(refused or invalid)", "sink_dead_letters", str(dead))

    trading = RichTable(title="Our venue by instrument (all days)")
    for col in ("symbol", "trades", "volume", "notional", "vwap", "fees"):
        trading.add_column(col, justify="left" if col == "symbol" else "right")
    for row in fetch(
            f"SELECT t.symbol, t.trades, t.volume, t.notional, t.vwap, ifNull(f.fees, 0) FROM "
            f"(SELECT symbol, sum(trades) AS trades, sum(volume) AS volume, "
            f"sum(notional) AS notional, CAST(toDecimal256(notional, 36) / volume "
            f"AS Decimal(38, 18)) AS vwap FROM {db}.trading_daily GROUP BY symbol) AS t "
            f"LEFT JOIN (SELECT symbol, sum(fees) AS fees FROM {db}.fees_daily GROUP BY symbol)"
            f" AS f ON f.symbol = t.symbol ORDER BY t.notional DESC LIMIT 10").rows:
        trading.add_row(*(fmt(v) for v in row))

    recon = RichTable(title="Settlement reconciliation (open orders booked once, same premium)")
    recon.add_column("status")
    recon.add_column("orders", justify="right")
    for status, n in fetch(f"SELECT status, count() FROM {db}.settlement_reconciliation "
                           f"GROUP BY status ORDER BY status").rows:
        recon.add_row(status, str(n))
    return Group(counts, trading, recon)


def render(settings: Settings) -> Group | str:
    """Through the running sink if there is one, else the store; a message if it fails."""
    try:
        with session(settings) as fetch:
            return build(fetch, settings.clickhouse.database)
    except QueryError as exc:
        return f"ClickHouse summary unavailable: {exc}"
