"""Accounts: the USDT ``ledger``, ``positions`` and ``risk_alerts``."""

from __future__ import annotations

from typing import Any, get_args

from analytics.quality.spec import (
    CrossCheck,
    TableSuite,
    in_set,
    matches,
    non_negative,
    nonempty,
    positive,
    zero,
)
from analytics.quality.suites.common import META, MONEY, NMONEY, SYMBOL
from topics.contracts.accounts import AlertKind, AlertLevel

__all__ = ["LEDGER", "POSITIONS", "RISK_ALERTS"]

_LEDGER_KINDS = {"trade", "fee", "premium", "settlement", "transfer", "hedge", "expiry"}


def _ledger_rows() -> list[Any]:
    return [*nonempty("event_id", "posting_id", "account", "reference"),
            *in_set("kind", _LEDGER_KINDS), *matches("symbol", SYMBOL)]


# Double entry: the legs of a posting sum to zero, and so does the whole ledger. Legs of one
# posting travel on different partitions (the topic is keyed by account): a posting is judged
# once all of its legs are older than the settle time.
_SETTLED_POSTINGS = """
SELECT posting_id, sum(amount) AS total
FROM {db}.ledger FINAL
GROUP BY posting_id
HAVING max(ts_init) <= {settled_before}
"""

LEDGER = TableSuite(
    table="ledger",
    schema={"event_id": "String", "posting_id": "String", "account": "String",
            "amount": MONEY, "kind": "LowCardinality(String)", "reference": "String",
            "symbol": "LowCardinality(Nullable(String))", **META},
    batch_key=("event_id",),
    table_key=("event_id",),
    rows=_ledger_rows,
    cross=(
        CrossCheck("postings_balance", _SETTLED_POSTINGS, lambda: [*zero("total")]),
        CrossCheck("ledger_balances", f"SELECT sum(total) AS total FROM ({_SETTLED_POSTINGS})",
                   lambda: [*zero("total")]),
    ),
)


def _position_rows() -> list[Any]:
    return [*nonempty("account", "event_id"), *matches("symbol", SYMBOL),
            *non_negative("avg_price", "maintenance_margin", "seq"), *positive("mark_price")]


_POSITION_ACCOUNTS = """
SELECT account, symbol, toUInt8(account IN (SELECT account FROM {db}.ledger)) AS in_ledger
FROM {db}.positions FINAL
WHERE {settled}
"""

# A spot position is what its account's trades add up to: the quantity ClickHouse holds must
# equal the signed sum of the account's fills (as taker and as maker) in ``trades``. A stale
# row (an update lost or quarantined) shows as a difference. Pairs with a trade younger than
# the settle time are left out: the position may not have caught up with it yet.
_POSITIONS_MATCH_TRADES = """
WITH fills AS (
    SELECT taker_account AS account, symbol,
           if(aggressor_side = 'buy', qty, -qty) AS signed, ts_init
    FROM {db}.trades FINAL
    UNION ALL
    SELECT maker_account AS account, symbol,
           if(aggressor_side = 'buy', -qty, qty) AS signed, ts_init
    FROM {db}.trades FINAL
), net AS (
    SELECT account, symbol, sum(signed) AS qty, max(ts_init) AS last_fill
    FROM fills GROUP BY account, symbol
)
SELECT p.account AS account, p.symbol AS symbol, p.qty - net.qty AS difference
FROM {db}.positions AS p FINAL
INNER JOIN net ON net.account = p.account AND net.symbol = p.symbol
WHERE match(toString(p.symbol), '^[A-Z0-9]+-USDT$')
  AND net.last_fill <= {settled_before}
"""

POSITIONS = TableSuite(
    table="positions",
    schema={"account": "String", "symbol": "LowCardinality(String)", "qty": MONEY,
            "avg_price": MONEY, "realized_pnl": MONEY, "unrealized_pnl": MONEY,
            "mark_price": NMONEY, "maintenance_margin": MONEY, "seq": "UInt64",
            "event_id": "String", **META},
    # one account seq is valued again as marks move: each valuation has its own event id
    batch_key=("account", "symbol", "seq", "event_id"),
    table_key=("account", "symbol"),
    rows=_position_rows,
    cross=(CrossCheck("position_accounts_are_in_the_ledger", _POSITION_ACCOUNTS,
                      lambda: [*in_set("in_ledger", {1})], needs=("ledger",)),
           CrossCheck("spot_positions_match_trades", _POSITIONS_MATCH_TRADES,
                      lambda: [*zero("difference")], needs=("trades",))),
)


def _alert_rows() -> list[Any]:
    return [*nonempty("event_id", "account", "message"),
            *in_set("kind", set(get_args(AlertKind))),
            *in_set("level", set(get_args(AlertLevel))),
            *non_negative("margin_ratio"), *matches("symbol", SYMBOL)]


RISK_ALERTS = TableSuite(
    table="risk_alerts",
    schema={"event_id": "String", "account": "String", "kind": "LowCardinality(String)",
            "level": "LowCardinality(String)", "message": "String", "margin_ratio": NMONEY,
            "symbol": "LowCardinality(Nullable(String))", **META},
    batch_key=("event_id",),
    table_key=("event_id",),
    rows=_alert_rows,
)
