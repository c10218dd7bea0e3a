"""One RFQ's state machine, scenario by scenario (tables of steps and expected answers)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest

from streams.rfq import (
    TRANSITIONS,
    Leg,
    QuoteAdded,
    QuoteCancelled,
    QuoteRefused,
    QuoteReplaced,
    RfqAccepted,
    RfqCancelled,
    RfqClearing,
    RfqCode,
    RfqConfig,
    RfqError,
    RfqExpired,
    RfqNotCleared,
    RfqOpened,
    RfqRefused,
    RfqState,
    RfqStatus,
    event_from_record,
    net_price,
)
from tests.unit.streams.rfq.rfq_support import (
    C1,
    C2,
    C3,
    MARKS,
    SPREAD,
    TAKER,
    apply,
    clear_both,
    opened,
)

Step = tuple[Any, ...]


def q(cid: str, now: int, quote_id: str, maker: str, side: str, price: str,
      **kw: Any) -> Step:
    return ("quote", cid, now, {"quote_id": quote_id, "maker": maker, "side": side,
                                "price": D(price), **kw})


def acc(cid: str, now: int, side: str, **kw: Any) -> Step:
    return ("accept", cid, now, {"side": side, **kw})


# (name, open kwargs, steps, codes of the steps, status at the end, quote id traded or None)
SCENARIOS: list[tuple[str, dict[str, Any], list[Step], list[RfqCode | None], RfqStatus,
                      str | None]] = [
    ("best ask wins", {}, [
        q("a", 1100, "q1", "m1", "ask", "3100"), q("b", 1200, "q2", "m2", "ask", "3050"),
        q("c", 1300, "q3", "m3", "bid", "3000"), acc("d", 1400, "buy")],
     [None, None, None, None], RfqStatus.ACCEPTED, "q2"),
    ("best bid wins", {}, [
        q("a", 1100, "q1", "m1", "bid", "2900"), q("b", 1200, "q2", "m2", "bid", "2950"),
        acc("d", 1400, "sell")],
     [None, None, None], RfqStatus.ACCEPTED, "q2"),
    ("equal prices: the earliest", {}, [
        q("a", 1100, "q1", "m1", "ask", "3100"), q("b", 1100, "q2", "m2", "ask", "3100"),
        acc("d", 1400, "buy")],
     [None, None, None], RfqStatus.ACCEPTED, "q1"),
    ("a replacement loses its time priority", {}, [
        q("a", 1100, "q1", "m1", "ask", "3100"), q("b", 1200, "q2", "m2", "ask", "3100"),
        q("c", 1300, "q3", "m1", "ask", "3100"), acc("d", 1400, "buy")],
     [None, None, None, None], RfqStatus.ACCEPTED, "q2"),
    ("replaced quote cannot be accepted", {}, [
        q("a", 1100, "q1", "m1", "ask", "3000"), q("b", 1200, "q2", "m1", "ask", "3200"),
        acc("d", 1400, "buy", quote_id="q1")],
     [None, None, RfqCode.QUOTE_NOT_FOUND], RfqStatus.OPEN, None),
    ("accept by id, not the best", {}, [
        q("a", 1100, "q1", "m1", "ask", "3000"), q("b", 1200, "q2", "m2", "ask", "3200"),
        acc("d", 1400, "buy", quote_id="q2")],
     [None, None, None], RfqStatus.ACCEPTED, "q2"),
    ("limit not met, then met", {}, [
        q("a", 1100, "q1", "m1", "ask", "3100"), acc("b", 1200, "buy", limit_price=D("3099")),
        acc("c", 1300, "buy", limit_price=D("3100"))],
     [None, RfqCode.LIMIT_NOT_MET, None], RfqStatus.ACCEPTED, "q1"),
    ("seller's limit is a floor", {}, [
        q("a", 1100, "q1", "m1", "bid", "2900"), acc("b", 1200, "sell", limit_price=D("2901"))],
     [None, RfqCode.LIMIT_NOT_MET], RfqStatus.OPEN, None),
    ("taker cannot quote", {}, [q("a", 1100, "q1", TAKER, "ask", "3100")],
     [RfqCode.TAKER_CANNOT_QUOTE], RfqStatus.OPEN, None),
    ("one-sided buy takes asks only", {"one_sided": "buy"}, [
        q("a", 1100, "q1", "m1", "bid", "3000"), q("b", 1100, "q2", "m1", "ask", "3100"),
        acc("c", 1200, "sell"), acc("d", 1300, "buy")],
     [RfqCode.WRONG_SIDE, None, RfqCode.WRONG_SIDE, None], RfqStatus.ACCEPTED, "q2"),
    ("bad quotes", {}, [
        q("a", 1100, "q1", "m1", "mid", "3100"), q("b", 1100, "q2", "m1", "ask", "NaN"),
        q("c", 1100, "q3", "m1", "ask", "3100", amount=D("0")),
        q("d", 1100, "q4", "m1", "ask", "3100", amount=D("9.99")),
        q("e", 1100, "", "m1", "ask", "3100"),
        q("f", 1100, "q6", "m1", "ask", "3100"), q("g", 1100, "q6", "m2", "ask", "3100"),
        ("quote", "h", 1100, {"quote_id": "q8", "maker": "m1", "side": "bid", "price": 3.5})],
     [RfqCode.INVALID_SIDE, RfqCode.INVALID_PRICE, RfqCode.INVALID_AMOUNT,
      RfqCode.QUOTE_AMOUNT_TOO_SMALL, RfqCode.INVALID_IDENTIFIER, None,
      RfqCode.DUPLICATE_QUOTE_ID, RfqCode.INVALID_PRICE], RfqStatus.OPEN, None),
    ("a bigger quote fills the RFQ amount", {}, [
        q("a", 1100, "q1", "m1", "ask", "3100", amount=D("25")), acc("b", 1200, "buy")],
     [None, None], RfqStatus.ACCEPTED, "q1"),
    ("cancelled quote is gone", {}, [
        q("a", 1100, "q1", "m1", "ask", "3100"),
        ("cancel_quote", "b", 1150, {"maker": "m2", "quote_id": "q1"}),
        ("cancel_quote", "c", 1200, {"maker": "m1", "quote_id": "q1"}),
        acc("d", 1300, "buy")],
     [None, RfqCode.QUOTE_NOT_FOUND, None, RfqCode.NO_ELIGIBLE_QUOTE], RfqStatus.OPEN, None),
    ("quote expires after its ttl", {}, [
        q("a", 1100, "q1", "m1", "ask", "3100"), acc("b", 4100, "buy", quote_id="q1"),
        acc("c", 4100, "buy")],
     [None, RfqCode.QUOTE_EXPIRED, RfqCode.NO_ELIGIBLE_QUOTE], RfqStatus.OPEN, None),
    ("quote good until one ms before", {}, [
        q("a", 1100, "q1", "m1", "ask", "3100"), acc("b", 4099, "buy", quote_id="q1")],
     [None, None], RfqStatus.ACCEPTED, "q1"),
    ("nothing after the RFQ expires", {}, [
        q("a", 9000, "q1", "m1", "ask", "3100"), acc("b", 11_000, "buy"),
        q("c", 11_001, "q2", "m1", "ask", "3100")],
     [None, RfqCode.RFQ_EXPIRED, RfqCode.RFQ_EXPIRED], RfqStatus.EXPIRED, None),
    ("time never runs back", {}, [
        q("a", 1100, "q1", "m1", "ask", "3100"), ("expire", "t", 11_000, {}),
        acc("b", 2000, "buy")],
     [None, None, RfqCode.RFQ_EXPIRED], RfqStatus.EXPIRED, None),
    ("only the taker accepts or cancels", {}, [
        q("a", 1100, "q1", "m1", "ask", "3100"), acc("b", 1200, "buy", account="m2"),
        ("cancel", "c", 1300, {"account": "m1"}), ("cancel", "d", 1400, {})],
     [None, RfqCode.NOT_TAKER, RfqCode.NOT_TAKER, None], RfqStatus.CANCELLED, None),
    ("accepted is final", {}, [
        q("a", 1100, "q1", "m1", "ask", "3100"), acc("b", 1200, "buy"),
        ("clear", "ct", 1250, {"attempt": "b", "account": TAKER, "risk_code": None}),
        ("clear", "cm", 1250, {"attempt": "b", "account": "m1", "risk_code": None}),
        acc("c", 1300, "buy"), ("cancel", "d", 1400, {}), ("expire", "e", 99_000, {}),
        q("f", 1500, "q2", "m2", "ask", "3000")],
     [None, None, None, None, RfqCode.RFQ_ALREADY_ACCEPTED, RfqCode.RFQ_ALREADY_ACCEPTED, None,
      RfqCode.RFQ_ALREADY_ACCEPTED], RfqStatus.ACCEPTED, "q1"),
    ("cancelled is final", {}, [
        ("cancel", "a", 1100, {}), q("b", 1200, "q1", "m1", "ask", "3100"),
        acc("c", 1300, "buy")],
     [None, RfqCode.RFQ_CANCELLED, RfqCode.RFQ_CANCELLED], RfqStatus.CANCELLED, None),
    ("leg price would be negative", {}, [
        q("a", 1100, "q1", "m1", "ask", "5000"), acc("b", 1200, "buy"),
        acc("c", 1300, "buy", marks={C1: D("5100")})],
     [None, RfqCode.LEG_PRICE_NOT_POSITIVE, None], RfqStatus.ACCEPTED, "q1"),
    ("missing mark", {}, [
        q("a", 1100, "q1", "m1", "ask", "3000"), acc("b", 1200, "buy", marks={C2: D("1")})],
     [None, RfqCode.NO_MARK], RfqStatus.OPEN, None),
    ("single leg: price must be positive, no marks needed", {"legs": (Leg(C1, "buy"),)}, [
        q("a", 1100, "q1", "m1", "ask", "-1"), q("b", 1100, "q2", "m1", "ask", "4900"),
        acc("c", 1200, "buy", marks={})],
     [RfqCode.INVALID_PRICE, None, None], RfqStatus.ACCEPTED, "q2"),
    ("bad accepts", {}, [
        q("a", 1100, "q1", "m1", "ask", "3100"), acc("b", 1200, "hold"),
        acc("c", 1200, "sell", quote_id="q1"), acc("d", 1200, "buy", limit_price=D("Inf")),
        acc("e", 1200, "sell")],
     [None, RfqCode.INVALID_SIDE, RfqCode.QUOTE_SIDE_MISMATCH, RfqCode.INVALID_PRICE,
      RfqCode.NO_ELIGIBLE_QUOTE], RfqStatus.OPEN, None),
    ("bad time", {}, [("quote", "a", -5, {"quote_id": "q1", "maker": "m1", "side": "ask",
                                          "price": D("1")}),
                      acc("b", 1.5, "buy")],
     [RfqCode.INVALID_TIME, RfqCode.INVALID_TIME], RfqStatus.OPEN, None),
]


@pytest.mark.parametrize(("name", "open_kwargs", "steps", "codes", "status", "traded"),
                         SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_scenario(name: str, open_kwargs: dict[str, Any], steps: list[Step],
                  codes: list[RfqCode | None], status: RfqStatus, traded: str | None) -> None:
    state = opened(**open_kwargs)
    got = [apply(state, step).code for step in steps]
    assert got == codes
    clear_both(state)
    assert state.status is status
    assert (state.trade.quote_id if state.trade else None) == traded
    if state.trade is not None:
        assert net_price(state.spec.legs,  # type: ignore[union-attr]
                         [leg.price for leg in state.trade.legs]) == state.trade.price
        assert all(leg.price > 0 for leg in state.trade.legs)


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"legs": ()}, RfqCode.INVALID_LEG_COUNT),
    ({"legs": tuple(Leg(f"S{i}", "buy") for i in range(5))}, RfqCode.INVALID_LEG_COUNT),
    ({"legs": (Leg(C1, "long"),)}, RfqCode.INVALID_LEG),
    ({"legs": (Leg(C1, "buy", 0),)}, RfqCode.INVALID_LEG),
    ({"legs": (Leg(C1, "buy", True),)}, RfqCode.INVALID_LEG),
    ({"legs": (Leg("", "buy"),)}, RfqCode.INVALID_LEG),
    ({"legs": ("BTC",)}, RfqCode.INVALID_LEG),
    ({"legs": (Leg(C1, "buy"), Leg(C1, "sell"))}, RfqCode.DUPLICATE_LEG),
    ({"legs": (Leg(C1, "buy", 2), Leg(C2, "sell", 4))}, RfqCode.RATIOS_NOT_REDUCED),
    ({"legs": (Leg(C1, "buy", 3), Leg(C2, "sell", 7))}, RfqCode.NO_ADJUSTABLE_LEG),
    ({"amount": D("0")}, RfqCode.INVALID_AMOUNT),
    ({"amount": D("-1")}, RfqCode.INVALID_AMOUNT),
    ({"amount": 1.0}, RfqCode.INVALID_AMOUNT),
    ({"one_sided": "bid"}, RfqCode.INVALID_SIDE),
    ({"taker": ""}, RfqCode.INVALID_IDENTIFIER),
])
def test_open_refused(kwargs: dict[str, Any], code: RfqCode) -> None:
    state = RfqState("r1")
    out = apply(state, ("open", "o", 1000, kwargs))
    assert out.code is code
    assert [type(e) for e in out.events] == [RfqRefused]
    assert state.status is RfqStatus.NEW
    assert apply(state, ("open", "o2", 1001, {})).ok  # a refused open leaves it openable


def test_open_twice_is_refused_but_the_same_command_is_a_replay() -> None:
    state = opened()
    assert apply(state, ("open", "open-1", 5_000, {})).replayed
    out = apply(state, ("open", "open-2", 5_000, {}))
    assert out.code is RfqCode.RFQ_EXISTS


def test_commands_on_an_rfq_never_opened() -> None:
    state = RfqState("r9")
    assert apply(state, q("a", 1, "q1", "m1", "ask", "1")).code is RfqCode.UNKNOWN_RFQ
    assert apply(state, acc("b", 1, "buy")).code is RfqCode.UNKNOWN_RFQ
    assert state.expire(10**12) .events == ()


def test_events_tell_the_story_with_deterministic_ids() -> None:
    state = opened()
    steps = [q("a", 1100, "q1", "m1", "ask", "3100"), q("b", 1200, "q2", "m1", "ask", "3050"),
             q("c", 1250, "q3", TAKER, "ask", "1"),
             ("cancel_quote", "d", 1300, {"maker": "m1", "quote_id": "q2"}),
             q("e", 1400, "q4", "m2", "bid", "3000"), acc("f", 1500, "sell")]
    for step in steps:
        apply(state, step)
    clear_both(state)
    assert [type(e) for e in state.log] == [RfqOpened, QuoteAdded, QuoteReplaced, QuoteRefused,
                                            QuoteCancelled, QuoteAdded, RfqClearing,
                                            RfqAccepted]
    assert [e.event_id for e in state.log] == [f"r1:{n}" for n in range(1, 9)]
    assert [e.causation_id for e in state.log] == ["open-1", "a", "b", "c", "d", "e", "f",
                                                   "clear-f-m"]
    replaced = state.log[2]
    assert isinstance(replaced, QuoteReplaced) and replaced.replaced_quote_id == "q1"
    trade = state.trade
    assert trade is not None and trade.trade_id == "rfq:r1" and trade.side == "sell"
    assert trade.maker == "m2" and trade.price == D("3000") and trade.ts_ms == 1500
    # the taker sells the spread: sells the bought leg, buys the sold one
    assert [(f.symbol, f.taker_side, f.maker_side, f.qty, f.price) for f in trade.legs] == [
        (C1, "sell", "buy", D("10"), D("5000")), (C2, "buy", "sell", D("10"), D("2000"))]


def test_implicit_expiry_is_published_before_the_refusal() -> None:
    state = opened()
    out = apply(state, q("a", 11_000, "q1", "m1", "ask", "3100"))
    assert [type(e) for e in out.events] == [RfqExpired, QuoteRefused]
    assert state.expire(12_000).events == ()


def test_expire_by_timer() -> None:
    state = opened()
    assert state.expire(10_999).events == ()  # open while now < expires_ms
    assert state.seq == 1
    out = state.expire(11_000)
    assert [type(e) for e in out.events] == [RfqExpired]
    assert out.events[0].causation_id == "expiry:r1"
    assert state.status is RfqStatus.EXPIRED and state.quotes == {}
    assert state.expire(11_000).events == ()


def test_quote_valid_until_is_bounded_by_rfq_expiry() -> None:
    state = opened()
    out = apply(state, q("a", 9_500, "q1", "m1", "ask", "3100"))
    assert isinstance(out.events[0], QuoteAdded)
    assert out.events[0].quote.valid_until_ms == 11_000


def test_cancel_is_refused_with_an_event_and_remembered() -> None:
    state = opened()
    out = apply(state, ("cancel", "c", 1100, {"account": "m1"}))
    assert out.code is RfqCode.NOT_TAKER and isinstance(out.events[0], RfqRefused)
    assert apply(state, ("cancel", "c", 1200, {})).code is RfqCode.NOT_TAKER  # replayed
    out = apply(state, ("cancel", "c2", 1200, {}))
    assert out.ok and isinstance(out.events[0], RfqCancelled)


@pytest.mark.parametrize("step", [
    q("a", 1100, "q1", "m1", "ask", "3100"), acc("a", 1100, "buy"),
    ("cancel", "a", 1100, {}), ("cancel_quote", "a", 1100, {"maker": "m1", "quote_id": "q1"}),
    ("open", "a", 1100, {}), ("expire", "a", 50_000, {}),
])
def test_the_same_command_id_is_the_same_outcome_and_changes_nothing(step: Step) -> None:
    state = opened()
    apply(state, q("seed", 1050, "q0", "m9", "ask", "3000"))
    first = apply(state, step)
    before = json.dumps(state.to_record())
    method, cid, _, kwargs = step
    again = apply(state, (method, cid, 60_000, kwargs))  # whatever time it comes back at
    assert again.replayed and again.code == first.code and again.events == first.events
    assert json.dumps(state.to_record()) == before


def test_invalid_command_id_is_answered_but_not_remembered() -> None:
    state = opened()
    before = state.to_record()
    assert apply(state, q("", 1100, "q1", "m1", "ask", "1")).code is RfqCode.INVALID_IDENTIFIER
    assert state.to_record() == before


def test_record_round_trip_through_json() -> None:
    state = opened(legs=(Leg(C1, "buy"), Leg(C2, "sell", 2), Leg(C3, "buy")))
    for step in [q("a", 1100, "q1", "m1", "ask", "1100.5"), q("b", 1200, "q2", "m2", "bid", "-5"),
                 q("c", 1250, "q3", TAKER, "ask", "1")]:
        apply(state, step)
        back = RfqState.from_record(json.loads(json.dumps(state.to_record())))
        assert back == state and back.to_record() == state.to_record()
    apply(state, acc("d", 1300, "buy", marks=MARKS))
    back = RfqState.from_record(json.loads(json.dumps(state.to_record())))
    assert back == state and back.trade is not None
    assert [event_from_record(e.to_record()) for e in state.log] == state.log
    assert state.log[-1].to_record()["trade"]["legs"][2]["price"] == "100.5"


def test_record_of_an_unknown_version_is_refused_loudly() -> None:
    record = opened().to_record() | {"v": 99}
    with pytest.raises(RfqError):
        RfqState.from_record(record)


def test_transition_table_is_the_lifecycle() -> None:
    assert set(TRANSITIONS.values()) == {RfqStatus.OPEN, RfqStatus.CLEARING, RfqStatus.ACCEPTED,
                                         RfqStatus.EXPIRED, RfqStatus.CANCELLED}
    finals = {RfqStatus.ACCEPTED, RfqStatus.EXPIRED, RfqStatus.CANCELLED}
    assert not any(status in finals for status, _ in TRANSITIONS)


def test_config_is_checked() -> None:
    with pytest.raises(ValueError):
        RfqConfig(ttl_ms=0)
    assert SPREAD[0].ratio == 1


def _clearing() -> RfqState:
    state = opened()
    for step in [q("a", 1100, "q1", "m1", "ask", "3100"), q("b", 1200, "q2", "m2", "ask", "3050"),
                 acc("c", 1300, "buy")]:
        assert apply(state, step).ok
    assert state.status is RfqStatus.CLEARING and state.trade is not None
    return state


def test_an_accept_clears_before_it_trades_and_waits_for_both_sides() -> None:
    state = _clearing()
    out = apply(state, acc("c", 1300, "buy"))
    assert out.replayed and out.to_clear is not None and out.to_clear.attempt == "c"
    assert out.trade is None  # nothing goes to matching yet
    # while clearing: no other accept, no quote, no cancel, no expiry
    assert apply(state, acc("d", 1400, "buy")).code is RfqCode.RFQ_CLEARING
    assert apply(state, ("cancel", "e", 1400, {})).code is RfqCode.RFQ_CLEARING
    assert state.expire(50_000).events == ()
    taker = state.clear("t1", attempt="c", account=TAKER, risk_code=None, now_ms=1500)
    assert taker.ok and taker.events == () and state.status is RfqStatus.CLEARING
    assert state.clear("t1", attempt="c", account=TAKER, risk_code=None, now_ms=1600).replayed
    maker = state.clear("m1", attempt="c", account="m2", risk_code=None, now_ms=1600)
    assert state.status is RfqStatus.ACCEPTED and maker.trade is not None
    assert maker.trade.maker == "m2" and maker.trade.price == D("3050")
    # a late repeat of an answer with another id changes nothing
    assert state.clear("m2", attempt="c", account="m2", risk_code=None, now_ms=1700).events == ()


@pytest.mark.parametrize(("who", "code"), [(TAKER, RfqCode.TAKER_NOT_CLEARED),
                                           ("m2", RfqCode.MAKER_NOT_CLEARED)])
def test_a_side_refused_by_risk_reopens_the_rfq_and_releases_both(who: str,
                                                                   code: RfqCode) -> None:
    state = _clearing()
    out = state.clear("x", attempt="c", account=who, risk_code=5002,
                      risk_reason="insufficient funds", now_ms=1500)
    failed = out.to_release
    assert isinstance(failed, RfqNotCleared) and failed.code is code and failed.risk_code == 5002
    assert failed.trade.maker == "m2" and failed.attempt == "c" and out.trade is None
    assert state.status is RfqStatus.OPEN and state.trade is None
    # the other side's answer comes late: stale, nothing happens
    other = "m2" if who == TAKER else TAKER
    assert state.clear("y", attempt="c", account=other, risk_code=None, now_ms=1600).events == ()
    best = state.best_quote("buy", 1700)
    assert best is not None
    # a refused maker's quote is withdrawn; a refused taker may take the same quote again
    assert best.quote_id == ("q1" if who == "m2" else "q2")
    again = apply(state, acc("d", 1700, "buy"))
    assert again.ok and again.to_clear is not None and again.to_clear.attempt == "d"
    clear_both(state)
    assert state.status is RfqStatus.ACCEPTED


def test_a_failed_clearing_does_not_stop_the_rfq_from_expiring() -> None:
    state = _clearing()
    state.clear("x", attempt="c", account=TAKER, risk_code=5002, now_ms=10_500)
    assert [type(e) for e in state.expire(11_000).events] == [RfqExpired]


def test_a_clearing_record_round_trips_and_version_1_records_still_read() -> None:
    state = _clearing()
    state.clear("t1", attempt="c", account=TAKER, risk_code=None, now_ms=1500)
    back = RfqState.from_record(json.loads(json.dumps(state.to_record())))
    assert back == state and back.cleared == {TAKER: 0} and back.attempt == "c"
    old = opened().to_record()
    old["v"] = 1
    del old["attempt"], old["cleared"]
    assert RfqState.from_record(old).status is RfqStatus.OPEN
