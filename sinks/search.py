"""Searching what the Elasticsearch sink wrote: orders, trades, the audit trail, notifications.

:func:`build_query` is pure (filters → query body), :func:`search` runs it, :func:`render` makes
a rich table; ``strikeflow search`` is a thin shell over them. :func:`demo_search` is what the
main job shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from elasticsearch import Elasticsearch
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from infra.settings import Settings
from sinks.search_index.indices import IndexNames, open_client

__all__ = [
    "INDICES",
    "SearchError",
    "SearchQuery",
    "SearchResult",
    "build_query",
    "demo_search",
    "parse_time",
    "render",
    "search",
]

SearchIndex = Literal["orders", "trades", "audit", "notifications"]
INDICES: tuple[SearchIndex, ...] = ("orders", "trades", "audit", "notifications")


class SearchError(ValueError):
    """A filter that does not apply to the index asked, or a time that cannot be read."""


@dataclass(frozen=True)
class _Fields:
    time: str
    account: tuple[str, ...]
    order_id: tuple[str, ...]
    status: str | None
    text: tuple[str, ...]


_FIELDS: dict[SearchIndex, _Fields] = {
    "orders": _Fields("updated_at", ("account",), ("order_id", "client_order_id"), "status",
                      ("reason",)),
    "trades": _Fields("ts_event", ("accounts",), ("order_ids", "trade_id"), None, ()),
    "audit": _Fields("ts_event", ("account",), ("order_id", "client_order_id"), "kind",
                     ("message",)),
    "notifications": _Fields("ts_event", ("account",), ("order_id",), "category",
                             ("title", "message")),
}


@dataclass(frozen=True)
class SearchQuery:
    index: SearchIndex = "orders"
    account: str | None = None
    order_id: str | None = None
    status: str | None = None
    symbol: str | None = None
    since: str | None = None
    until: str | None = None
    text: str | None = None
    limit: int = 20


@dataclass(frozen=True)
class SearchResult:
    index: SearchIndex
    total: int
    hits: list[dict[str, Any]]  # each document's _source with its "_id"


_RELATIVE = re.compile(r"^(\d+)([smhdw])$")


def parse_time(text: str) -> str:
    """A bound for a time range: ISO 8601 (a date, or a time with offset; naive is UTC),
    ``15m``/``2h``/``7d`` ago, or Elasticsearch date math such as ``now-1h/h``."""
    text = text.strip()
    if m := _RELATIVE.match(text):
        return f"now-{m.group(1)}{m.group(2)}"
    if re.fullmatch(r"now([+-]\d+[smhdwMy])*(/[smhdwMy])?", text):
        return text
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SearchError(f"cannot read the time {text!r}: give ISO 8601 "
                          "(2026-11-23T12:00:00Z), 15m/2h/7d, or now-1h") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _any_of(fields: tuple[str, ...], value: str) -> dict[str, Any]:
    if len(fields) == 1:
        return {"term": {fields[0]: value}}
    return {"bool": {"should": [{"term": {f: value}} for f in fields],
                     "minimum_should_match": 1}}


def build_query(q: SearchQuery) -> dict[str, Any]:
    """The search body for ``q``: filters are exact (keyword terms), free text is scored."""
    f = _FIELDS[q.index]
    filters: list[dict[str, Any]] = []
    if q.account:
        filters.append(_any_of(f.account, q.account))
    if q.order_id:
        filters.append(_any_of(f.order_id, q.order_id))
    if q.symbol:
        filters.append({"term": {"symbol": q.symbol}})
    if q.status:
        if f.status is None:
            raise SearchError(f"--status does not apply to {q.index}")
        filters.append({"term": {f.status: q.status}})
    if q.since or q.until:
        bounds = {k: parse_time(v) for k, v in (("gte", q.since), ("lte", q.until)) if v}
        filters.append({"range": {f.time: bounds}})
    must: list[dict[str, Any]] = []
    if q.text:
        if not f.text:
            raise SearchError(f"--text does not apply to {q.index}")
        must.append({"simple_query_string": {"query": q.text, "fields": list(f.text),
                                             "default_operator": "and"}})
    sort: list[Any] = ["_score"] if q.text else []
    sort.append({f.time: {"order": "desc"}})
    return {"query": {"bool": {"filter": filters, "must": must or [{"match_all": {}}]}},
            "sort": sort, "size": q.limit, "track_total_hits": True}


def search(client: Elasticsearch, names: IndexNames, q: SearchQuery) -> SearchResult:
    body = build_query(q)
    resp = client.search(index=names[q.index], _source_excludes=["seqs"], **body)
    hits = [{"_id": h["_id"], **h["_source"]} for h in resp["hits"]["hits"]]
    return SearchResult(q.index, resp["hits"]["total"]["value"], hits)


# -- rendering ------------------------------------------------------------------------------
def _when(value: str | None) -> str:
    return (value or "").replace("T", " ").rstrip("Z")


_COLUMNS: dict[SearchIndex, tuple[tuple[str, Any], ...]] = {
    "orders": (("updated", lambda d: _when(d.get("updated_at"))), ("order", "_id"),
               ("client id", "client_order_id"), ("account", "account"),
               ("symbol", "symbol"), ("side", "side"), ("type", "order_type"),
               ("price", "price"), ("qty", "qty"), ("leaves", "leaves_qty"),
               ("status", "status")),
    "trades": (("time", lambda d: _when(d.get("ts_event"))), ("trade", "trade_id"),
               ("symbol", "symbol"), ("price", "price"), ("qty", "qty"),
               ("notional", "notional"), ("aggressor", "aggressor_side"),
               ("maker", "maker_account"), ("taker", "taker_account")),
    "audit": (("time", lambda d: _when(d.get("ts_event"))), ("source", "source"),
              ("kind", "kind"), ("account", "account"), ("message", "message")),
    "notifications": (("time", lambda d: _when(d.get("ts_event"))), ("level", "level"),
                      ("category", "category"), ("account", "account"), ("title", "title")),
}
_NUMERIC = {"price", "qty", "leaves", "notional"}
_LEVEL_STYLE = {"info": "", "warning": "yellow", "critical": "bold red"}


def render(result: SearchResult, title: str | None = None) -> Table:
    columns = _COLUMNS[result.index]
    shown = len(result.hits)
    table = Table(title=title or f"{result.index}: {shown} of {result.total}",
                  title_justify="left")
    for name, _ in columns:
        table.add_column(name, justify="right" if name in _NUMERIC else "left",
                         overflow="fold" if name in ("message", "title") else "ellipsis")
    for doc in result.hits:
        cells = [str(get(doc) if callable(get) else doc.get(get) or "")
                 for _, get in columns]
        table.add_row(*cells, style=_LEVEL_STYLE.get(doc.get("level", ""), ""))
    return table


# -- the main job's view --------------------------------------------------------------------
def demo_search(settings: Settings, limit: int = 5) -> RenderableType:
    """What the search side holds after a demo run: counts per index, the latest orders of
    the busiest account, its latest notifications, and a free-text search of the audit trail
    (each with the ``strikeflow search`` command that shows it)."""
    names = IndexNames.of(settings)
    client = open_client(settings)
    try:
        client.indices.refresh(index=",".join(names[i] for i in INDICES))
        counts = {i: client.count(index=names[i])["count"] for i in INDICES}
        dead = client.count(index=names["dead-letters"])["count"]
        top = client.search(index=names["orders"], size=0,
                            aggs={"a": {"terms": {"field": "account", "size": 1}}})
        buckets = top["aggregations"]["a"]["buckets"]
        parts: list[RenderableType] = [Text(
            "Elasticsearch: " + " · ".join(f"{i} {n}" for i, n in counts.items())
            + f" · dead letters {dead}", style="bold")]
        if buckets:
            account = buckets[0]["key"]
            orders = search(client, names, SearchQuery("orders", account=account, limit=limit))
            parts.append(render(orders, f"orders of {account} ({orders.total}) — "
                                        f"strikeflow search --account {account}"))
            notes = search(client, names, SearchQuery("notifications", account=account,
                                                      limit=limit))
            parts.append(render(notes, f"notifications of {account} ({notes.total}) — "
                                       f"strikeflow search --index notifications "
                                       f"--account {account}"))
        audit = search(client, names, SearchQuery("audit", text="rejected", limit=limit))
        parts.append(render(audit, f"audit trail, free text \"rejected\" ({audit.total}) — "
                                   f"strikeflow search --index audit --text rejected"))
        return Group(*parts)
    except Exception as exc:  # the demo goes on without its search panel
        return Text(f"Elasticsearch search unavailable: {type(exc).__name__}: {exc}",
                    style="red")
    finally:
        client.close()
