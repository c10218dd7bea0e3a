"""Reconciliation's re-reads look like Debezium's; the connector config keeps money exact."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cdc.bridge.envelope import Change, decode
from cdc.config import CdcConfig
from cdc.connector import connector_config
from cdc.domain import CAPTURED_TABLES, PUBLICATION
from cdc.reconcile import debezium_key, reread_envelope
from infra.settings import Settings
from topics.catalogue import by_name
from topics.contracts.cdc import OptionOrderEvent

from .debezium import envelope, order_row


def _db_row() -> dict[str, Any]:
    """The row as psycopg returns it: Decimal with 18 places, aware datetimes, UUID."""
    raw = order_row()
    row: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "id":
            row[name] = uuid.UUID(value)
        elif name in ("expiry", "created_at", "updated_at"):
            row[name] = datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif isinstance(value, str) and value[:1].isdigit() and "." in value:
            row[name] = Decimal(value)
        else:
            row[name] = value
    return row


def test_a_reread_decodes_to_the_same_row_as_debeziums_copy() -> None:
    row = _db_row()
    ours = decode("cdc.public.orders", debezium_key(row["id"]),
                  reread_envelope(row, "strikeflow", datetime.now(UTC)))
    theirs = decode("cdc.public.orders", debezium_key(row["id"]), envelope(order_row()))
    assert isinstance(ours, Change) and isinstance(theirs, Change)
    assert ours.row == theirs.row
    assert ours.position.lsn is None and ours.position.connector == "strikeflow-reconcile"
    after = json.loads(reread_envelope(row, "strikeflow", datetime.now(UTC)))["after"]
    assert after == order_row()  # byte-for-byte the same after-image


def test_the_key_has_debeziums_exact_bytes_so_it_lands_on_the_same_partition() -> None:
    oid = uuid.UUID("2e23e630-69d7-4834-8c23-ef6a0b3a1a3c")
    assert debezium_key(oid) == b'{"id":"2e23e630-69d7-4834-8c23-ef6a0b3a1a3c"}'


def test_connector_config_streams_the_publication_exactly() -> None:
    conf = connector_config(Settings(), CdcConfig())
    assert conf["plugin.name"] == "pgoutput"
    assert conf["publication.name"] == PUBLICATION
    assert conf["publication.autocreate.mode"] == "disabled"
    assert conf["topic.prefix"] == "cdc"
    assert conf["decimal.handling.mode"] == "string"
    assert conf["snapshot.mode"] == "initial"
    assert conf["table.include.list"] == ",".join(f"public.{t}" for t in CAPTURED_TABLES)
    assert conf["key.converter.schemas.enable"] == conf["value.converter.schemas.enable"] \
        == "false"
    assert conf["database.user"] == Settings().postgres.debezium_user
    for table in CAPTURED_TABLES:
        assert by_name(f"cdc.public.{table}").dead_letter == f"cdc.public.{table}.dlq"


def test_settlement_orders_carries_the_option_order_event_exactly() -> None:
    spec = by_name("settlement.orders")
    payload = {
        "event_id": "option-order:2e23e630-69d7-4834-8c23-ef6a0b3a1a3c:open",
        "ts_event": "2026-11-23T13:51:05.902101Z", "causation_id": "acc-1:c1",
        "order_id": "2e23e630-69d7-4834-8c23-ef6a0b3a1a3c", "account": "acc-1",
        "client_order_id": "c1", "product": "BTC-20261124-86000-C", "underlying": "BTC",
        "strike": "86000", "expiry": "2026-11-24T08:00:00Z", "option_type": "call",
        "contract_size": "0.01", "side": "buy", "contracts": "2", "underlying_price": "91000",
        "iv": "0.70914016", "price": "5147.01", "premium": "102.9402", "fee": "0.308821",
        "total": "103.249021", "status": "open", "ordered_at": "2026-11-23T13:51:05.902101Z",
        "source": "stream", "source_lsn": 27178056, "source_tx_id": 745,
    }
    event = spec.decode(json.dumps(payload))
    assert isinstance(event, OptionOrderEvent)
    wire = json.loads(spec.encode(event))
    assert wire["total"] == "103.249021" and wire["fee"] == "0.308821"
    assert spec.decode(spec.encode(event)) == event
