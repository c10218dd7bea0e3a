"""Snapshots: plain JSON, complete, and a restored engine continues as if never stopped."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streams.matching import (
    EngineConfig,
    MatchingEngine,
    MatchingError,
    OrderType,
    PostOnly,
    TimeInForce,
    TriggerSource,
)
from tests.unit.streams.matching.harness import BUY, IID, SELL, Harness


def _busy(h: Harness) -> None:
    """A book with every kind of state: iceberg, GTD, stops, trailing stop, mark, last."""
    h.sell("a1", 10, 105, display_qty=2)
    h.sell("a2", 3, 104)
    h.buy("b1", 5, 100, time_in_force=TimeInForce.GTD, expire_ts=50)
    h.buy("b2", 4, 99, post_only=PostOnly.REJECT)
    h.sell("x1", 1, 100)  # trade: last price 100
    h.submit("s1", BUY, 2, order_type=OrderType.STOP_MARKET, stop_price=104)
    h.submit(
        "s2",
        SELL,
        2,
        95,
        order_type=OrderType.STOP_LIMIT,
        stop_price=96,
        trigger=TriggerSource.MARK,
        time_in_force=TimeInForce.GTD,
        expire_ts=80,
    )
    h.submit("t1", SELL, 3, order_type=OrderType.TRAILING_STOP, trailing_offset=2)
    h.mark(101)


def _continue(h: Harness) -> list[Any]:
    events = []
    events += h.buy("c1", 3, 104)  # takes a2 at 104: fires s1 (buy stop 104)
    events += h.mark(96)  # fires s2
    events += h.advance(60)  # expires b1
    events += h.sell("c2", 1, 99)  # trades with b2: trailing t1 fires
    events += h.amend("a1", qty=6)
    events += h.advance(100)
    return events


def test_restored_engine_continues_identically() -> None:
    straight, stopped = Harness(), Harness()
    _busy(straight)
    _busy(stopped)
    snapshot = json.loads(json.dumps(stopped.engine.to_snapshot()))
    restored = Harness(MatchingEngine.from_snapshot(snapshot))
    restored.names = dict(stopped.names)
    restored._ids = stopped._ids
    expected = _continue(straight)
    assert any(type(e).__name__ == "OrderTriggered" for e in expected)
    assert _continue(restored) == expected
    assert restored.engine.to_snapshot() == straight.engine.to_snapshot()


def test_snapshot_contents_are_plain_and_complete() -> None:
    h = Harness()
    _busy(h)
    snap = h.engine.to_snapshot()
    assert json.loads(json.dumps(snap)) == snap
    assert snap["last_price"] == 100 and snap["mark_price"] == 101
    assert [price for price, _ in snap["book"]["asks"]] == [104, 105]
    assert [s[0] for s in snap["stops"]] == sorted(s[0] for s in snap["stops"])
    assert len(snap["stops"]) == 3


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda s: s.update(format=99),
        lambda s: s["book"]["asks"][0][1][0].__setitem__(2, 1),  # order price != level price
        lambda s: s["book"]["asks"][0][1][0].__setitem__(5, 0),  # nothing visible
    ],
)
def test_corrupt_snapshot_is_refused(corrupt: Any) -> None:
    h = Harness()
    _busy(h)
    snap = json.loads(json.dumps(h.engine.to_snapshot()))
    corrupt(snap)
    with pytest.raises(MatchingError):
        MatchingEngine.from_snapshot(snap)


def test_config_survives_the_snapshot() -> None:
    engine = MatchingEngine(EngineConfig(IID, min_qty=3, expiry_ts=10**12,
                                         market_protection_bps=50))  # fmt: skip
    restored = MatchingEngine.from_snapshot(engine.to_snapshot())
    assert restored.config == engine.config


def test_client_ids_that_concatenate_alike_stay_apart_and_survive_the_snapshot() -> None:
    """The client-id windows key ``(account, client order id)`` as one string: pairs whose
    concatenations are equal (``"ab" + ":c"`` and ``"ab:" + "c"``) are different orders."""
    from streams.matching import CancelOrder, OrderAccepted, OrderCancelled, Side, SubmitOrder

    engine = MatchingEngine(EngineConfig(IID))
    pairs = [("ab", ":c"), ("ab:", "c"), ("2:ab", "c"), ("", "2:abc")]
    for i, (account, coid) in enumerate(pairs):
        submit = SubmitOrder(command_id=f"s{i}", instrument_id=IID, account_id=account,
                             client_order_id=coid, side=Side.BUY, qty=1, price=100 + i)  # fmt: skip
        (event,) = engine.process(submit)
        assert type(event) is OrderAccepted
    snapshot = json.loads(json.dumps(engine.to_snapshot()))
    assert snapshot["client_ids"][1] == [[a, c, 1 + i] for i, (a, c) in enumerate(pairs)]
    restored = MatchingEngine.from_snapshot(snapshot)
    assert restored.to_snapshot() == engine.to_snapshot()
    for i, (account, coid) in enumerate(pairs):
        cancel = CancelOrder(command_id=f"x{i}", instrument_id=IID, account_id=account,
                             client_order_id=coid)  # fmt: skip
        (event,) = restored.process(cancel)
        assert type(event) is OrderCancelled and event.order_id == 1 + i
