"""settlement.orders → the acceptance service → hedges and ledger, with the worker SIGKILLed
in the middle of hedging: after the restart every order is hedged exactly once and booked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from infra.settings import Settings
from streams.kafka import make_producer
from streams.ledger import check_ledger
from streams.settlement.venue import SimulatedVenue
from streams.worker_process import WorkerProcess
from topics.catalogue import by_name
from topics.contracts import BookUpdate
from topics.contracts.cdc import OptionOrderEvent

from ..streams_support import collect, end_offsets, value

pytestmark = pytest.mark.kafka

ORDERS = by_name("settlement.orders")
BOOK = by_name("md.book")
N = 150


def _order(account: str, i: int) -> OptionOrderEvent:
    now = datetime.now(UTC)
    option_type = "call" if i % 2 else "put"
    return OptionOrderEvent(
        event_id=f"option-order:{uuid.uuid4()}:open", ts_event=now, order_id=uuid.uuid4(),
        account=account, client_order_id=f"c{i}",
        product=f"BTC-20261125-{88000 + 1000 * (i % 5)}-{option_type[0].upper()}",
        underlying="BTC", strike=Decimal(88000 + 1000 * (i % 5)),
        expiry=now + timedelta(days=2), option_type=option_type,
        contract_size=Decimal("0.01"), side="buy", contracts=Decimal(1 + i % 4),
        underlying_price=Decimal(90000), iv=Decimal("0.55"), price=Decimal("1500"),
        premium=Decimal("15") * (1 + i % 4), fee=Decimal("0.3"),
        total=Decimal("15") * (1 + i % 4) + Decimal("0.3"), status="open",
        ordered_at=now, source="stream")


def _deep_book() -> BookUpdate:
    levels = [(Decimal(90000) + i * 10, Decimal(5)) for i in range(1, 21)]
    return BookUpdate(event_id=f"test-book-{uuid.uuid4().hex}", ts_event=datetime.now(UTC),
                      symbol="BTC-USDT", source="consolidated", seq=0,
                      bids=[(Decimal(90000) - i * 10, q) for i, (_, q) in
                            enumerate(levels, start=1)],
                      asks=levels)


def test_a_worker_killed_mid_hedging_hedges_every_order_once(stack: Settings) -> None:
    account = f"acct-{uuid.uuid4().hex[:8]}"
    orders = [_order(account, i) for i in range(N)]
    ids = {str(o.order_id) for o in orders}
    since = {t: end_offsets(stack, t) for t in ("settlement.results", "ledger",
                                                 "settlement.hedges")}
    producer = make_producer(stack)
    producer.produce(BOOK.name, key=b"BTC-USDT", value=BOOK.encode(_deep_book()))
    producer.flush(10)
    app_id = f"test-settle-{uuid.uuid4().hex[:8]}"
    env = {"STRIKEFLOW_WORKER__AGENTS": '["streams.settlement"]',
           "STRIKEFLOW_SETTLEMENT__VENUE_FAILURE_RATE": "0.3",
           "STRIKEFLOW_SETTLEMENT__RETRY_INITIAL_S": "0.05",
           "STRIKEFLOW_SETTLEMENT__RETRY_MAX_S": "0.5"}
    worker = WorkerProcess(stack, app_id, 16172, env=env)
    worker.start()
    try:
        for o in orders:
            producer.produce(ORDERS.name, key=str(o.order_id).encode(), value=ORDERS.encode(o))
        for o in orders[:20]:  # re-emitted (as reconciliation does): must change nothing
            producer.produce(ORDERS.name, key=str(o.order_id).encode(), value=ORDERS.encode(o))
        producer.flush(10)
        collect(stack, "settlement.results",
                lambda m: value(m)["order_id"] in ids and value(m)["state"] == "hedged",
                lambda got: len(got) >= N // 4, since=since["settlement.results"])
        worker.kill()  # SIGKILL in the middle: some orders hedging, some not even started
        worker = WorkerProcess(stack, app_id, 16172, env=env)
        worker.start()
        booked = collect(stack, "settlement.results",
                         lambda m: value(m)["order_id"] in ids and value(m)["state"] == "booked",
                         lambda got: {value(m)["order_id"] for m in got} >= ids,
                         timeout_s=120, since=since["settlement.results"])
    finally:
        worker.stop()
    assert {value(m)["order_id"] for m in booked} == ids
    venue = SimulatedVenue(stack.data_dir / "venue" / "simulated.sqlite", lambda _: None)
    placed = {i: venue.count(f"hedge:{i}") for i in ids}
    assert set(placed.values()) == {1}, "every order hedged exactly once at the venue"
    hedges = collect(stack, "settlement.hedges", lambda m: value(m)["order_id"] in ids,
                     lambda got: {value(m)["order_id"] for m in got} >= ids,
                     since=since["settlement.hedges"])
    by_hedge = {value(m)["hedge_id"]: value(m) for m in hedges}
    assert len(by_hedge) == N
    for hedge in by_hedge.values():  # what we published is what the venue did
        fill = venue.find_order(hedge["hedge_id"])
        assert fill is not None and fill.avg_price == Decimal(hedge["avg_price"])
    entries = collect(stack, "ledger",
                      lambda m: (value(m)["posting_id"].partition(":")[2].removeprefix("hedge:")
                                 in ids),
                      lambda got: len({value(m)["event_id"] for m in got}) >= 8 * N,  # 4 legs each
                      since=since["ledger"])
    check = check_ledger([(v["event_id"], v["posting_id"], v["account"], Decimal(v["amount"]))
                          for v in map(value, entries)])
    assert check.ok, check.problems()
    assert check.balances[account] == -sum((o.total for o in orders), Decimal(0))
