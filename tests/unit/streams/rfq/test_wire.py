"""The RFQ agent's glue: every domain event becomes a valid ``rfq.events`` record, and an
accepted quote becomes per-leg block trades that matching executes and booking books."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D

from streams.instruments import listings_at
from streams.matching.engine import MatchingEngine
from streams.matching.translate import to_command, to_messages, ts_ns
from streams.rfq import Leg, RfqState
from streams.rfq.wire import block_trade_commands, releases, reservations, to_update
from tests.unit.streams.rfq.rfq_support import CONFIG, apply, clear_both
from topics.catalogue import by_name
from topics.contracts import OrderEvent, Trade

NOW = datetime.fromisoformat("2026-01-05T12:00:00+00:00")
NOW_MS = int(NOW.timestamp() * 1000)
LISTED = listings_at(NOW)
C1, C2 = "BTC-20260109-100000-C", "BTC-20260109-110000-C"
MARKS = {C1: D(2000), C2: D(500)}
EVENTS = by_name("rfq.events")


def _accepted() -> tuple[RfqState, list[object]]:
    state = RfqState("r1")
    steps = [
        ("open", "o", NOW_MS, {"taker": "tk", "amount": D(2), "config": CONFIG,
                               "legs": (Leg(C1, "buy"), Leg(C2, "sell"))}),
        ("quote", "q1", NOW_MS + 1, {"quote_id": "a1", "maker": "mk1", "side": "ask",
                                     "price": D(1600), "amount": D(2)}),
        ("quote", "q2", NOW_MS + 2, {"quote_id": "a2", "maker": "mk2", "side": "ask",
                                     "price": D(1550), "amount": D(5)}),
        ("quote", "bad", NOW_MS + 3, {"quote_id": "x", "maker": "tk", "side": "bid",
                                      "price": D(1400), "amount": D(2)}),
        ("accept", "acc", NOW_MS + 4, {"account": "tk", "side": "buy", "marks": MARKS}),
    ]
    events: list[object] = []
    for step in steps:
        events += apply(state, step).events
    for out in clear_both(state):
        events += out.events
    return state, events


def test_every_event_is_a_valid_rfq_events_record_with_the_domain_ids() -> None:
    _, events = _accepted()
    records = [to_update(e) for e in events]  # type: ignore[arg-type]
    for record in records:
        assert EVENTS.decode(EVENTS.encode(record)) == record
    assert [r.kind for r in records] == ["rfq_opened", "quote_added", "quote_added",
                                         "quote_refused", "rfq_clearing", "rfq_accepted"]
    assert [r.event_id for r in records] == [f"r1:{n}" for n in range(1, 7)]
    clearing = records[4]  # the accept's answer already names the maker and the price
    assert (clearing.maker, clearing.price, clearing.causation_id) == ("mk2", D(1550), "acc")
    refused = records[3]
    assert refused.code is not None and refused.reason and refused.account == "tk"
    accepted = records[-1]
    assert (accepted.maker, accepted.price, accepted.trade_id) == ("mk2", D(1550), "rfq:r1")


def test_the_block_trade_goes_through_matching_leg_by_leg_at_prices_netting_to_the_quote(
) -> None:
    state, _ = _accepted()
    assert state.trade is not None
    commands = block_trade_commands(state.trade)
    assert [c.command_id for c in commands] == ["rfq:r1:0", "rfq:r1:1"]
    assert block_trade_commands(state.trade) == commands  # deterministic: replays are repeats
    net = sum((c.price if c.side == "buy" else -c.price) for c in commands)
    assert net == D(1550)
    trades = []
    for cmd in commands:
        inst = LISTED[cmd.symbol]
        engine = MatchingEngine.for_instrument(inst)
        for event in engine.process(to_command(cmd, inst, ts_ns(NOW))):
            out = to_messages(event, inst)
            assert out is not None
            topic, message = out
            by_name(topic).decode(by_name(topic).encode(message))
            if isinstance(message, Trade):
                trades.append(message)
            else:
                assert isinstance(message, OrderEvent) and message.kind == "filled"
    assert [(t.symbol, t.qty, t.taker_account, t.maker_account, t.aggressor_side)
            for t in trades] == [(C1, D(2), "tk", "mk2", "buy"), (C2, D(2), "tk", "mk2", "sell")]


def test_a_leg_the_venue_cannot_execute_vetoes_the_accept_and_nothing_changes() -> None:
    from streams.rfq.codes import RfqCode
    from streams.rfq.state import RfqStatus

    state = RfqState("r2")
    apply(state, ("open", "o", NOW_MS, {"taker": "tk", "amount": D(2), "config": CONFIG,
                                         "legs": (Leg(C1, "buy"), Leg(C2, "sell"))}))
    apply(state, ("quote", "q", NOW_MS + 1, {"quote_id": "a", "maker": "mk", "side": "ask",
                                              "price": D(1552), "amount": D(2)}))
    vetoed = state.accept("acc", account="tk", side="buy", now_ms=NOW_MS + 2, marks=MARKS,
                          tradable=lambda trade: RfqCode.LEG_NOT_TRADABLE)
    assert vetoed.code is RfqCode.LEG_NOT_TRADABLE and state.status is RfqStatus.OPEN
    assert state.trade is None
    assert state.accept("acc2", account="tk", side="buy", now_ms=NOW_MS + 3,
                        marks=MARKS).ok


def test_clearing_asks_risk_to_hold_each_side_with_the_ids_its_fills_will_carry() -> None:
    state = RfqState("r3")
    apply(state, ("open", "o", NOW_MS, {"taker": "tk", "amount": D(2), "config": CONFIG,
                                         "legs": (Leg(C1, "buy"), Leg(C2, "sell"))}))
    apply(state, ("quote", "q", NOW_MS + 1, {"quote_id": "a", "maker": "mk", "side": "ask",
                                              "price": D(1552), "amount": D(2)}))
    out = apply(state, ("accept", "acc", NOW_MS + 2, {"account": "tk", "side": "buy",
                                                      "marks": MARKS}))
    assert out.to_clear is not None and state.trade is not None
    holds = reservations(out.to_clear)
    activity = by_name("accounts.activity")
    for hold in holds:
        assert activity.decode(activity.encode(hold)) == hold
    taker, maker = holds
    assert (taker.account, maker.account) == ("tk", "mk")
    assert taker.event_id == "reserve:acc:tk" and taker.attempt == "acc"
    commands = block_trade_commands(state.trade)
    assert [(leg.client_order_id, leg.command_id, leg.side) for leg in taker.legs] == [
        (c.client_order_id, c.command_id, c.side) for c in commands]
    assert [(leg.client_order_id, leg.side) for leg in maker.legs] == [
        (c.maker_client_order_id, "sell" if c.side == "buy" else "buy") for c in commands]
    failed = state.clear("x", attempt="acc", account="mk", risk_code=5002,
                         risk_reason="insufficient funds", now_ms=NOW_MS + 3)
    assert failed.to_release is not None
    record = to_update(failed.to_release)
    assert record.kind == "rfq_refused" and record.code == 6211 and record.account == "tk"
    assert "mk 5002 insufficient funds" in (record.reason or "")
    undone = releases(failed.to_release)
    assert [(r.account, r.client_order_ids) for r in undone] == [
        (h.account, [leg.client_order_id for leg in h.legs]) for h in holds]
    for release in undone:
        assert activity.decode(activity.encode(release)) == release
