"""`strikeflow search` and :mod:`sinks.search` against documents the real sink wrote."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from click.testing import CliRunner
from rich.console import Console

from infra.settings import Settings
from sinks.search import SearchQuery, demo_search, search
from tests.integration.sinks.es_support import (
    EsTestEnv,
    es_env,
    fill,
    order_event,
    risk_alert,
    settlement,
    trade,
)

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch]


@pytest.fixture(scope="module")
def env(stack: Settings) -> Iterator[EsTestEnv]:
    """Two accounts, two instruments, events spread over a minute, written once."""
    with es_env(stack) as e:
        e.send("orders.events", [
            order_event("accepted", 1, order="BTC-USDT#1", account="alice"),
            fill(2, "2", "0", order="BTC-USDT#1", account="alice"),
            order_event("accepted", 3, order="BTC-USDT#2", account="bob"),
            order_event("rejected", 4, order=None, account="bob",
                        reason_code=1101, reason="INSUFFICIENT_MARGIN: margin too low"),
        ], key="BTC-USDT")
        e.send("orders.events", [
            order_event("accepted", 30, order="ETH-USDT#1", account="alice",
                        symbol="ETH-USDT"),
            order_event("cancelled", 40, order="ETH-USDT#1", account="alice",
                        symbol="ETH-USDT", leaves_qty=Decimal("2")),
        ], key="ETH-USDT")
        e.send("trades", [trade(2, maker="alice", taker="bob"),
                          trade(31, maker="bob", taker="carol", symbol="ETH-USDT",
                                price="3100")])
        e.send("risk.alerts", [risk_alert(50, account="bob",
                                          message="margin call: equity below maintenance")])
        e.send("settlement.results", [settlement("opt-9", "failed", account="alice",
                                                 seconds=55, reason="hedge venue down")])
        e.run()
        yield e


def _ids(env: EsTestEnv, **filters: object) -> set[str]:
    result = search(env.client, env.names, SearchQuery(**filters))  # type: ignore[arg-type]
    assert result.total == len(result.hits)
    return {h["_id"] for h in result.hits}


@pytest.mark.parametrize(("filters", "expected"), [
    ({"account": "alice"}, {"BTC-USDT#1", "ETH-USDT#1"}),
    ({"account": "bob"}, {"BTC-USDT#2", "BTC-USDT:4"}),
    ({"status": "filled"}, {"BTC-USDT#1"}),
    ({"status": "rejected"}, {"BTC-USDT:4"}),
    ({"symbol": "ETH-USDT"}, {"ETH-USDT#1"}),
    ({"order_id": "BTC-USDT#2"}, {"BTC-USDT#2"}),
    ({"order_id": "c-BTC-USDT-1"}, {"BTC-USDT#1"}),  # the client order id works too
    ({"since": "2026-11-23T09:00:03Z", "until": "2026-11-23T09:00:30Z"},
     {"BTC-USDT#2", "BTC-USDT:4"}),
    ({"account": "alice", "symbol": "BTC-USDT", "status": "filled"}, {"BTC-USDT#1"}),
    ({"text": "margin"}, {"BTC-USDT:4"}),
    ({"index": "trades", "account": "bob"}, {"BTC-USDT:2", "ETH-USDT:31"}),
    ({"index": "trades", "account": "carol"}, {"ETH-USDT:31"}),
    ({"index": "trades", "order_id": "ETH-USDT#2"}, {"ETH-USDT:31"}),
    ({"index": "audit", "account": "alice", "status": "cancelled"}, {"ETH-USDT:40"}),
    ({"index": "audit", "text": "margin"},
     {"BTC-USDT:4", "risk:bob:margin_call:50"}),
    ({"index": "audit", "text": "hedge venue"}, {"settlement:opt-9:failed"}),
    ({"index": "audit", "text": "bought 2 BTC-USDT"}, {"BTC-USDT:2"}),
    ({"index": "audit", "since": "2026-11-23T09:00:40Z"},
     {"ETH-USDT:40", "risk:bob:margin_call:50", "settlement:opt-9:failed"}),
    ({"index": "notifications", "account": "alice"}, {"BTC-USDT:2", "settlement:opt-9:failed"}),
    ({"index": "notifications", "status": "risk"}, {"risk:bob:margin_call:50"}),
    ({"index": "notifications", "account": "bob", "text": "rejected"}, {"BTC-USDT:4"}),
])
def test_filters_return_exactly_the_expected_documents(
        env: EsTestEnv, filters: dict[str, object], expected: set[str]) -> None:
    assert _ids(env, **filters) == expected


def test_the_cli_prints_json_and_tables(env: EsTestEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    import strikeflow.cli as cli

    monkeypatch.setattr(cli, "get_settings", lambda: env.settings)
    runner = CliRunner()
    out = runner.invoke(cli.main, ["search", "--index", "audit", "--account", "alice",
                                   "--text", "cancelled", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)  # logs, if any, go to stderr
    assert data["total"] == 1 and data["hits"][0]["_id"] == "ETH-USDT:40"
    assert data["hits"][0]["payload"]["leaves_qty"] == "2"

    out = runner.invoke(cli.main, ["search", "--account", "alice", "--status", "filled"])
    assert out.exit_code == 0, out.output
    assert "BTC-USDT#1" in out.output and "43250.5" in out.output
    assert "ETH-USDT#1" not in out.output

    out = runner.invoke(cli.main, ["search", "--index", "trades", "--status", "x"])
    assert out.exit_code == 2 and "does not apply to trades" in out.output
    out = runner.invoke(cli.main, ["search", "--since", "last tuesday"])
    assert out.exit_code == 2 and "cannot read the time" in out.output


def test_demo_search_shows_counts_and_the_busiest_account(env: EsTestEnv) -> None:
    console = Console(width=200, record=True)
    console.print(demo_search(env.settings))
    text = console.export_text()
    assert "orders 4 · trades 2 · audit 8 · notifications 4 · dead letters 0" in text
    assert "orders of alice (2)" in text  # a tie with bob: terms order by key next
    assert "INSUFFICIENT_MARGIN" in text  # the free-text search for "rejected"
