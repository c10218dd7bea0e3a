"""orders.requests → risk → matching → booking → positions and ledger, through the real Kafka."""

from __future__ import annotations

import json
import random
import string
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from cdc.offsets import commit_end_offsets
from infra.settings import Settings
from streams.kafka import make_consumer, make_producer
from streams.ledger import check_ledger
from streams.worker_process import WorkerProcess
from topics.catalogue import by_name
from topics.contracts import FundsTransferred, SubmitOrder

from ..streams_support import collect, end_offsets, value

pytestmark = pytest.mark.kafka

REQUESTS = by_name("orders.requests")
ACTIVITY = by_name("accounts.activity")
AGENTS = '["streams.risk", "streams.matching", "streams.ledger"]'


def _tag(n: int = 6) -> str:
    rng = random.Random(uuid.uuid4().int)
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(n))


def _submit(account: str, symbol: str, cid: str, side: str, qty: str, price: str,
            **extra: Any) -> SubmitOrder:
    return SubmitOrder(command_id=f"{account}:{cid}", ts_sent=datetime.now(UTC),
                       account=account, symbol=symbol, client_order_id=cid, side=side,
                       order_type="limit", qty=Decimal(qty), price=Decimal(price), **extra)


def _wait_committed(settings: Settings, group: str, topic: str, ends: dict[int, int],
                    timeout_s: float = 60) -> None:
    """Until ``group`` has committed ``topic`` up to ``ends`` (it has processed that far)."""
    consumer = make_consumer(settings, group)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = consumer.committed([TopicPartition(topic, p) for p in ends], timeout=10)
            if all(tp.offset >= ends[tp.partition] for tp in done):
                return
            time.sleep(0.5)
    finally:
        consumer.close()
    raise AssertionError(f"{group} did not process {topic} up to {ends}")


def test_risk_gates_orders_and_the_ledger_balances(stack: Settings) -> None:
    base = "RK" + _tag(5)
    symbol = f"{base}-USDT"
    rich, poor, seller = (f"acct-{_tag()}" for _ in range(3))
    env = {"STRIKEFLOW_WORKER__AGENTS": AGENTS,
           "STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES": json.dumps([base])}
    since = {t: end_offsets(stack, t) for t in ("orders.events", "trades", "positions",
                                                 "ledger", "orders.commands")}
    app_id = f"test-risk-{uuid.uuid4().hex[:8]}"
    # The group starts at the end of its inputs: a new group would first work through the
    # whole history (tests, demos) of orders.events; "latest" can miss what is produced
    # before its first fetch.
    commit_end_offsets(stack, app_id, ("orders.requests", "accounts.activity",
                                       "orders.commands", "orders.events"))
    worker = WorkerProcess(stack, app_id, 16171, env=env)
    worker.start()
    try:
        producer = make_producer(stack)
        now = datetime.now(UTC)
        for account in (rich, seller):
            deposit = FundsTransferred(event_id=f"transfer:t-{account}", ts_event=now,
                                       account=account, transfer_id=f"t-{account}",
                                       amount=Decimal("10000"), reference="test deposit")
            for _ in range(2):  # a duplicate delivery must count once
                producer.produce(ACTIVITY.name, key=account.encode(),
                                 value=ACTIVITY.encode(deposit))
        producer.flush(10)
        # The deposits and the orders are on two topics: wait until the worker has applied
        # (and committed) the deposits, or an order could be checked before its funds.
        _wait_committed(stack, app_id, ACTIVITY.name, end_offsets(stack, ACTIVITY.name))
        requests = [
            _submit(rich, symbol, "buy-1", "buy", "1", "100"),
            _submit(seller, symbol, "sell-1", "sell", "1", "100"),
            _submit(poor, symbol, "buy-poor", "buy", "1", "100"),  # no funds
            _submit(rich, symbol, "buy-huge", "buy", "1000", "100"),  # 100k > 10k
            _submit(seller, symbol, "ro-2", "buy", "2", "99", reduce_only=True),  # short 1
        ]
        for i, req in enumerate(requests):
            producer.produce(REQUESTS.name, key=req.account.encode(), value=REQUESTS.encode(req))
            producer.flush(10)
            if i == 1:  # the sell must be booked before the reduce-only check sees the short
                collect(stack, "positions", lambda m: value(m)["symbol"] == symbol,
                        lambda got: {value(m)["account"] for m in got} >= {rich, seller},
                        since=since["positions"])
        mine = {rich, poor, seller}
        rejected = collect(
            stack, "orders.events",
            lambda m: value(m)["symbol"] == symbol and value(m)["kind"] == "rejected",
            lambda got: len(got) >= 3, since=since["orders.events"])
        codes = {value(m)["client_order_id"]: value(m)["reason_code"] for m in rejected}
        assert codes == {"buy-poor": 5009, "buy-huge": 5009, "ro-2": 5006}
        trades = collect(stack, "trades", lambda m: value(m)["symbol"] == symbol,
                         lambda got: len(got) >= 1, since=since["trades"])
        assert len(trades) == 1 and Decimal(value(trades[0])["qty"]) == 1
        positions = collect(stack, "positions", lambda m: value(m)["symbol"] == symbol,
                            lambda got: {value(m)["account"] for m in got} >= {rich, seller},
                            since=since["positions"])
        latest = {value(m)["account"]: value(m) for m in positions}
        assert Decimal(latest[rich]["qty"]) == 1 and Decimal(latest[seller]["qty"]) == -1
        entries = collect(stack, "ledger",
                          lambda m: value(m)["account"] in mine or value(m)["symbol"] == symbol,
                          lambda got: len({value(m)["event_id"] for m in got}) >= 8,
                          since=since["ledger"])
    finally:
        worker.stop()
    rows = [(v["event_id"], v["posting_id"], v["account"], Decimal(v["amount"]))
            for v in map(value, entries)]
    check = check_ledger(rows, clearing_flat=True)
    assert check.ok, check.problems()
    # buyer: maker at 100 pays 100 + 2 bps; seller: taker receives 100 - 5 bps
    assert check.balances[rich] == Decimal("-100.02")
    assert check.balances[seller] == Decimal("99.95")
    assert check.balances["house:fees"] == Decimal("0.07")
    per_account: dict[str, int] = defaultdict(int)
    for _, _, account, _ in rows:
        per_account[account] += 1
    assert poor not in per_account  # a rejected order books nothing
