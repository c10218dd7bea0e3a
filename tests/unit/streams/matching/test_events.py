"""Event shape: gap-free sequence, causation, deterministic trade ids, plain-dict encoding."""

from __future__ import annotations

import json

from streams.matching import (
    EVENT_TYPES,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    TradeExecuted,
    event_to_dict,
)
from tests.unit.streams.matching.harness import IID, Harness


def _session() -> Harness:
    h = Harness()
    h.sell("a1", 5, 101)
    h.sell("a2", 5, 102, display_qty=1)
    h.buy("b1", 8, 102)
    h.buy("b2", 3, 90)
    h.cancel("b2")
    return h


def test_seq_is_gap_free_and_events_carry_their_command() -> None:
    h = _session()
    assert [e.seq for e in h.log] == list(range(1, len(h.log) + 1))
    assert all(e.instrument_id == IID for e in h.log)
    assert {e.causation_id for e in h.log} == {f"cmd-{i}" for i in range(1, 6)}


def test_events_have_exactly_their_fields() -> None:
    for ev in _session().log:
        assert len(ev) == len(type(ev)._fields)
        assert type(ev).__name__ in EVENT_TYPES


def test_trade_ids_are_instrument_and_seq() -> None:
    h = _session()
    trades = [e for e in h.log if isinstance(e, TradeExecuted)]
    assert trades and all(t.trade_id == f"{IID}:{t.seq}" for t in trades)
    fills = [e for e in h.log if isinstance(e, OrderFilled)]
    assert {f.trade_id for f in fills} <= {t.trade_id for t in trades}


def test_event_equality_includes_the_type() -> None:
    fields = (IID, 1, "c", 0, 1, "a", "o", 5, 1201)
    assert OrderCancelled(*fields) != OrderExpired(*fields)
    assert OrderCancelled(*fields) == OrderCancelled(*fields)
    assert len({OrderCancelled(*fields), OrderExpired(*fields)}) == 2


def test_event_to_dict_is_plain_json() -> None:
    for ev in _session().log:
        data = json.loads(json.dumps(event_to_dict(ev)))
        assert data["type"] == type(ev).__name__ and data["seq"] == ev.seq
        if isinstance(ev, TradeExecuted):
            assert data["trade_id"] == ev.trade_id and data["aggressor_side"] == "buy"
        if isinstance(ev, OrderCancelled):
            assert data["code"] == 1201
