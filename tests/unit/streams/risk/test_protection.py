"""Account-wide requests risk answers itself: cancel-all in one step, and market-maker
protection on an account (fills trip it; the underlying's orders are cancelled; new orders
are refused while frozen; a replayed fill trips again with the same ids)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from streams.risk import AccountState
from streams.risk.codes import RiskCode
from streams.risk.records import MMP
from tests.unit.streams.risk.risk_support import (
    BTC_CALL,
    BTC_CALL_110,
    CATALOGUE,
    NOW,
    NOW_MS,
    FakePrices,
    decide,
    deposit,
    submit,
)
from topics.contracts import CancelAll, Fill, MassCancel, ResetMmp, SetMmpConfig

D = Decimal
PRICES = FakePrices(marks={BTC_CALL: D(2000), BTC_CALL_110: D(500)},
                    greek={BTC_CALL: (D("0.5"), D("40")), BTC_CALL_110: (D("0.2"), D("25"))})


def _maker() -> AccountState:
    state = AccountState("mm-1")
    deposit(state, "10000000")
    return state


def _request(kind: Any, n: int, **fields: Any) -> Any:
    return kind(command_id=f"req-{kind.__name__}-{n}", ts_sent=NOW, account="mm-1", **fields)


def _fill(state: AccountState, symbol: str, side: str, qty: str, *, at_ms: int = NOW_MS,
          n: int = 1, coid: str | None = None) -> bool:
    """A fill of the account's MMP quote on ``symbol`` (or of ``coid``)."""
    coid = coid or QUOTE_OF[symbol]
    activity = Fill(event_id=f"fill:T{n}:maker", ts_event=NOW, account=state.account,
                    symbol=symbol, trade_id=f"T{n}", order_id=f"o-{n}", client_order_id=coid,
                    side=side, liquidity="maker", price=D(2000), qty=D(qty),
                    cash=D(-2000) * D(qty) if side == "buy" else D(2000) * D(qty), fee=D(0))
    return state.apply(activity, CATALOGUE, PRICES, at_ms)


QUOTE_OF = {BTC_CALL: "q1", BTC_CALL_110: "q2", "ETH-USDT": "q3", "BTC-USDT": "q4"}


def _quotes(state: AccountState) -> None:
    """Resting MMP quotes on two BTC options, BTC spot and ETH spot (10 each, so the tests'
    fills leave them open), and a BTC order without the flag (MMP neither counts, cancels
    nor freezes it)."""
    for symbol, coid, side, price in ((BTC_CALL, "q1", "sell", "2000"),
                                      (BTC_CALL_110, "q2", "buy", "500"),
                                      ("ETH-USDT", "q3", "buy", "3500"),
                                      ("BTC-USDT", "q4", "buy", "90000")):
        assert decide(state, submit(symbol, side, "10", price, coid=coid, account="mm-1",
                                    mmp=True), prices=PRICES).accepted
    assert decide(state, submit(BTC_CALL_110, "buy", "1", "450", coid="plain",
                                account="mm-1"), prices=PRICES).accepted


@pytest.mark.parametrize(("scope", "expected"), [
    ({}, ["ETH-USDT", "BTC-USDT", BTC_CALL, BTC_CALL_110]),
    ({"underlying": "BTC"}, ["BTC-USDT", BTC_CALL, BTC_CALL_110]),
    ({"underlying": "ETH"}, ["ETH-USDT"]),
    ({"symbol": BTC_CALL}, [BTC_CALL]),
    ({"underlying": "SOL"}, []),
])
def test_cancel_all_becomes_one_mass_cancel_per_instrument_in_scope(
        scope: dict[str, str], expected: list[str]) -> None:
    state = _maker()
    _quotes(state)
    decision = decide(state, _request(CancelAll, 1, **scope), prices=PRICES)
    assert decision.accepted
    sent = decision.forwarded()
    assert all(isinstance(c, MassCancel) and c.account == "mm-1" for c in sent)
    assert sorted(c.symbol for c in sent) == sorted(expected)
    assert len({c.command_id for c in sent}) == len(sent)
    # a replay of the request (after a crash) sends the very same commands
    assert decide(state, _request(CancelAll, 1, **scope), prices=PRICES).forwarded() == sent


def test_mmp_settings_go_no_further_than_risk() -> None:
    state = _maker()
    decision = decide(state, _request(SetMmpConfig, 1, underlying="BTC", qty_limit=D(5)))
    assert decision.accepted and decision.forwarded() == []
    assert set(state.mmp.configs) == {"BTC"}
    assert decide(state, _request(SetMmpConfig, 2, underlying="BTC", enabled=False)).accepted
    assert set(state.mmp.configs) == set()


