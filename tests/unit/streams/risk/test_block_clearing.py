"""Risk clears an accepted RFQ's block trade before it trades: each side's legs are held at
once (all or none) as orders at the agreed prices would be; the leg's fill, matching's refusal
of its command, or the RFQ agent's release takes the hold away; a replay gets the same
answer."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from infra.risk_limits import RiskLimits
from streams.risk import AccountState
from streams.risk.codes import RiskCode
from tests.unit.streams.risk.risk_support import (
    BTC_CALL,
    BTC_CALL_110,
    CATALOGUE,
    FEES,
    NOW,
    NOW_MS,
    FakePrices,
    decide,
    deposit,
    fill,
    release,
    submit,
)
from topics.contracts import BlockLeg, BlockRelease, BlockReservation

D = Decimal
PRICES = FakePrices(marks={BTC_CALL: D(2000), BTC_CALL_110: D(500)})
#: a call spread: buy the 100k call at 2000, sell the 110k call at 500
SPREAD = ((BTC_CALL, "buy", D(2000)), (BTC_CALL_110, "sell", D(500)))


def _legs(qty: str = "2", legs: tuple[tuple[str, str, Decimal], ...] = SPREAD,
          rfq: str = "r1") -> list[BlockLeg]:
    return [BlockLeg(symbol=s, side=side, qty=D(qty), price=p,
                     client_order_id=f"rfq-{rfq}-{n}-t", command_id=f"rfq:{rfq}:{n}")
            for n, (s, side, p) in enumerate(legs)]


def _hold(state: AccountState, legs: list[BlockLeg], attempt: str = "acc",
          prices: FakePrices = PRICES, rfq: str = "r1") -> RiskCode | None:
    block = BlockReservation(event_id=f"reserve:{attempt}:{state.account}", ts_event=NOW,
                             account=state.account, rfq_id=rfq, attempt=attempt, legs=legs)
    return state.reserve_block(block, now_ms=NOW_MS, now=NOW, catalogue=CATALOGUE,
                               prices=prices, limits=_limits(), fees=FEES)


def _limits() -> RiskLimits:
    return RiskLimits()


def _cost(legs: list[BlockLeg]) -> Decimal:
    """What the legs hold when every leg is bought or opens a short (no position)."""
    total = D(0)
    for leg in legs:
        inst = CATALOGUE[leg.symbol]
        notional = leg.qty * leg.price * (inst.contract_size or D(1))
        total += notional + FEES.max_fee(notional, option=inst.is_option)
    return total


def _available(state: AccountState) -> Decimal:
    return state.available(CATALOGUE, PRICES, _limits())


def test_a_funded_side_is_held_leg_by_leg_and_each_fill_releases_its_leg() -> None:
    state = AccountState("tk")
    deposit(state, "1000000")
    before = _available(state)
    legs = _legs()
    assert _hold(state, legs) is None
    assert set(state.open_orders) == {"rfq-r1-0-t", "rfq-r1-1-t"}
    assert _available(state) < before
    # the answer is remembered: a replay holds nothing more and says the same
    held = _available(state)
    assert _hold(state, legs) is None and _available(state) == held
    for leg in legs:
        fill(state, leg.symbol, leg.side, str(leg.qty), str(leg.price),
             coid=leg.client_order_id)
    assert state.open_orders == {}


def test_a_side_that_cannot_pay_is_refused_and_holds_nothing() -> None:
    state = AccountState("tk")
    legs = _legs(legs=((BTC_CALL, "buy", D(2000)),))
    deposit(state, str(_cost(legs) - 1))
    assert _hold(state, legs) is RiskCode.INSUFFICIENT_FUNDS
    assert state.open_orders == {}
    assert _hold(state, legs) is RiskCode.INSUFFICIENT_FUNDS  # replayed: the same answer


def test_all_legs_or_none_and_orders_already_open_count() -> None:
    state = AccountState("tk")
    legs = _legs(legs=((BTC_CALL, "buy", D(2000)), (BTC_CALL_110, "buy", D(500))))
    deposit(state, str(_cost(legs)))
    # an open order takes part of the money: the block no longer fits, no leg is held
    assert decide(state, submit(BTC_CALL_110, "buy", "1", "500", account="tk"),
                  prices=PRICES).accepted
    assert _hold(state, legs) is RiskCode.INSUFFICIENT_FUNDS
    assert all(not c.startswith("rfq-") for c in state.open_orders)


def test_a_failed_clearing_releases_only_the_block_holds_it_names() -> None:
    state = AccountState("tk")
    deposit(state, "1000000")
    before = _available(state)
    assert decide(state, submit(BTC_CALL, "buy", "1", "2000", account="tk", coid="mine"),
                  prices=PRICES).accepted
    with_order = _available(state)
    assert _hold(state, _legs()) is None
    undo = BlockRelease(event_id="unreserve:acc:tk", ts_event=NOW, account="tk", rfq_id="r1",
                        attempt="acc", client_order_ids=["rfq-r1-0-t", "rfq-r1-1-t", "mine"])
    assert state.apply(undo, CATALOGUE)
    assert set(state.open_orders) == {"mine"} and _available(state) == with_order
    assert not state.apply(undo, CATALOGUE)  # once
    release(state, "mine", symbol=BTC_CALL)
    assert _available(state) == before


def test_matching_refusing_a_leg_releases_that_leg() -> None:
    state = AccountState("tk")
    deposit(state, "1000000")
    legs = _legs()
    assert _hold(state, legs) is None
    release(state, legs[0].client_order_id, "command_rejected", symbol=legs[0].symbol,
            command_id=legs[0].command_id)
    assert set(state.open_orders) == {legs[1].client_order_id}


def test_the_checks_of_an_order_that_do_not_guard_the_book() -> None:
    state = AccountState("tk")
    deposit(state, "1000000")
    assert _hold(state, _legs(legs=(("NOPE-USDT", "buy", D(1)),))) is \
        RiskCode.UNKNOWN_INSTRUMENT
    assert decide(state, submit(BTC_CALL, "buy", "1", "2000", account="tk",
                                coid="rfq-r2-0-t"), prices=PRICES).accepted
    assert _hold(state, _legs(rfq="r2"), "acc2", rfq="r2") is \
        RiskCode.DUPLICATE_CLIENT_ORDER_ID


@settings(max_examples=60, deadline=None)
@given(cash=st.integers(0, 400_000), qty=st.integers(1, 40))
def test_a_hold_never_exceeds_what_is_available(cash: int, qty: int) -> None:
    state = AccountState("tk")
    deposit(state, str(cash))
    before = _available(state)
    legs = _legs(qty=str(D(qty) / 10))
    code = _hold(state, legs)
    if code is None:
        assert _available(state) >= 0
        assert before - _available(state) == state.reserved()
    else:
        assert code is RiskCode.INSUFFICIENT_FUNDS and state.open_orders == {}
        assert _available(state) == before
