"""The wire ⇄ engine translation: every message it builds is a valid contract instance."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from streams.instruments import spot_instrument
from streams.matching import codes
from streams.matching.engine import MatchingEngine
from streams.matching.orderflow import generate_commands
from streams.matching.translate import Rejection, to_command, to_messages, ts_ns
from topics.catalogue import by_name
from topics.contracts import orders as wire

INSTRUMENT = spot_instrument("BTC")
TS = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_every_output_of_a_mixed_run_validates_against_its_contract() -> None:
    engine = MatchingEngine.for_instrument(INSTRUMENT)
    kinds: set[str] = set()
    for cmd in generate_commands(["BTC-USDT"], 3000, seed=3):
        for event in engine.process(to_command(cmd, INSTRUMENT, ts_ns(cmd.ts_sent))):
            out = to_messages(event, INSTRUMENT)
            if out is None:
                continue
            topic, message = out
            again = by_name(topic).decode(by_name(topic).encode(message))  # full validation
            assert json.loads(again.model_dump_json()) == json.loads(message.model_dump_json())
            kinds.add(getattr(message, "kind", "trade"))
    assert {"accepted", "filled", "partially_filled", "cancelled", "trade"} <= kinds


@pytest.mark.parametrize(
    ("fields", "code"),
    [({"price": Decimal("90000.005")}, codes.Code.INVALID_PRICE),
     ({"qty": Decimal("0.000001")}, codes.Code.INVALID_QUANTITY)],
)
def test_off_grid_commands_are_rejected_with_the_engine_codes(
    fields: dict[str, Decimal], code: codes.Code
) -> None:
    cmd = wire.SubmitOrder(**({"command_id": "c1", "ts_sent": TS, "account": "a",
                               "symbol": "BTC-USDT", "client_order_id": "o1", "side": "buy",
                               "order_type": "limit", "qty": Decimal("0.01"),
                               "price": Decimal("90000.5")} | fields))
    with pytest.raises(Rejection) as info:
        to_command(cmd, INSTRUMENT, ts_ns(TS))
    assert info.value.code is code


@pytest.mark.parametrize(
    ("fields", "code"),
    [({"qty": Decimal("1E+100")}, codes.Code.INVALID_QUANTITY),
     ({"price": Decimal("1E+30")}, codes.Code.INVALID_PRICE)],
)
def test_values_beyond_what_the_engine_holds_are_rejected_not_raised(
    fields: dict[str, Decimal], code: codes.Code
) -> None:
    """The contract refuses these; should one get past it, matching still answers with a
    rejection instead of an exception that would crash-loop the worker."""
    cmd = wire.SubmitOrder.model_construct(**({
        "command_id": "c1", "ts_sent": TS, "account": "a", "symbol": "BTC-USDT",
        "client_order_id": "o1", "side": "buy", "order_type": "limit", "qty": Decimal("0.01"),
        "price": Decimal("90000.5"), "time_in_force": "GTC", "expire_at": None,
        "post_only": "no", "reduce_only": False, "trigger_price": None, "trigger_source": "last",
        "trail_ticks": None, "display_qty": None, "protection_price": None,
        "stp": "cancel_newest"} | fields))
    with pytest.raises(Rejection) as info:
        to_command(cmd, INSTRUMENT, ts_ns(TS))
    assert info.value.code is code


def test_the_fast_encoder_writes_exactly_what_the_contracts_would() -> None:
    from streams.matching.translate import encode_event

    engine = MatchingEngine.for_instrument(INSTRUMENT)
    compared = 0
    for cmd in generate_commands(["BTC-USDT"], 2000, seed=9):
        for event in engine.process(to_command(cmd, INSTRUMENT, ts_ns(cmd.ts_sent))):
            slow = to_messages(event, INSTRUMENT)
            fast = encode_event(event, INSTRUMENT, "2026-11-23T12:00:00.000000Z")
            if slow is None:
                assert fast is None
                continue
            topic, message = slow
            reference = json.loads(by_name(topic).encode(
                message.model_copy(update={"ts_init": datetime(2026, 11, 23, 12, tzinfo=UTC)})))
            assert fast is not None and fast[0] == topic
            assert json.loads(fast[1]) == reference
            by_name(topic).decode(fast[1])  # and it passes the contract in full
            compared += 1
    assert compared > 2000


def test_the_engine_clock_is_the_venue_time_not_the_clients_ts_sent() -> None:
    """A cancel stamped a year ahead must not expire another account's GTD order."""
    engine = MatchingEngine.for_instrument(INSTRUMENT)
    now = ts_ns(TS)
    gtd = wire.SubmitOrder(command_id="c1", ts_sent=TS, account="a", symbol="BTC-USDT",
                           client_order_id="o1", side="buy", order_type="limit",
                           qty=Decimal("0.01"), price=Decimal("90000.5"), time_in_force="GTD",
                           expire_at=datetime(2026, 11, 24, tzinfo=UTC))
    engine.process(to_command(gtd, INSTRUMENT, now))
    attack = wire.CancelOrder(command_id="c2", ts_sent=datetime(2027, 11, 23, tzinfo=UTC),
                              account="b", symbol="BTC-USDT", client_order_id="nope")
    engine.process(to_command(attack, INSTRUMENT, now + 1_000_000))
    assert engine.clock == now + 1_000_000
    assert [o.client_order_id for o in engine.open_orders()] == ["o1"]