@pytest.mark.parametrize(("limits", "fills", "reason"), [
    ({"qty_limit": D(3)}, [(BTC_CALL, "sell", "1"), (BTC_CALL_110, "buy", "2")], "qty"),
    # delta: -1 x 0.5 then -2 x 0.5 = |-1.5| reaches 1.5
    ({"delta_limit": D("1.5")}, [(BTC_CALL, "sell", "1"), (BTC_CALL, "sell", "2")], "delta"),
    # vega: 2 x 40 + 1 x 25 = 105 reaches 100
    ({"vega_limit": D(100)}, [(BTC_CALL, "buy", "2"), (BTC_CALL_110, "buy", "1")], "vega"),
    # spot counts delta 1 per unit
    ({"delta_limit": D(2)}, [("BTC-USDT", "buy", "1"), ("BTC-USDT", "buy", "1")], "delta"),
])
def test_a_trip_cancels_the_underlying_and_freezes_new_orders(
        limits: dict[str, Decimal], fills: list[tuple[str, str, str]], reason: str) -> None:
    state = _maker()
    _quotes(state)
    assert decide(state, _request(SetMmpConfig, 1, underlying="BTC", frozen_ms=5000,
                                  **limits)).accepted
    *first, last = fills
    for n, (symbol, side, qty) in enumerate(first):
        _fill(state, symbol, side, qty, n=n)
        assert state.take_trips() == []
    _fill(state, *last, n=99, at_ms=NOW_MS + 100)
    [trip] = state.take_trips()
    assert trip.breach.reason == reason and trip.breach.value >= trip.breach.limit
    assert sorted((c.symbol, c.client_order_id) for c in trip.cancels) == sorted(
        [(BTC_CALL, "q1"), (BTC_CALL_110, "q2"), ("BTC-USDT", "q4")])  # quotes: not "plain"
    assert trip.alert.kind == "mmp" and trip.alert.symbol == last[0]
    # frozen: a new BTC order is refused, ETH and reducing orders are not
    frozen = decide(state, submit(BTC_CALL, "sell", "1", "2000", account="mm-1", mmp=True),
                    prices=PRICES, now_ms=NOW_MS + 4000)
    assert frozen.code is RiskCode.MMP_FROZEN
    assert decide(state, submit("ETH-USDT", "buy", "1", "3500", account="mm-1", mmp=True),
                  prices=PRICES, now_ms=NOW_MS + 4000).accepted
    assert decide(state, submit(BTC_CALL, "sell", "1", "2000", account="mm-1"),
                  prices=PRICES, now_ms=NOW_MS + 4000).accepted  # not a quote: not frozen
    # the freeze ends on its own
    assert decide(state, submit(BTC_CALL, "sell", "1", "2000", account="mm-1"),
                  prices=PRICES, now_ms=NOW_MS + 5200,
                  now=NOW + timedelta(seconds=5)).accepted


def test_frozen_until_reset_and_one_trip_per_freeze() -> None:
    state = _maker()
    _quotes(state)
    decide(state, _request(SetMmpConfig, 1, underlying="BTC", frozen_ms=0, qty_limit=D(1)))
    _fill(state, BTC_CALL, "sell", "1", n=1)
    assert len(state.take_trips()) == 1
    _fill(state, BTC_CALL, "sell", "1", n=2)  # a quote already in flight: no second trip
    assert state.take_trips() == []
    much_later = NOW_MS + 3_600_000
    order = submit(BTC_CALL, "sell", "1", "2000", account="mm-1", mmp=True)
    assert decide(state, order, prices=PRICES, now_ms=much_later).code is RiskCode.MMP_FROZEN
    assert decide(state, _request(ResetMmp, 2, underlying="BTC"), now_ms=much_later).accepted
    assert decide(state, submit(BTC_CALL, "sell", "1", "2000", account="mm-1"),
                  prices=PRICES, now_ms=much_later).accepted


def test_a_replayed_fill_trips_again_with_the_same_ids_and_the_state_survives_a_reload(
) -> None:
    state = _maker()
    _quotes(state)
    decide(state, _request(SetMmpConfig, 1, underlying="BTC", qty_limit=D(1)))
    assert _fill(state, BTC_CALL, "sell", "1", n=7)
    [trip] = state.take_trips()
    stored: dict[str, Any] = {}
    for part, value in state.changes().items():
        stored[part] = value
    assert MMP in stored
    again = AccountState.load("mm-1", stored.get)
    assert again is not None and set(again.mmp.configs) == {"BTC"}
    assert again.mmp.is_frozen("BTC", NOW_MS + 1)
    # the crash lost the trip's output: the replayed fill is not applied twice, but trips
    assert not _fill(again, BTC_CALL, "sell", "1", n=7)
    [replayed] = again.take_trips()
    assert replayed.alert.alert_id == trip.alert.alert_id
    assert [c.command_id for c in replayed.cancels] == [c.command_id for c in trip.cancels]
    assert again.positions[BTC_CALL].qty == D(-1)  # applied once


def test_accounts_without_protection_write_no_mmp_part() -> None:
    state = _maker()
    _quotes(state)
    _fill(state, BTC_CALL, "sell", "5", n=1)
    assert state.take_trips() == [] and MMP not in state.changes()
