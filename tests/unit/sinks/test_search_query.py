"""Search filters → query bodies, and the time bounds they accept."""

from __future__ import annotations

import pytest

from sinks.search import SearchError, SearchQuery, build_query, parse_time


@pytest.mark.parametrize(("text", "expected"), [
    ("15m", "now-15m"),
    ("7d", "now-7d"),
    ("now-1h/h", "now-1h/h"),
    ("2026-11-23T12:00:00Z", "2026-11-23T12:00:00.000000Z"),
    ("2026-11-23T14:00:00.5+02:00", "2026-11-23T12:00:00.500000Z"),
    ("2026-11-23", "2026-11-23T00:00:00.000000Z"),
])
def test_parse_time(text: str, expected: str) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "15 minutes", "now-"])
def test_parse_time_refuses_garbage(text: str) -> None:
    with pytest.raises(SearchError):
        parse_time(text)


def test_orders_filters() -> None:
    body = build_query(SearchQuery("orders", account="a1", order_id="X#1", status="filled",
                                   symbol="BTC-USDT", since="1h", until="2026-11-23", limit=5))
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"account": "a1"}} in filters
    assert {"bool": {"should": [{"term": {"order_id": "X#1"}},
                                {"term": {"client_order_id": "X#1"}}],
                     "minimum_should_match": 1}} in filters
    assert {"term": {"status": "filled"}} in filters
    assert {"term": {"symbol": "BTC-USDT"}} in filters
    assert {"range": {"updated_at": {"gte": "now-1h",
                                     "lte": "2026-11-23T00:00:00.000000Z"}}} in filters
    assert body["sort"] == [{"updated_at": {"order": "desc"}}] and body["size"] == 5


def test_audit_text_is_scored_first() -> None:
    body = build_query(SearchQuery("audit", text="margin call", account="a1"))
    assert body["query"]["bool"]["must"] == [{"simple_query_string": {
        "query": "margin call", "fields": ["message"], "default_operator": "and"}}]
    assert body["sort"][0] == "_score"


def test_trades_account_matches_either_side() -> None:
    body = build_query(SearchQuery("trades", account="a1"))
    assert body["query"]["bool"]["filter"] == [{"term": {"accounts": "a1"}}]


@pytest.mark.parametrize("query", [SearchQuery("trades", status="filled"),
                                   SearchQuery("trades", text="x")])
def test_filters_that_do_not_apply_are_refused(query: SearchQuery) -> None:
    with pytest.raises(SearchError):
        build_query(query)
