"""Debezium change envelopes → typed changes, pure (no Faust, no Kafka client).

What arrives on ``cdc.public.<table>`` (JSON converter, ``schemas.enable=false``)::

    key   {"id": "…"}
    value {"before": row|null, "after": row|null, "op": "c"|"u"|"d"|"r",
           "source": {"connector": "postgresql", "table": "orders", "lsn": 27178056,
                      "txId": 745, "snapshot": "false", "ts_us": …, …}, "ts_ms": …}

and, after a delete, a *tombstone*: the same key with a null value (for compaction).

Why the decoder is strict: a change it cannot read exactly must not become a half-true
event for settlement. Every refusal is a :class:`EnvelopeError` whose ``reason`` is the
dead-letter reason:

* ``malformed`` — not JSON, not an object, or an envelope field missing or of the wrong type;
* ``unexpected_schema`` — the message carries a Connect schema (the converter's
  ``schemas.enable`` changed), or the row has a column the contract does not know or lacks one
  it needs (a migration ran without a contract change);
* ``invalid`` — the row has the expected columns but a value breaks the contract;
* ``unexpected_table`` — the envelope names another table than its topic;
* ``unexpected_op`` — an operation the bridge does not apply (truncate ``t``, message ``m``).

Re-reads injected by reconciliation (:mod:`cdc.reconcile`) are ordinary ``op=r`` envelopes
whose ``source.connector`` is ``strikeflow-reconcile`` and whose LSN is null.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError

from topics.contracts.cdc import AccountRow, OrderRow, TransferRow

__all__ = [
    "RECONCILE_CONNECTOR",
    "ROW_CONTRACTS",
    "Change",
    "EnvelopeError",
    "Op",
    "Position",
    "Tombstone",
    "decode",
    "table_of_topic",
]

#: ``source.connector`` of the re-reads that reconciliation injects.
RECONCILE_CONNECTOR = "strikeflow-reconcile"
_CONNECTORS = frozenset({"postgresql", RECONCILE_CONNECTOR})

#: The contract of each captured table's rows.
ROW_CONTRACTS: dict[str, type[BaseModel]] = {
    "orders": OrderRow,
    "transfers": TransferRow,
    "accounts": AccountRow,
}
_SCHEMA_ERRORS = frozenset({"extra_forbidden", "missing"})


class EnvelopeError(ValueError):
    """A change that cannot be decoded; ``reason`` is the dead letter's reason code."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


class Op(StrEnum):
    CREATE = "c"
    UPDATE = "u"
    DELETE = "d"
    READ = "r"


@dataclass(frozen=True, slots=True)
class Position:
    """Where a change came from in PostgreSQL: its LSN and transaction, or a (re-)read.

    ``lsn`` is ``None`` for reconciliation's re-reads. Snapshot reads carry the snapshot's
    LSN, shared by every row of the snapshot, so they are ordered by content, not by LSN.
    """

    lsn: int | None
    tx_id: int | None
    snapshot: bool
    connector: str
    committed_at: datetime

    @property
    def streamed(self) -> bool:
        """A change from the WAL stream (not a snapshot or a reconciliation re-read)."""
        return not self.snapshot and self.lsn is not None


@dataclass(frozen=True, slots=True)
class Change:
    """One decoded row change: ``row`` is the state after it (before it, for a delete)."""

    table: str
    op: Op
    row: Any
    position: Position
    key: str


@dataclass(frozen=True, slots=True)
class Tombstone:
    """The null-valued message Debezium writes after a delete, for log compaction."""

    table: str
    key: str


def table_of_topic(topic: str) -> str:
    """``cdc.public.orders`` → ``orders``."""
    parts = topic.split(".")
    if len(parts) != 3 or parts[0] != "cdc" or parts[1] != "public":
        raise EnvelopeError("unexpected_table", f"{topic!r} is not a cdc.public.<table> topic")
    return parts[2]


def _text(raw: bytes | str | None) -> str:
    if raw is None:
        return ""
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw


def _load(raw: bytes | str, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EnvelopeError("malformed", f"{what} is not JSON: {exc}") from None


def _describe(exc: ValidationError) -> tuple[str, str]:
    errors = exc.errors(include_url=False)
    reason = ("unexpected_schema" if any(e["type"] in _SCHEMA_ERRORS for e in errors)
              else "invalid")
    detail = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(row)'}: {e['msg']}"
                       for e in errors)
    return reason, detail


