"""Settlement: simplified-option orders, their settlement steps, the house's hedges, expiries."""

from __future__ import annotations

from typing import Any

from analytics.quality.spec import (
    CrossCheck,
    TableSuite,
    in_set,
    matches,
    non_negative,
    nonempty,
    not_after,
    positive,
    zero,
)
from analytics.quality.suites.common import META, MONEY, NMONEY, NSTR, SYMBOL, TS

__all__ = ["EXPIRIES", "HEDGES", "SETTLEMENT_ORDERS", "SETTLEMENT_RESULTS"]

LC = "LowCardinality(String)"
NLC = "LowCardinality(Nullable(String))"
_UNDERLYINGS = {"BTC", "ETH"}


def _order_rows() -> list[Any]:
    return [*nonempty("event_id", "order_id", "account", "client_order_id"),
            *matches("product", SYMBOL), *in_set("underlying", _UNDERLYINGS),
            *in_set("option_type", {"call", "put"}), *in_set("side", {"buy"}),
            *in_set("status", {"open", "settling", "settled", "cancelled"}),
            *in_set("source", {"stream", "snapshot", "reconcile"}),
            *positive("strike", "contract_size", "contracts", "underlying_price", "iv", "price",
                      "premium", "total"),
            *non_negative("fee")]


_ORDER_TOTALS = """
SELECT event_id, total - premium - fee AS total_diff FROM {db}.settlement_orders FINAL
"""

SETTLEMENT_ORDERS = TableSuite(
    table="settlement_orders",
    schema={"event_id": "String", "order_id": "String", "account": "String",
            "client_order_id": "String", "product": LC, "underlying": LC, "strike": MONEY,
            "expiry": TS, "option_type": LC, "contract_size": MONEY, "side": LC,
            "contracts": MONEY, "underlying_price": MONEY, "iv": MONEY, "price": MONEY,
            "premium": MONEY, "fee": MONEY, "total": MONEY, "status": LC, "ordered_at": TS,
            "source": LC, "source_lsn": "Nullable(UInt64)", "source_tx_id": "Nullable(UInt64)",
            **META},
    batch_key=("event_id",),
    table_key=("event_id",),
    rows=_order_rows,
    cross=(CrossCheck("total_is_premium_plus_fee", _ORDER_TOTALS,
                      lambda: [*zero("total_diff")]),),
)


def _result_rows() -> list[Any]:
    return [*nonempty("event_id", "order_id", "account"),
            *in_set("state", {"pending", "hedging", "hedged", "booked", "failed"}),
            *matches("product", SYMBOL), *in_set("underlying", _UNDERLYINGS),
            *in_set("hedge_side", {"buy", "sell"}), *positive("hedge_qty", "hedge_price"),
            *non_negative("premium", "fee", "attempts")]


# Booked once, at the premium it was sold for (the analysts' reconciliation view, m0006);
# an order not booked yet may still be in flight.
_RECONCILED = """
SELECT order_id, status FROM {db}.settlement_reconciliation
"""

# A hedged settlement names a hedge fill that exists.
_HEDGED = """
SELECT event_id, toUInt8(hedge_id IN (SELECT hedge_id FROM {db}.hedges)) AS hedge_exists
FROM {db}.settlement_results FINAL
WHERE state = 'hedged' AND {settled}
"""

SETTLEMENT_RESULTS = TableSuite(
    table="settlement_results",
    schema={"event_id": "String", "order_id": "String", "account": "String", "state": LC,
            "product": NLC, "underlying": NLC, "premium": NMONEY, "fee": NMONEY,
            "hedge_id": NSTR, "hedge_symbol": NLC, "hedge_side": NLC, "hedge_qty": NMONEY,
            "hedge_price": NMONEY, "attempts": "UInt32", "reason": NSTR, **META},
    # A step is re-emitted with more attempts while the hedge is retried: a newer version of
    # the same step (the table keeps the latest), not a conflict.
    batch_key=("event_id", "attempts"),
    table_key=("event_id",),
    rows=_result_rows,
    cross=(
        CrossCheck("orders_booked_once_at_their_premium", _RECONCILED,
                   lambda: [*in_set("status", {"ok", "not_booked"})],
                   needs=("settlement_orders", "settlement_reconciliation")),
        CrossCheck("hedged_results_have_their_hedge", _HEDGED,
                   lambda: [*in_set("hedge_exists", {1})], needs=("hedges",)),
    ),
)


def _hedge_rows() -> list[Any]:
    return [*nonempty("event_id", "hedge_id", "order_id", "venue"),
            *matches("symbol", SYMBOL), *in_set("underlying", _UNDERLYINGS),
            *in_set("side", {"buy", "sell"}),
            *positive("qty", "avg_price", "reference_price"), *non_negative("fee")]


_HEDGE_ORDERS = """
SELECT event_id, toUInt8(order_id IN (SELECT order_id FROM {db}.settlement_orders))
    AS order_exists
FROM {db}.hedges FINAL
WHERE {settled}
"""

HEDGES = TableSuite(
    table="hedges",
    schema={"event_id": "String", "hedge_id": "String", "order_id": "String", "venue": LC,
            "symbol": LC, "underlying": LC, "side": LC, "qty": MONEY, "avg_price": MONEY,
            "reference_price": MONEY, "slippage_bps": MONEY, "fee": MONEY, **META},
    batch_key=("event_id",),
    table_key=("hedge_id",),
    rows=_hedge_rows,
    cross=(CrossCheck("hedges_have_their_order", _HEDGE_ORDERS,
                      lambda: [*in_set("order_exists", {1})], needs=("settlement_orders",)),),
)


def _expiry_rows() -> list[Any]:
    return [*nonempty("event_id"), *in_set("underlying", _UNDERLYINGS),
            *positive("settlement_price", "samples"), *non_negative("positions"),
            *not_after("twap_window_start", "expiry", strict=True)]


EXPIRIES = TableSuite(
    table="expiries",
    schema={"event_id": "String", "underlying": LC, "expiry": TS, "settlement_price": MONEY,
            "twap_window_start": TS, "samples": "UInt32", "positions": "UInt32",
            "total_payout": MONEY, "payout_to_accounts": MONEY, **META},
    batch_key=("event_id",),
    table_key=("event_id",),
    rows=_expiry_rows,
)
