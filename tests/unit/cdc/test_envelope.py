"""Debezium envelopes decode into exact typed rows, or fail with a dead-letter reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from cdc.bridge.envelope import Change, EnvelopeError, Op, Tombstone, decode
from topics.contracts.cdc import OrderRow, TransferRow

from .debezium import ORDER_ID, envelope, key, order_row

TOPIC = "cdc.public.orders"


def test_a_create_decodes_exactly() -> None:
    change = decode(TOPIC, key(), envelope(order_row()))
    assert isinstance(change, Change) and change.op is Op.CREATE
    row = change.row
    assert isinstance(row, OrderRow)
    assert row.id == UUID(ORDER_ID)
    assert row.total == Decimal("103.249021") and row.premium + row.fee == row.total
    assert row.expiry == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert change.position.lsn == 27178056 and change.position.tx_id == 745
    assert change.position.streamed
    assert change.position.committed_at == datetime(2026, 11, 23, 13, 52, 41, 115888,
                                                    tzinfo=UTC)


def test_snapshot_reads_and_reconcile_rereads_are_not_streamed() -> None:
    snap = decode(TOPIC, key(), envelope(order_row(), op="r", snapshot="first"))
    assert isinstance(snap, Change) and snap.op is Op.READ and not snap.position.streamed
    reread = decode(TOPIC, key(), envelope(order_row(), op="r", lsn=None, tx=None,
                                           snapshot="reconcile",
                                           connector="strikeflow-reconcile"))
    assert isinstance(reread, Change) and reread.position.lsn is None


def test_a_tombstone_is_recognised() -> None:
    assert decode(TOPIC, key(), None) == Tombstone("orders", ORDER_ID)


def test_a_delete_carries_the_before_image() -> None:
    change = decode(TOPIC, key(), envelope(None, op="d", before=order_row()))
    assert isinstance(change, Change) and change.op is Op.DELETE


def test_transfers_decode_with_their_own_contract() -> None:
    row = {"id": "0055030a-aa1c-43cf-abda-91fcdbebc035", "account_id": "smoke-1",
           "kind": "deposit", "asset": "USDT", "amount": "1000.000000000000000000",
           "reference": "dep-1", "created_at": "2026-11-23T13:51:05.887668Z"}
    change = decode("cdc.public.transfers", key(row["id"]), envelope(row, table="transfers"))
    assert isinstance(change, Change) and isinstance(change.row, TransferRow)
    assert change.row.amount == Decimal(1000)


def _schema_wrapped() -> bytes:
    inner = json.loads(envelope(order_row()))
    return json.dumps({"schema": {"type": "struct"}, "payload": inner}).encode()


@pytest.mark.parametrize(
    ("raw_key", "raw_value", "reason", "fragment"),
    [
        (key(), b"\xff{not json", "malformed", "not JSON"),
        (key(), b"[1, 2]", "malformed", "not an object"),
        (key(), _schema_wrapped(), "unexpected_schema", "schemas.enable=true"),
        (key(), envelope(order_row(surprise="x")), "unexpected_schema",
         "surprise: Extra inputs are not permitted"),
        (key(), envelope({k: v for k, v in order_row().items() if k != "fee"}),
         "unexpected_schema", "fee: Field required"),
        (key(), envelope(order_row(status="exploded")), "invalid", "status"),
        (key(), envelope(order_row(total="-1")), "invalid", "total"),
        (key(), envelope(order_row(strike=86000.5)), None, None),  # a JSON number is exact
        (key(), envelope(order_row(), op="t"), "unexpected_op", "'t'"),
        (key(), envelope(order_row(), op=None), "malformed", "None"),  # type: ignore[arg-type]
        (key(), envelope(order_row(), table="transfers"), "unexpected_table", "transfers"),
        (key(), envelope(order_row(), connector="mysql"), "malformed", "connector"),
        (key(), envelope(order_row(), lsn=None), "malformed", "no source.lsn"),
        (key(), envelope(None), "malformed", "needs an object in 'after'"),
        (None, envelope(order_row()), "malformed", "no key"),
        (b'{"schema":{},"payload":{"id":"x"}}', envelope(order_row()), "unexpected_schema",
         "key carries a Connect schema"),
        (key("another"), envelope(order_row()), "malformed", "is not the row's id"),
    ],
)
def test_undecodable_changes_name_their_reason(raw_key: bytes | None, raw_value: bytes,
                                               reason: str | None, fragment: str | None) -> None:
    if reason is None:
        assert isinstance(decode(TOPIC, raw_key, raw_value), Change)
        return
    with pytest.raises(EnvelopeError) as info:
        decode(TOPIC, raw_key, raw_value)
    assert info.value.reason == reason
    assert fragment is not None and fragment in str(info.value)


def test_a_topic_outside_cdc_public_is_refused() -> None:
    with pytest.raises(EnvelopeError) as info:
        decode("md.ticks", key(), envelope(order_row()))
    assert info.value.reason == "unexpected_table"