def _key_id(raw_key: bytes | str | None) -> str:
    if raw_key is None:
        raise EnvelopeError("malformed", "the message has no key")
    key = _load(raw_key, "key")
    if isinstance(key, dict) and "schema" in key and "payload" in key:
        raise EnvelopeError("unexpected_schema",
                            "the key carries a Connect schema: the connector's key converter "
                            "has schemas.enable=true")
    if not isinstance(key, dict) or set(key) != {"id"} or not isinstance(key["id"], str | int):
        raise EnvelopeError("malformed", f"the key is not {{\"id\": …}}: {_text(raw_key)[:200]}")
    return str(key["id"])


def _int_or_none(source: dict[str, Any], field: str) -> int | None:
    value = source.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EnvelopeError("malformed", f"source.{field} is not a non-negative integer: "
                                         f"{value!r}")
    return value


def _position(source: Any, op: Op) -> Position:
    if not isinstance(source, dict):
        raise EnvelopeError("malformed", "source is missing or not an object")
    connector = source.get("connector")
    if connector not in _CONNECTORS:
        raise EnvelopeError("malformed", f"source.connector {connector!r} is not one of "
                                         f"{sorted(_CONNECTORS)}")
    lsn = _int_or_none(source, "lsn")
    tx_id = _int_or_none(source, "txId")
    snapshot = str(source.get("snapshot", "false")).lower() not in ("false", "")
    if lsn is None and op is not Op.READ:
        raise EnvelopeError("malformed", f"a streamed change (op={op.value}) has no source.lsn")
    ts_us = source.get("ts_us")
    ts_ms = source.get("ts_ms")
    if isinstance(ts_us, int) and not isinstance(ts_us, bool):
        committed = datetime.fromtimestamp(ts_us / 1_000_000, UTC)
        committed = committed.replace(microsecond=ts_us % 1_000_000)
    elif isinstance(ts_ms, int) and not isinstance(ts_ms, bool):
        committed = datetime.fromtimestamp(ts_ms / 1000, UTC)
    else:
        raise EnvelopeError("malformed", "source has neither ts_us nor ts_ms")
    return Position(lsn, tx_id, snapshot or op is Op.READ, connector, committed)


def decode(topic: str, raw_key: bytes | str | None,
           raw_value: bytes | str | None) -> Change | Tombstone:
    """Decode one message of ``cdc.public.<table>`` or raise :class:`EnvelopeError`."""
    table = table_of_topic(topic)
    contract = ROW_CONTRACTS.get(table)
    if contract is None:
        raise EnvelopeError("unexpected_table", f"no contract for table {table!r}")
    key = _key_id(raw_key)
    if raw_value is None:
        return Tombstone(table, key)
    env = _load(raw_value, "value")
    if not isinstance(env, dict):
        raise EnvelopeError("malformed", f"the envelope is a {type(env).__name__}, not an object")
    if "schema" in env and "payload" in env:
        raise EnvelopeError("unexpected_schema",
                            "the envelope carries a Connect schema: the connector's value "
                            "converter has schemas.enable=true")
    try:
        op = Op(env.get("op"))
    except ValueError:
        reason = "unexpected_op" if isinstance(env.get("op"), str) else "malformed"
        raise EnvelopeError(reason, f"op {env.get('op')!r} is not one of c, u, d, r") from None
    position = _position(env.get("source"), op)
    named = env["source"].get("table")
    if named != table:
        raise EnvelopeError("unexpected_table",
                            f"the envelope names table {named!r} on the topic of {table!r}")
    image = env.get("before") if op is Op.DELETE else env.get("after")
    if not isinstance(image, dict):
        side = "before" if op is Op.DELETE else "after"
        raise EnvelopeError("malformed", f"op={op.value} needs an object in {side!r}, got "
                                         f"{type(image).__name__}")
    try:
        row = contract.model_validate(image)
    except ValidationError as exc:
        reason, detail = _describe(exc)
        raise EnvelopeError(reason, f"{table} row: {detail}") from None
    if op is not Op.DELETE and str(getattr(row, "id", "")) != key:
        raise EnvelopeError("malformed", f"the key {key!r} is not the row's id {row.id!r}")
    return Change(table, op, row, position, key)
