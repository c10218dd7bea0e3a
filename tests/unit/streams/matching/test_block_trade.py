"""Block trades (a leg of an accepted RFQ): executed off the book, reported as a trade with a
fill for each side, booked like any trade, never twice."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from streams.instruments import spot_instrument
from streams.ledger.booking import booking_outputs
from streams.matching import codes
from streams.matching.engine import MatchingEngine
from streams.matching.translate import to_command, to_messages, ts_ns
from topics.catalogue import by_name
from topics.contracts import BlockTrade, OrderEvent, SubmitOrder, Trade

INSTRUMENT = spot_instrument("BTC")
TS = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
D = Decimal


def _block(**fields: object) -> BlockTrade:
    values: dict[str, object] = {
        "command_id": "rfq:r1:0", "ts_sent": TS, "account": "taker", "symbol": "BTC-USDT",
        "client_order_id": "rfq-r1-0-t", "side": "buy", "qty": D("2"), "price": D("90000"),
        "maker_account": "maker", "maker_client_order_id": "rfq-r1-0-m", "trade_ref": "rfq:r1"}
    return BlockTrade(**(values | fields))


def _run(engine: MatchingEngine, cmd: object) -> list[object]:
    out = []
    for event in engine.process(to_command(cmd, INSTRUMENT, ts_ns(TS))):
        message = to_messages(event, INSTRUMENT)
        if message is not None:
            topic, record = message
            by_name(topic).decode(by_name(topic).encode(record))  # every output validates
            out.append(record)
    return out


def test_a_block_trade_is_a_trade_and_two_fills_off_the_book() -> None:
    engine = MatchingEngine.for_instrument(INSTRUMENT)
    resting = SubmitOrder(command_id="c1", ts_sent=TS, account="other", symbol="BTC-USDT",
                          client_order_id="o1", side="sell", order_type="limit", qty=D(1),
                          price=D("95000"))
    _run(engine, resting)
    before = engine.depth()
    out = _run(engine, _block())
    [trade] = [m for m in out if isinstance(m, Trade)]
    fills = [m for m in out if isinstance(m, OrderEvent)]
    assert (trade.price, trade.qty, trade.maker_account, trade.taker_account) == (
        D("90000"), D(2), "maker", "taker")
    assert [(f.account, f.side, f.kind, f.is_maker, f.trade_id) for f in fills] == [
        ("maker", "sell", "filled", True, trade.trade_id),
        ("taker", "buy", "filled", False, trade.trade_id)]
    after = engine.depth()  # the book did not move (nor did the last price)
    assert (after.bids, after.asks) == (before.bids, before.asks)
    assert engine.last_price is None
    assert _run(engine, _block()) == []  # the same command again: a repeat, dropped


@pytest.mark.parametrize(("fields", "code"), [
    ({"maker_account": "taker"}, codes.Code.BLOCK_TRADE_WITH_ITSELF),
])
def test_a_block_trade_the_engine_refuses(fields: dict[str, object], code: codes.Code) -> None:
    engine = MatchingEngine.for_instrument(INSTRUMENT)
    [rejected] = _run(engine, _block(**fields))
    assert isinstance(rejected, OrderEvent) and rejected.kind == "command_rejected"
    assert rejected.reason_code == code


def test_a_halted_instrument_takes_no_block_trade() -> None:
    engine = MatchingEngine.for_instrument(INSTRUMENT)
    from streams.matching import HaltInstrument

    engine.process(HaltInstrument(command_id="h", instrument_id="BTC-USDT", ts=ts_ns(TS)))
    taker, maker = _run(engine, _block())
    assert taker.reason_code == maker.reason_code == codes.Code.INSTRUMENT_HALTED
    # both sides are told (each has a hold at risk), each with its own client order id, and
    # booking turns each into the release of that side's hold for this command
    assert [(r.account, r.client_order_id, r.causation_id) for r in (taker, maker)] == [
        ("taker", "rfq-r1-0-t", "rfq:r1:0"), ("maker", "rfq-r1-0-m", "rfq:r1:0")]
    released = [record for event in (taker, maker) for topic, _k, record in
                booking_outputs(event) if topic == "accounts.activity"]
    assert [(r.account, r.client_order_id, r.command_id) for r in released] == [
        ("taker", "rfq-r1-0-t", "rfq:r1:0"), ("maker", "rfq-r1-0-m", "rfq:r1:0")]


def test_booking_books_both_sides_of_a_block_trade() -> None:
    engine = MatchingEngine.for_instrument(INSTRUMENT)
    fills = [m for m in _run(engine, _block()) if isinstance(m, OrderEvent)]
    ledger: dict[str, Decimal] = {}
    activity = []
    for fill in fills:
        for topic, _key, record in booking_outputs(fill):
            if topic == "ledger":
                ledger[record.account] = ledger.get(record.account, D(0)) + record.amount
            else:
                activity.append(record)
    assert sum(ledger.values()) == 0  # balanced, through house:clearing
    cash = {a.account: a.cash for a in activity if a.type == "fill"}
    assert cash == {"maker": D("180000"), "taker": D("-180000")}
