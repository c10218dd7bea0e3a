"""Our venue's executions (``trades``) and order lifecycle (``order_events``)."""

from __future__ import annotations

from typing import Any

from analytics.quality.spec import (
    CrossCheck,
    TableSuite,
    between,
    in_set,
    matches,
    non_negative,
    nonempty,
    positive,
    unique_within_row,
    zero,
)
from analytics.quality.suites.common import META, MONEY, NMONEY, NSTR, SYMBOL

__all__ = ["ORDER_EVENTS", "TRADES"]

_FILLS = "('filled', 'partially_filled')"


def _trade_rows() -> list[Any]:
    return [*nonempty("event_id", "trade_id", "maker_order_id", "taker_order_id",
                      "maker_account", "taker_account"),
            *matches("symbol", SYMBOL), *positive("price", "qty"),
            *in_set("aggressor_side", {"buy", "sell"}),
            *unique_within_row("maker_order_id", "taker_order_id"), *non_negative("seq")]


# Every trade has exactly one maker fill and one taker fill, of the trade's quantity, on the
# trade's two orders.
_TRADE_FILLS = f"""
SELECT t.trade_id AS trade_id,
       countIf(e.is_maker = true AND e.order_id = t.maker_order_id) AS maker_fills,
       countIf(e.is_maker = false AND e.order_id = t.taker_order_id) AS taker_fills,
       countIf(e.qty != t.qty) AS qty_mismatches
FROM (SELECT trade_id, maker_order_id, taker_order_id, qty FROM {{db}}.trades FINAL
      WHERE {{settled}}) AS t
LEFT JOIN (SELECT trade_id, order_id, is_maker, qty FROM {{db}}.order_events FINAL
           WHERE kind IN {_FILLS}) AS e
    ON e.trade_id = t.trade_id
GROUP BY t.trade_id
"""

TRADES = TableSuite(
    table="trades",
    schema={"event_id": "String", "symbol": "LowCardinality(String)", "trade_id": "String",
            "price": MONEY, "qty": MONEY, "aggressor_side": "LowCardinality(String)",
            "maker_order_id": "String", "taker_order_id": "String", "maker_account": "String",
            "taker_account": "String", "seq": "UInt64", **META},
    batch_key=("event_id",),
    table_key=("trade_id",),
    rows=_trade_rows,
    cross=(CrossCheck("every_trade_has_maker_and_taker_fill", _TRADE_FILLS,
                      lambda: [*between("maker_fills", 1, 1), *between("taker_fills", 1, 1),
                               *zero("qty_mismatches")], needs=("order_events",)),),
)

_KINDS = {"accepted", "rejected", "triggered", "partially_filled", "filled", "cancelled",
          "expired", "amended", "command_rejected"}


def _event_rows() -> list[Any]:
    return [*nonempty("event_id"), *matches("symbol", SYMBOL), *in_set("kind", _KINDS),
            *non_negative("seq", "qty", "leaves_qty"),
            *positive("price", "stop_price", "trigger_price"),
            *in_set("side", {"buy", "sell"})]


# A fill names a trade that exists.
_FILL_TRADES = f"""
SELECT event_id, toUInt8(trade_id IN (SELECT trade_id FROM {{db}}.trades)) AS trade_exists
FROM {{db}}.order_events FINAL
WHERE kind IN {_FILLS} AND {{settled}}
"""

ORDER_EVENTS = TableSuite(
    table="order_events",
    schema={"event_id": "String", "symbol": "LowCardinality(String)", "seq": "UInt64",
            "kind": "LowCardinality(String)", "account": NSTR, "client_order_id": NSTR,
            "order_id": NSTR, "side": "LowCardinality(Nullable(String))",
            "order_type": "LowCardinality(Nullable(String))",
            "time_in_force": "LowCardinality(Nullable(String))", "price": NMONEY,
            "stop_price": NMONEY, "trigger_price": NMONEY, "qty": NMONEY, "leaves_qty": NMONEY,
            "trade_id": NSTR, "is_maker": "Nullable(Bool)", "reason_code": "Nullable(Int32)",
            "reason": NSTR, **META},
    batch_key=("event_id",),
    table_key=("event_id",),
    rows=_event_rows,
    cross=(CrossCheck("every_fill_has_its_trade", _FILL_TRADES,
                      lambda: [*in_set("trade_exists", {1})], needs=("trades",)),),
)
