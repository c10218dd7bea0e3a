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

Any bytes at all end in one of these (or a change): invalid UTF-8, nesting deeper than the
parser's stack, ``NaN``, duplicate keys, lone surrogates, a timestamp outside 1970 to 2200 or
a position beyond a 64-bit integer are ``malformed``; nothing else escapes :func:`decode`,
because the agents dead-letter :class:`EnvelopeError` and any other exception stops the bridge.
Decimals in JSON numbers (Debezium writes strings) are read exactly, never through a float.

Re-reads injected by reconciliation (:mod:`cdc.reconcile`) are ordinary ``op=r`` envelopes
whose ``source.connector`` is ``strikeflow-reconcile`` and whose LSN is null.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError

from topics.catalogue import MAX_PAYLOAD_BYTES, ContractError
from topics.contracts.base import INT64_MAX, TS_MAX, TS_MIN
from topics.contracts.cdc import AccountRow, KycRow, OrderRow, TransferRow

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
    "account_kyc": KycRow,
}
_SCHEMA_ERRORS = frozenset({"extra_forbidden", "missing"})
_MAX_ERRORS = 20  # field errors listed in a dead letter
#: The longest key id taken (a UUID has 36 characters, an account id at most 64).
_MAX_KEY_ID = 200
# A JSON escape of a UTF-16 surrogate (\ud800-\udfff): only then can a lone one hide in text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
#: The commit time of a change: microseconds since the epoch within the contracts' range.
_TS_MIN_US = 0
_TS_MAX_US = (TS_MAX - TS_MIN) // timedelta(microseconds=1)


class EnvelopeError(ContractError):
    """A change that cannot be decoded; ``reason`` is the dead letter's reason code.

    A :class:`~topics.catalogue.ContractError` (of the pseudo-topic ``cdc``), so whoever
    catches contract errors of every input catches these too; ``str()`` is the detail alone.
    """

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__("cdc", [detail])

    def __str__(self) -> str:
        return self.detail


class Op(StrEnum):
    CREATE = "c"
    UPDATE = "u"
    DELETE = "d"
    READ = "r"


_OPS = frozenset(op.value for op in Op)


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


