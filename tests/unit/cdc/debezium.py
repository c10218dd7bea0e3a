"""Debezium envelopes for the unit tests, shaped exactly like the connector's output."""

from __future__ import annotations

import json
import uuid
from typing import Any

ORDER_ID = "2e23e630-69d7-4834-8c23-ef6a0b3a1a3c"


def order_row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": ORDER_ID, "account_id": "acc-1", "client_order_id": "c1",
        "product_id": "BTC-20261124-86000-C", "underlying": "BTC",
        "strike": "86000.000000000000000000", "expiry": "2026-11-24T08:00:00.000000Z",
        "option_type": "call", "contract_size": "0.010000000000000000", "side": "buy",
        "contracts": "2.000000000000000000", "underlying_price": "91000.000000000000000000",
        "iv": "0.709140160000000000", "price": "5147.010000000000000000",
        "premium": "102.940200000000000000", "fee": "0.308821000000000000",
        "total": "103.249021000000000000", "status": "open",
        "created_at": "2026-11-23T13:51:05.902101Z", "updated_at": "2026-11-23T13:51:05.902101Z",
    }
    return row | overrides


def envelope(row: dict[str, Any] | None, op: str = "c", lsn: int | None = 27178056,
             tx: int | None = 745, snapshot: str = "false", table: str = "orders",
             connector: str = "postgresql", before: dict[str, Any] | None = None) -> bytes:
    value = {
        "before": before, "after": row,
        "source": {"version": "3.4.0.Final", "connector": connector, "name": "cdc",
                   "ts_ms": 1795441961115, "snapshot": snapshot, "db": "strikeflow",
                   "sequence": f'[null,"{lsn}"]', "ts_us": 1795441961115888,
                   "ts_ns": 1795441961115888000, "schema": "public", "table": table,
                   "txId": tx, "lsn": lsn, "xmin": None},
        "transaction": None, "op": op, "ts_ms": 1795441961177,
    }
    return json.dumps(value, separators=(",", ":")).encode()


def key(order_id: str = ORDER_ID) -> bytes:
    return json.dumps({"id": order_id}, separators=(",", ":")).encode()


def new_id() -> str:
    return str(uuid.uuid4())
