"""Engine construction, the reduce-only seam and the convenience views."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from streams.instruments import TradingStatus, listings_at
from streams.matching import (
    Code,
    EngineConfig,
    MatchingEngine,
    NoPositionSource,
    OrderType,
    ReduceOnlyPolicy,
    Side,
)
from tests.unit.streams.matching.harness import BUY, IID, Harness


class FixedPositions:
    """A policy that knows one account may sell at most 3 lots to reduce."""

    def reducible_qty(self, instrument_id: str, account_id: str, side: Side) -> int | None:
        return 3 if (account_id, side) == ("acct-r", Side.SELL) else 0


def test_reduce_only_asks_the_policy() -> None:
    assert isinstance(FixedPositions(), ReduceOnlyPolicy)
    assert isinstance(NoPositionSource(), ReduceOnlyPolicy)
    h = Harness(MatchingEngine(EngineConfig(IID), reduce_only=FixedPositions()))
    assert h.summary(h.sell("r1", 3, 100, account_id="acct-r", reduce_only=True)) == [
        ("accepted", "r1", 100)
    ]
    assert h.summary(h.sell("r2", 4, 100, account_id="acct-r", reduce_only=True)) == [
        ("rejected", "r2", Code.REDUCE_ONLY_WOULD_INCREASE)
    ]


def test_engine_from_a_catalogue_instrument() -> None:
    option = listings_at(datetime(2026, 1, 5, 12, tzinfo=UTC))["BTC-20260109-100000-C"]
    engine = MatchingEngine.for_instrument(option, market_protection_bps=100)
    assert engine.instrument_id == option.instrument_id
    assert engine.config.min_qty == option.qty_to_lots(Decimal("0.01")) == 1
    assert engine.config.expiry_ts == option.expiry_ns
    assert engine.config.market_protection_bps == 100
    halted = MatchingEngine.for_instrument(option.with_status(TradingStatus.HALTED))
    assert halted.status is TradingStatus.HALTED


def test_process_many_is_the_concatenation_of_process() -> None:
    a, b = Harness(), Harness()
    commands = [a.submit_cmd("s1", Side.SELL, 5, 100), a.submit_cmd("b1", BUY, 7, 101),
                a.submit_cmd("s1", Side.SELL, 1, 100)]  # fmt: skip
    assert b.engine.process_many(commands) == [e for c in commands for e in a.run(c)]


def test_open_orders_and_accessors() -> None:
    h = Harness()
    h.buy("b1", 5, 100, display_qty=2)
    h.submit("s1", BUY, 2, order_type=OrderType.STOP_MARKET, stop_price=110)
    h.sell("x", 1, 100)
    views = h.engine.open_orders()
    assert [(v.client_order_id, v.leaves_qty, v.visible_qty) for v in views] == [
        ("b1", 4, 1),
        ("s1", 2, 0),
    ]
    assert views[1].stop_price == 110 and views[1].order_type == "stop_market"
    assert h.engine.last_price == 100 and h.engine.mark_price is None
    assert h.engine.status is TradingStatus.TRADING and h.engine.seq == len(h.log)


def test_reject_and_cancel_codes_are_code_members() -> None:
    """Codes keep their enum type (a compiled engine must not hand out bare ints)."""
    from streams.matching import CancelOrder as Cancel
    from streams.matching import Code, MatchingEngine, Side, SubmitOrder
    from streams.matching.engine import EngineConfig

    engine = MatchingEngine(EngineConfig("X"))
    bad = SubmitOrder(command_id="1", instrument_id="X", account_id="a", client_order_id="o",
                      side=Side.BUY, qty=0, price=5)  # fmt: skip
    ok = SubmitOrder(command_id="2", instrument_id="X", account_id="a", client_order_id="p",
                     side=Side.BUY, qty=1, price=5)  # fmt: skip
    events = engine.process_many([
        bad, ok,
        Cancel(command_id="3", instrument_id="X", account_id="a", client_order_id="zz"),
        Cancel(command_id="4", instrument_id="X", account_id="a", client_order_id="p"),
    ])  # fmt: skip
    codes = [e.code for e in events if hasattr(e, "code")]
    assert codes == [Code.INVALID_QUANTITY, Code.UNKNOWN_ORDER, Code.CANCELLED_BY_USER]
    assert all(type(code) is Code for code in codes)
