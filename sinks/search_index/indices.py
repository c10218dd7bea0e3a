"""The search indices: names from settings, explicit mappings, index templates, set up
idempotently at start.

Mapping choices:

* ids, accounts, symbols, statuses: ``keyword`` (exact filters).
* money and quantities: the contract's exact decimal string as ``keyword`` (what is shown and
  returned is never rounded) with a ``.num`` ``double`` sub-field for ranges and sorting only.
  ``scaled_float`` would round the stored value of record.
* times: ``date_nanos``; a plain ``date`` keeps milliseconds in the index and our events carry
  microseconds, so sorting and ranges would tie or misorder events in the same millisecond.
* messages: ``text`` (English analyser) with a ``.raw`` keyword sub-field.
* ``dynamic: strict``: a field the mapping does not know is refused (→ dead letter) instead of
  guessed; the dead-letter index itself is ``dynamic: false`` so it never refuses a letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.exceptions import RequestError

from infra.settings import ElasticsearchSettings, Settings
from sinks.search_index.documents import ORDER_SCRIPT, IndexKind

__all__ = ["KINDS", "MAPPINGS", "IndexNames", "ensure_indices", "open_client"]

KINDS: tuple[IndexKind, ...] = ("orders", "trades", "audit", "notifications", "dead-letters")

_KW: dict[str, Any] = {"type": "keyword"}
_MONEY: dict[str, Any] = {"type": "keyword", "fields": {"num": {"type": "double"}}}
_TIME: dict[str, Any] = {"type": "date_nanos", "format": "strict_date_optional_time_nanos"}
_TEXT: dict[str, Any] = {"type": "text", "analyzer": "english",
                         "fields": {"raw": {"type": "keyword", "ignore_above": 1024}}}
_LONG: dict[str, Any] = {"type": "long"}
_INT: dict[str, Any] = {"type": "integer"}
_OPAQUE: dict[str, Any] = {"type": "object", "enabled": False}  # kept in _source, not indexed


def _props(**fields: dict[str, Any]) -> dict[str, Any]:
    return {"dynamic": "strict", "properties": fields}


MAPPINGS: dict[IndexKind, dict[str, Any]] = {
    "orders": _props(
        order_id=_KW, client_order_id=_KW, account=_KW, symbol=_KW, side=_KW, order_type=_KW,
        time_in_force=_KW, status=_KW, last_event=_KW, price=_MONEY, stop_price=_MONEY,
        trigger_price=_MONEY, qty=_MONEY, leaves_qty=_MONEY, last_fill_price=_MONEY,
        last_fill_qty=_MONEY, last_trade_id=_KW, reason_code=_INT, reason=_TEXT,
        created_at=_TIME, updated_at=_TIME, seq=_LONG, seqs=_OPAQUE),
    "trades": _props(
        trade_id=_KW, event_id=_KW, symbol=_KW, price=_MONEY, qty=_MONEY, notional=_MONEY,
        aggressor_side=_KW, maker_order_id=_KW, taker_order_id=_KW, maker_account=_KW,
        taker_account=_KW, accounts=_KW, order_ids=_KW, seq=_LONG, ts_event=_TIME,
        ts_init=_TIME),
    "audit": _props(
        event_id=_KW, source=_KW, kind=_KW, level=_KW, account=_KW, symbol=_KW, order_id=_KW,
        client_order_id=_KW, trade_id=_KW, causation_id=_KW, seq=_LONG, reason_code=_INT,
        ts_event=_TIME, ts_init=_TIME, message=_TEXT, payload=_OPAQUE),
    "notifications": _props(
        notification_id=_KW, event_id=_KW, source=_KW, account=_KW, category=_KW, kind=_KW,
        level=_KW, title=_TEXT, message=_TEXT, symbol=_KW, order_id=_KW, ts_event=_TIME),
    "dead-letters": {"dynamic": False, "properties": {
        "source_topic": _KW, "source_partition": _INT, "source_offset": _LONG, "key": _KW,
        "payload": {"type": "keyword", "index": False, "doc_values": False},
        "reason": _KW, "error": {"type": "text"}, "target": _KW, "ts_failed": _TIME}},
}


@dataclass(frozen=True)
class IndexNames:
    """``<prefix><kind>`` for each index, and the stored script's id."""

    prefix: str

    @classmethod
    def of(cls, settings: Settings | ElasticsearchSettings) -> IndexNames:
        es = settings.elasticsearch if isinstance(settings, Settings) else settings
        return cls(es.index_prefix)

    def __getitem__(self, kind: IndexKind) -> str:
        return f"{self.prefix}{kind}"

    @property
    def order_script(self) -> str:
        return f"{self.prefix}order-upsert"

    def all(self) -> list[str]:
        return [self[k] for k in KINDS]


def open_client(settings: Settings) -> Elasticsearch:
    """A client that does not retry by itself: the sink's backoff decides."""
    es = settings.elasticsearch
    return Elasticsearch([es.url], timeout=es.request_timeout_s, max_retries=0,
                         retry_on_timeout=False)


def ensure_indices(client: Elasticsearch, names: IndexNames, replicas: int = 0) -> list[str]:
    """Put the templates and the order script, create missing indices and add new fields to
    existing ones. Idempotent; a mapping that conflicts with an existing index raises.
    Returns the indices it created."""
    client.put_script(id=names.order_script,
                      body={"script": {"lang": "painless", "source": ORDER_SCRIPT}})
    created = []
    for kind in KINDS:
        index = names[kind]
        client.indices.put_index_template(name=index, body={
            "index_patterns": [f"{index}*"], "priority": 100,
            "template": {"settings": {"number_of_shards": 1, "number_of_replicas": replicas,
                                      "refresh_interval": "1s"},
                         "mappings": MAPPINGS[kind]},
            "_meta": {"owner": "strikeflow sinks.search_index"}})
        try:
            client.indices.create(index=index)
            created.append(index)
        except RequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
            client.indices.put_mapping(index=index, body=MAPPINGS[kind])
    if created:
        client.cluster.health(index=",".join(created), wait_for_status="yellow", timeout="30s")
    return created