def _brief(value: Any) -> str:
    """A short, ASCII-only rendering of a JSON value for an error message: never the repr of
    a deeply nested or megabyte-long value (slow, and ``repr`` can hit the recursion limit)."""
    if isinstance(value, dict | list):
        return f"<{type(value).__name__} of {len(value)}>"
    text = ascii(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("an object has a duplicate key (which one counts is up to the parser)")
    return obj


def _lone_surrogate(value: Any) -> bool:
    """Whether a string in ``value`` holds half a surrogate pair (no UTF-8 encoding exists:
    it would fail later, when the row is written to Kafka or PostgreSQL)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _load(raw: bytes | bytearray | str, what: str) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no duplicate keys, no lone surrogates, numbers
    with a fraction as exact Decimals; any refusal is ``malformed``."""
    if not isinstance(raw, bytes | bytearray | str):
        raise EnvelopeError("malformed", f"{what} is {type(raw).__name__}, not bytes")
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise EnvelopeError("malformed", f"{what} has {len(raw)} bytes, more than the "
                                         f"{MAX_PAYLOAD_BYTES} a message may have")
    try:
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8")
        value = json.loads(text, parse_float=Decimal, parse_constant=_no_constant,
                           object_pairs_hook=_object)
    except RecursionError:
        raise EnvelopeError("malformed", f"{what} is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many int digits
        raise EnvelopeError("malformed", f"{what} is not JSON: {str(exc)[:200]}") from None
    if (isinstance(raw, str) or _SURROGATE_ESCAPE.search(text)) and _lone_surrogate(value):
        raise EnvelopeError("malformed", f"{what} has a string with a lone UTF-16 surrogate")
    return value


def _describe(exc: ValidationError) -> tuple[str, str]:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    reason = ("unexpected_schema" if any(e["type"] in _SCHEMA_ERRORS for e in errors)
              else "invalid")
    detail = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(row)'}: {e['msg']}"
                       for e in errors[:_MAX_ERRORS])
    if len(errors) > _MAX_ERRORS:
        detail += f"; and {len(errors) - _MAX_ERRORS} more errors"
    return reason, detail


def _key_id(raw_key: bytes | str | None) -> str:
    if raw_key is None:
        raise EnvelopeError("malformed", "the message has no key")
    key = _load(raw_key, "key")
    if isinstance(key, dict) and "schema" in key and "payload" in key:
        raise EnvelopeError("unexpected_schema",
                            "the key carries a Connect schema: the connector's key converter "
                            "has schemas.enable=true")
    if not isinstance(key, dict) or set(key) != {"id"}:
        raise EnvelopeError("malformed", f"the key is not {{\"id\": …}}: {_brief(key)}")
    key_id = key["id"]
    if isinstance(key_id, int) and not isinstance(key_id, bool) and 0 <= key_id <= INT64_MAX:
        return str(key_id)
    if isinstance(key_id, str) and 0 < len(key_id) <= _MAX_KEY_ID:
        return key_id
    raise EnvelopeError("malformed", f"the key's id is not a string of 1-{_MAX_KEY_ID} "
                                     f"characters or a 64-bit integer: {_brief(key_id)}")


def _int_or_none(source: dict[str, Any], field: str) -> int | None:
    value = source.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
        raise EnvelopeError("malformed", f"source.{field} is not a non-negative 64-bit "
                                         f"integer: {_brief(value)}")
    return value


def _snapshot(source: dict[str, Any]) -> bool:
    """Debezium's ``source.snapshot``: ``"false"`` (or absent) when streamed, else ``"true"``,
    ``"first"``, ``"last"``, ``"incremental"`` …; a boolean from other writers."""
    value = source.get("snapshot", "false")
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise EnvelopeError("malformed", f"source.snapshot is not a string: {_brief(value)}")
    return value.lower() not in ("false", "")


def _committed_at(source: dict[str, Any]) -> datetime:
    """The commit time from ``ts_us`` (or ``ts_ms``), computed in integers: exact (a float
    of epoch seconds is off by a microsecond, even a second, once rounded) and range-checked
    first (``fromtimestamp`` of a huge or negative value raises OverflowError or OSError)."""
    for field, unit_us in (("ts_us", 1), ("ts_ms", 1000)):
        value = source.get(field)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise EnvelopeError("malformed", f"source.{field} is not an integer: "
                                             f"{_brief(value)}")
        micros = value * unit_us
        if not _TS_MIN_US <= micros < _TS_MAX_US:
            raise EnvelopeError("malformed", f"source.{field} {value} is not between "
                                             f"{TS_MIN:%Y-%m-%d} and {TS_MAX:%Y-%m-%d}")
        return TS_MIN + timedelta(microseconds=micros)
    raise EnvelopeError("malformed", "source has neither ts_us nor ts_ms")


def _position(source: Any, op: Op) -> Position:
    if not isinstance(source, dict):
        raise EnvelopeError("malformed", "source is missing or not an object")
    connector = source.get("connector")
    if not isinstance(connector, str) or connector not in _CONNECTORS:
        raise EnvelopeError("malformed", f"source.connector {_brief(connector)} is not one of "
                                         f"{sorted(_CONNECTORS)}")
    lsn = _int_or_none(source, "lsn")
    tx_id = _int_or_none(source, "txId")
    snapshot = _snapshot(source)
    if lsn is None and op is not Op.READ:
        raise EnvelopeError("malformed", f"a streamed change (op={op.value}) has no source.lsn")
    return Position(lsn, tx_id, snapshot or op is Op.READ, connector, _committed_at(source))


def decode(topic: str, raw_key: bytes | str | None,
           raw_value: bytes | str | None) -> Change | Tombstone:
    """Decode one message of ``cdc.public.<table>`` or raise :class:`EnvelopeError`.

    Whatever the bytes: the cases above are refused precisely, and the last ``except`` turns
    anything they miss into ``malformed`` (with ``unexpected`` set: a bug to fix, not a reason
    to stop the bridge).
    """
    try:
        return _decode(topic, raw_key, raw_value)
    except EnvelopeError:
        raise
    except Exception as exc:  # the last line of defence, see above
        try:
            text = str(exc)[:200]
        except Exception:
            text = "(unprintable)"
        error = EnvelopeError("malformed", f"undecodable: {type(exc).__name__}: {text}")
        error.unexpected = True
        raise error from exc


def _decode(topic: str, raw_key: bytes | str | None,
            raw_value: bytes | str | None) -> Change | Tombstone:
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
    raw_op = env.get("op")
    if not isinstance(raw_op, str) or raw_op not in _OPS:
        reason = "unexpected_op" if isinstance(raw_op, str) else "malformed"
        raise EnvelopeError(reason, f"op {_brief(raw_op)} is not one of c, u, d, r")
    op = Op(raw_op)
    position = _position(env.get("source"), op)
    named = env["source"].get("table")
    if named != table:
        raise EnvelopeError("unexpected_table",
                            f"the envelope names table {_brief(named)} on the topic of "
                            f"{table!r}")
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
