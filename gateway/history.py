"""What traders look back at, read from ClickHouse through the sink's read-only front as the
analyst user: order history, fills, ledger balance and net deposits, candles, statements.

Every value put into SQL is an account id the gateway authenticated (the contracts' pattern),
a symbol that matched its pattern, or a number, and is quoted as a ClickHouse literal.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from analytics.query import QueryError, parse_typed, query_rows, session, via_running_sink
from analytics.reports.model import quote
from analytics.reports.render import to_csv
from analytics.reports.statement import statement
from infra.settings import Settings

__all__ = ["balance", "candles", "fills", "order", "orders", "statement_csv"]

_INTERVALS = ("1m", "5m", "15m", "1h")


def _rows(settings: Settings, sql: str) -> list[dict[str, Any]]:
    """Rows from the running sink's front (the embedded store belongs to the sink: the
    gateway never opens it), or from a ClickHouse server."""
    if not settings.clickhouse_dsn.startswith("chdb://"):
        return query_rows(settings, sql)
    raw = via_running_sink(settings, sql, "JSONCompactEachRowWithNamesAndTypes")
    if raw is None:
        raise QueryError("no ClickHouse sink is running")
    table = parse_typed(raw)
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


def _db(settings: Settings) -> str:
    return settings.clickhouse.database


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (format(v, "f") if isinstance(v, Decimal) else
                v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


def _orders_sql(settings: Settings, where: str, limit: int) -> str:
    return (
        "SELECT client_order_id, any(symbol) AS symbol, "
        "argMax(kind, (ts_event, seq)) AS status, any(order_id) AS order_id, "
        "anyIf(side, side IS NOT NULL) AS side, anyIf(order_type, order_type IS NOT NULL) "
        "AS order_type, argMaxIf(price, (ts_event, seq), kind IN ('accepted', 'amended')) "
        "AS price, argMaxIf(qty, (ts_event, seq), kind IN ('accepted', 'amended', "
        "'rejected')) AS qty, sumIf(qty, kind IN ('partially_filled', 'filled')) AS filled_qty, "
        "argMax(reason_code, (ts_event, seq)) AS reason_code, "
        "min(ts_event) AS created, max(ts_event) AS updated "
        f"FROM {_db(settings)}.order_events FINAL WHERE {where} "
        f"GROUP BY client_order_id ORDER BY updated DESC LIMIT {int(limit)}")


def orders(settings: Settings, account: str, symbol: str | None, limit: int
           ) -> list[dict[str, Any]]:
    where = f"account = {quote(account)} AND client_order_id IS NOT NULL"
    if symbol:
        where += f" AND symbol = {quote(symbol)}"
    return [_plain(r) for r in _rows(settings, _orders_sql(settings, where, limit))]


def order(settings: Settings, account: str, client_order_id: str) -> dict[str, Any] | None:
    where = f"account = {quote(account)} AND client_order_id = {quote(client_order_id)}"
    rows = _rows(settings, _orders_sql(settings, where, 1))
    return _plain(rows[0]) if rows else None


def fills(settings: Settings, account: str, symbol: str | None, limit: int
          ) -> list[dict[str, Any]]:
    where = f"account = {quote(account)} AND kind IN ('partially_filled', 'filled')"
    if symbol:
        where += f" AND symbol = {quote(symbol)}"
    return [_plain(r) for r in _rows(settings, (
        "SELECT ts_event, symbol, client_order_id, order_id, side, price, qty, trade_id, "
        f"if(is_maker, 'maker', 'taker') AS liquidity FROM {_db(settings)}.order_events FINAL "
        f"WHERE {where} ORDER BY ts_event DESC LIMIT {int(limit)}"))]


def balance(settings: Settings, account: str) -> dict[str, Decimal]:
    """The account's USDT in the ledger, what it paid in and out, and its fees."""
    rows = _rows(settings, (
        "SELECT sum(amount) AS balance, sumIf(amount, kind = 'transfer') AS net_deposits, "
        "-sumIf(amount, kind = 'fee') AS fees, count() AS entries "
        f"FROM {_db(settings)}.ledger FINAL WHERE account = {quote(account)}"))
    row = rows[0] if rows else {}
    return {k: Decimal(row.get(k) or 0) for k in ("balance", "net_deposits", "fees")}


def candles(settings: Settings, symbol: str, interval: str, limit: int) -> list[dict[str, Any]]:
    if interval not in _INTERVALS:
        raise ValueError(f"interval is one of {_INTERVALS}")
    return [_plain(r) for r in _rows(settings, (
        "SELECT window_start, open, high, low, close, volume, vwap, trades, final "
        f"FROM {_db(settings)}.candles FINAL WHERE symbol = {quote(symbol)} "
        f"AND interval = {quote(interval)} ORDER BY window_start DESC LIMIT {int(limit)}"))][::-1]


def statement_csv(settings: Settings, account: str, start: date | None, end: date) -> bytes:
    if settings.clickhouse_dsn.startswith("chdb://") and via_running_sink(
            settings, "SELECT 1", "TSV") is None:
        raise QueryError("no ClickHouse sink is running")
    with session(settings) as fetch:
        return to_csv(statement(fetch, account, start, end, db=_db(settings)))
