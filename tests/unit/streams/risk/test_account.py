"""Account activity, positions and PnL, revaluation (alerts, liquidation, stop-loss), storage."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from streams.risk import AccountState, PositionState, Revaluation, RiskLimits
from streams.risk.records import decisions_part, order_bucket, orders_part
from tests.unit.streams.risk.risk_support import (
    BTC_CALL,
    CATALOGUE,
    NOW,
    FakePrices,
    decide,
    deposit,
    fill,
    release,
    submit,
)
from topics.contracts import AmendOrder, PositionExpired

D = Decimal


def funded(cash: str = "1000000") -> AccountState:
    state = AccountState("acc-1")
    deposit(state, cash)
    return state


# -- reservations -----------------------------------------------------------------------------
def test_partial_fills_release_their_share_and_the_last_fill_the_order() -> None:
    state = funded("10000")
    assert decide(state, submit(qty="0.04", price="100000", coid="o1")).accepted
    assert state.reserved() == D("4002")  # 4000 + 5 bps
    fill(state, "BTC-USDT", "buy", "0.01", "100000", coid="o1", maker=True)
    assert state.open_orders["o1"].qty_left == D("0.03")
    assert state.reserved() == D("3001.5")
    assert state.cash == D(10_000) - 1000 - D("0.2")  # maker: 2 bps
    fill(state, "BTC-USDT", "buy", "0.03", "99000", coid="o1")
    assert "o1" not in state.open_orders
    assert state.reserved() == 0


def test_released_orders_free_their_reservation() -> None:
    state = funded("10000")
    assert decide(state, submit(qty="0.02", price="100000", coid="o1")).accepted
    assert decide(state, submit(qty="0.01", price="100000", coid="o2")).accepted
    release(state, "o1")
    assert set(state.open_orders) == {"o2"}
    assert state.reserved() == D("1000.5")
    release(state, "never-held")  # nothing to release: harmless
    assert state.reserved() == D("1000.5")


def test_a_rejection_releases_only_what_its_own_command_reserved() -> None:
    state = funded("10000")
    assert decide(state, submit(qty="0.02", price="100000", coid="live",
                                command_id="submit-live")).accepted
    # matching refused a duplicate submit, a cancel, an amend carrying the live order's id
    for command, reason in (("dup", "rejected"), ("cxl", "command_rejected"),
                            ("amd", "rejected")):
        release(state, "live", reason, command_id=command)
    assert set(state.open_orders) == {"live"}
    release(state, "live", "rejected", command_id="submit-live")  # its own submit: it goes
    assert not state.open_orders


def test_releases_booked_before_command_ids_spare_risk_own_rejections() -> None:
    state = funded("10000")
    assert decide(state, submit(qty="0.02", price="100000", coid="live")).accepted
    release(state, "live", "rejected", causation_id="risk:another-command")
    release(state, "live", "command_rejected", causation_id="BTC-USDT:7")
    assert set(state.open_orders) == {"live"}
    release(state, "live", "rejected", causation_id="BTC-USDT:8")  # matching's: the submit's
    assert not state.open_orders


def test_activity_of_the_same_client_order_id_on_another_instrument_is_not_this_order(
) -> None:
    state = funded("10000")
    assert decide(state, submit(qty="0.02", price="100000", coid="stop-1")).accepted
    fill(state, "ETH-USDT", "sell", "1", "3500", coid="stop-1")  # e.g. risk's closing order
    release(state, "stop-1", "filled", symbol="ETH-USDT")
    assert state.open_orders["stop-1"].qty_left == D("0.02")
    release(state, "stop-1", "cancelled")
    assert not state.open_orders


def test_an_applied_amend_takes_matching_quantity_left() -> None:
    state = funded("10000")
    assert decide(state, submit(qty="0.05", price="100000", coid="a1")).accepted
    fill(state, "BTC-USDT", "buy", "0.01", "100000", coid="a1", maker=True)
    release(state, "a1", "amended", command_id="a1-2", leaves_qty="0.03")
    held = state.open_orders["a1"]
    assert (held.qty_left, held.filled) == (D("0.03"), D("0.01"))
    fill(state, "BTC-USDT", "buy", "0.03", "100000", coid="a1", maker=True)
    assert not state.open_orders  # gone with its last fill, as in the book


def test_activity_applies_once() -> None:
    state = funded("100")
    activity = fill(state, "BTC-USDT", "buy", "0.0001", "100000")
    cash, seq = state.cash, state.seq
    assert state.apply(activity, CATALOGUE) is False
    assert (state.cash, state.seq) == (cash, seq)
    assert state.positions["BTC-USDT"].qty == D("0.0001")


def test_expiry_closes_the_position_and_realizes_the_payout() -> None:
    state = funded("10000")
    fill(state, BTC_CALL, "buy", "2", "1500")  # premium 3000, fee 1.5
    expired = PositionExpired(event_id="expiry:BTC:x:acc-1:" + BTC_CALL, ts_event=NOW,
                              account="acc-1", symbol=BTC_CALL, qty=D(2),
                              settlement_price=D(102_000), payout=D(4000))
    assert state.apply(expired, CATALOGUE)
    pos = state.positions[BTC_CALL]
    assert (pos.qty, pos.avg_price, pos.realized) == (0, 0, D(1000))  # 4000 - 2 x 1500
    assert state.cash == D(10_000) - 3000 - D("1.5") + 4000


# -- positions and PnL ------------------------------------------------------------------------
def test_average_price_and_realized_pnl_increase_reduce_flip_close() -> None:
    pos = PositionState()
    assert pos.apply("buy", D(1), D(100), D(1)) == 0
    assert pos.apply("buy", D(1), D(200), D(1)) == 0
    assert (pos.qty, pos.avg_price) == (D(2), D(150))  # increase: average cost
    assert pos.apply("sell", D("0.5"), D(250), D(1)) == D(50)  # reduce at a profit
    assert (pos.qty, pos.avg_price) == (D("1.5"), D(150))  # avg unchanged by a reduce
    assert pos.apply("sell", D(3), D(100), D(1)) == D(-75)  # flip: closes 1.5 at a loss
    assert (pos.qty, pos.avg_price) == (D("-1.5"), D(100))  # the rest opens at the fill
    assert pos.apply("sell", D("0.5"), D(80), D(1)) == 0
    assert (pos.qty, pos.avg_price) == (D(-2), D(95))  # short increase: average again
    assert pos.apply("buy", D(2), D(90), D(1)) == D(10)  # close a short at a profit
    assert (pos.qty, pos.avg_price, pos.realized) == (0, 0, D(-15))


def test_realized_pnl_scales_with_the_contract_size() -> None:
    pos = PositionState()
    pos.apply("sell", D(3), D(20), D(10))
    assert pos.apply("buy", D(1), D(25), D(10)) == D(-50)  # (25 - 20) x 1 x -1 x 10
    assert pos.qty == -2


# -- revaluation: margin call, liquidation, stop-loss -----------------------------------------
NO_STOP = RiskLimits(stop_loss=D(0))


def short_call_account() -> AccountState:
    """30000 deposited, long 0.1 BTC spot, short 1 ATM BTC call sold at 1000 (taker)."""
    state = funded("30000")
    fill(state, "BTC-USDT", "buy", "0.1", "100000")  # -10000, fee 5
    fill(state, BTC_CALL, "sell", "1", "1000")  # +1000, fee 0.5
    assert state.cash == D("20994.5")
    return state


def revalue(state: AccountState, index: str, mark: str,
            limits: RiskLimits = NO_STOP) -> Revaluation:
    prices = FakePrices(indices={"BTC": D(index)}, marks={BTC_CALL: D(mark)})
    return state.revalue(CATALOGUE, prices, limits, NOW)


def test_revaluation_marks_positions() -> None:
    state = short_call_account()
    out = revalue(state, "100000", "1000")
    # equity = cash + 0.1 x 100000 - 1 x 1000; maintenance = 7.5% of the index
    assert out.equity == D("29994.5")
    assert out.maintenance == D(7500)
    assert out.margin_ratio == D(7500) / D("29994.5")
    pos, mark, unrealized, mm = out.positions[BTC_CALL]
    assert (pos.qty, mark, unrealized, mm) == (D(-1), D(1000), D(0), D(7500))
    _, spot_mark, spot_unrealized, spot_mm = out.positions["BTC-USDT"]
    assert (spot_mark, spot_unrealized, spot_mm) == (D(100_000), D(0), D(0))
    assert out.alerts == [] and out.orders == []
    assert state.margin_level == "ok"


def test_margin_call_then_liquidation_alert_once_per_crossing() -> None:
    state = short_call_account()
    # index 110000, call at 22000: equity 20994.5 + 11000 - 22000 = 9994.5, mm 8250 -> 0.825
    out = revalue(state, "110000", "22000")
    assert [(a.kind, a.level, a.alert_id) for a in out.alerts] == [
        ("margin_call", "warning", "risk-alert:acc-1:margin_call-1")]
    assert out.alerts[0].margin_ratio == D(8250) / D("9994.5")
    assert out.orders == []
    assert revalue(state, "110000", "22500").alerts == []  # still a margin call: no repeat

    # call at 24000: equity 7994.5 < mm 8250 -> liquidation, every position closed
    out = revalue(state, "110000", "24000")
    assert [(a.kind, a.level) for a in out.alerts] == [("liquidation", "critical")]
    assert state.margin_level == "liquidation"
    closes = {(o.symbol, o.side, o.qty, o.order_type, o.time_in_force, o.reduce_only)
              for o in out.orders}
    assert closes == {("BTC-USDT", "sell", D("0.1"), "market", "IOC", True),
                      (BTC_CALL, "buy", D(1), "market", "IOC", True)}
    assert len({o.command_id for o in out.orders}) == 2
    assert revalue(state, "110000", "25000").alerts == []  # once per crossing
    assert revalue(state, "110000", "25000").orders == []

    assert revalue(state, "100000", "1000").alerts == []  # recovered: back to ok quietly
    assert state.margin_level == "ok"
    again = revalue(state, "110000", "22000")
    assert [a.kind for a in again.alerts] == ["margin_call"]
    assert again.alerts[0].alert_id not in {a.alert_id for a in out.alerts}


def test_a_jump_straight_to_liquidation_raises_one_alert() -> None:
    state = short_call_account()
    out = revalue(state, "120000", "40000")  # equity -9005.5 -> ratio 999
    assert [a.kind for a in out.alerts] == ["liquidation"]
    assert out.margin_ratio == D(999)
    assert len(out.orders) == 2


def test_an_account_without_shorts_has_no_margin_ratio() -> None:
    state = funded("1000")
    fill(state, "BTC-USDT", "buy", "0.001", "100000")
    out = state.revalue(CATALOGUE, FakePrices(indices={"BTC": D(1)}), NO_STOP, NOW)
    assert out.margin_ratio is None and out.maintenance == 0
    assert [a.kind for a in out.alerts] == []


def test_stop_loss_fires_once_and_rearms_after_the_loss_recedes() -> None:
    limits = RiskLimits(stop_loss=D("0.5"))
    state = funded("20000")
    fill(state, "BTC-USDT", "buy", "0.1", "100000")  # entry 10000

    def at(index: str) -> Revaluation:
        return state.revalue(CATALOGUE, FakePrices(indices={"BTC": D(index)}), limits, NOW)

    assert at("50001").orders == []  # loss 4999.9 < 5000
    first = at("50000")  # loss 5000 = 50% of entry
    assert [(o.symbol, o.side, o.qty, o.reduce_only) for o in first.orders] == [
        ("BTC-USDT", "sell", D("0.1"), True)]
    assert [(a.kind, a.symbol) for a in first.alerts] == [("stop_loss", "BTC-USDT")]
    assert at("45000").orders == []  # still losing: fired already
    assert at("70000").orders == []  # loss 3000: not clearly receded, stays disarmed
    assert at("50000").orders == []
    assert at("80000").orders == []  # loss 2000 < 2500: re-arms
    second = at("49000")
    assert len(second.orders) == 1
    assert second.orders[0].command_id != first.orders[0].command_id
    assert second.alerts[0].alert_id != first.alerts[0].alert_id


# -- storage ----------------------------------------------------------------------------------
class Store(dict[str, Any]):
    """The state store as the agent uses it: parts by name, JSON on the way in and out."""

    def save(self, state: AccountState) -> dict[str, Any]:
        changes = state.changes()
        for part, value in changes.items():
            if value is None:
                self.pop(part, None)
            else:
                self[part] = json.loads(json.dumps(value))
        return changes

    def load(self, account: str = "acc-1") -> AccountState | None:
        return AccountState.load(account, self.get)


def test_stored_parts_round_trip_is_equal_and_behaves_the_same() -> None:
    state = short_call_account()
    request = submit(qty="0.01", price="100000", coid="keep")
    assert decide(state, request).accepted
    assert decide(state, submit(symbol="SOL-USDT")).code is not None
    revalue(state, "110000", "22000")  # margin_call level, one crossing
    state.positions["BTC-USDT"].stop_armed = False

    amend = AmendOrder(command_id="keep-2", ts_sent=NOW, account="acc-1", symbol="BTC-USDT",
                       client_order_id="keep", new_qty=D("0.02"))
    assert decide(state, amend).accepted  # pending: held until matching answers
    fill(state, "BTC-USDT", "buy", "0.004", "100000", coid="keep", maker=True)

    store = Store()
    store.save(state)
    restored = store.load()
    assert restored == state
    assert restored.open_orders["keep"].amends == state.open_orders["keep"].amends != {}
    assert restored.margin_level == "margin_call" and restored.crossings == 1
    assert restored.positions["BTC-USDT"].stop_armed is False
    # 20994.5, less the fill of 0.004 at 100000 and its maker fee
    assert isinstance(restored.cash, Decimal) and restored.cash == D("20594.42")
    # the restored record remembers decisions and applied activity
    assert decide(restored, request).accepted
    assert restored.reserved() == state.reserved()
    assert Store().load("nobody") is None


def test_a_batch_writes_what_it_changed_not_the_history() -> None:
    """Thousands of remembered decisions and open orders: a later batch of a few requests
    writes a few KB (the core, one order bucket per touched order, one segment)."""
    state = funded("100000000")
    limits = RiskLimits(max_open_orders=100_000, orders_per_second=1e9, order_burst=10**9)
    store = Store()
    requests = [submit(qty="0.001", price="100000", coid=f"o{i}", command_id=f"k{i}")
                for i in range(5990)]  # not on a segment's boundary: "late" adds to one
    for i, request in enumerate(requests):
        assert decide(state, request, limits=limits).accepted
        if i % 500 == 499:
            store.save(state)
    store.save(state)
    full = sum(len(json.dumps(v)) for v in store.values())
    assert len(state.decisions) <= 5000 and "k0" not in state.decisions  # evicted
    assert len(store.load().open_orders) == 5990
    assert decide(state, submit(qty="0.001", price="100000", coid="late"),
                  limits=limits).accepted
    written = store.save(state)
    size = sum(len(json.dumps(v)) for v in written.values() if v is not None)
    assert set(written) == {"", orders_part(order_bucket("late")), decisions_part(
        state.decisions.head)}
    assert size < full / 20, (size, full)
    restored = store.load()
    assert restored == state
    again = decide(restored, requests[-1], limits=limits)  # a replay: the same answer,
    assert again.accepted and len(restored.open_orders) == 5991  # nothing held twice


def test_the_one_record_form_written_before_parts_still_loads() -> None:
    old = {"account": "acc-1", "cash": "1000", "seq": 3, "positions": {},
           "open_orders": {"old": ["BTC-USDT", "buy", "0.01", "100005", False]},
           "tokens": -1.0, "tokens_at_ms": 0, "decisions": [["c1", 0, 5], ["c2", 5009]],
           "applied": ["fill-1"], "margin_level": "ok", "crossings": 0}
    restored = Store({"": old}).load()
    held = restored.open_orders["old"]
    assert (held.command_id, held.filled, held.amends) == ("", 0, {})
    assert restored.reserved() == D("1000.05")
    assert restored.decisions.get("c2") == [5009, 0] and "fill-1" in restored.applied
    store = Store()
    store.save(restored)  # written out in parts
    assert "open_orders" not in store[""] and store.load() == restored


@pytest.mark.parametrize("cash", ["0", "-12.34567891", "1e3"])
def test_round_trip_of_an_empty_account(cash: str) -> None:
    state = AccountState("acc-9", cash=D(cash))
    store = Store()
    store.save(state)
    assert store.load("acc-9") == state
