"""The drill's reconciliation: each kind of damage is counted where it belongs."""

from __future__ import annotations

import copy
from typing import Any

from strikeflow.drill.reconcile import SegmentRecords, reconcile, resting_orders

SYMBOL = "DRTEST-USDT"


def _records() -> SegmentRecords:
    """Two requests: a buy that rests and a sell that trades with another account."""
    requests = [{"command_id": "c1", "account": "a"}, {"command_id": "c2", "account": "b"},
                {"command_id": "c3", "account": "a"}]
    events = [
        {"event_id": f"{SYMBOL}:1", "causation_id": "c1", "kind": "accepted", "account": "a",
         "client_order_id": "o1", "symbol": SYMBOL},
        {"event_id": f"{SYMBOL}:2", "causation_id": "c2", "kind": "accepted", "account": "b",
         "client_order_id": "o2", "symbol": SYMBOL},
        {"event_id": f"{SYMBOL}:3", "causation_id": "c2", "kind": "filled", "account": "b",
         "client_order_id": "o2", "symbol": SYMBOL},
        {"event_id": "risk:c3", "causation_id": "c3", "kind": "rejected", "account": "a",
         "client_order_id": "o3", "symbol": SYMBOL, "reason_code": 5009},
    ]
    ledger = [
        {"event_id": "t:a", "posting_id": "t:a", "account": "a", "amount": "100"},
        {"event_id": "t:a:h", "posting_id": "t:a", "account": "house:cash", "amount": "-100"},
        {"event_id": "t:b", "posting_id": "t:b", "account": "b", "amount": "100"},
        {"event_id": "t:b:h", "posting_id": "t:b", "account": "house:cash", "amount": "-100"},
    ]
    return SegmentRecords(
        kind="worker-sigkill", symbol=SYMBOL, accounts={"a", "b"}, requests=requests,
        options_placed={"opt-1"},
        commands=[{"command_id": "c1"}, {"command_id": "c2"}, {"command_id": "c1"}],
        events=events, trades=[{"event_id": f"{SYMBOL}:t1", "qty": "1"}], ledger=ledger,
        options_arrived=[{"order_id": "opt-1", "status": "open"}],
        risk_state={"a": {"cash": "100", "open_orders": {"o1": [SYMBOL, "buy", "1", "1"]}},
                    "b": {"cash": "100", "open_orders": {}}},
        clickhouse_trades=1, elasticsearch_trades=1)


def test_a_clean_segment_counts_everything_once() -> None:
    out = reconcile(_records())
    assert out.clean, out.problems
    assert (out.published, out.accepted, out.outcomes, out.trades, out.ledger) == (4, 2, 4, 1, 4)


def test_a_request_without_outcome_is_lost() -> None:
    seg = _records()
    seg.requests.append({"command_id": "c4", "account": "b"})
    out = reconcile(seg)
    assert (out.lost, out.duplicated, out.corrupted) == (1, 0, 0)


def test_a_command_answered_twice_is_duplicated() -> None:
    seg = _records()
    seg.events.append({"event_id": f"{SYMBOL}:9", "causation_id": "c1", "kind": "accepted",
                       "account": "a", "client_order_id": "o1", "symbol": SYMBOL})
    assert reconcile(seg).duplicated == 1


def test_an_id_with_two_contents_is_corrupted() -> None:
    seg = _records()
    other: dict[str, Any] = copy.deepcopy(seg.trades[0]) | {"qty": "2"}
    seg.trades.append(other)
    out = reconcile(seg)
    assert out.corrupted == 1 and out.trades == 1


def test_risk_holding_what_the_engine_does_not_is_corrupted() -> None:
    seg = _records()
    seg.risk_state["a"]["open_orders"]["o9"] = [SYMBOL, "buy", "1", "1"]
    out = reconcile(seg)
    assert out.corrupted == 1
    assert "risk holds 2 open orders, the engine 1" in out.problems[0]


def test_cash_above_the_ledger_is_a_duplicate_and_missing_rows_are_lost() -> None:
    seg = _records()
    seg.risk_state["b"]["cash"] = "200"  # a deposit applied twice
    seg.clickhouse_trades = 0
    seg.options_arrived = []
    out = reconcile(seg)
    assert (out.lost, out.duplicated) == (2, 1)


def test_resting_orders_follow_the_engine_events() -> None:
    assert resting_orders(_records().events) == {"a": {"o1"}}
