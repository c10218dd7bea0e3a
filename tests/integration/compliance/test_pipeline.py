"""Compliance through the real PostgreSQL, Debezium and Kafka, with a worker of this module's
own (CDC bridge, risk, AML screening; its own app id, starting at the end of its inputs):

* a KYC row written by the counter service reaches risk as ``KycChanged`` and an order over
  the tier's notional is refused (5015), one within it forwarded;
* AML cases (structuring over transfers, a wash trade between sub-accounts of one owner)
  are raised once on ``compliance.cases``, and replaying their inputs raises none;
* a malformed message on each new input (``trades``, ``cdc.public.account_kyc``) becomes a
  dead letter with its reason and source offset.
"""

from __future__ import annotations

import json
import random
import string
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from cdc.counter import CounterService
from cdc.offsets import commit_end_offsets
from infra.settings import Settings
from streams.kafka import make_consumer, make_producer
from streams.worker_process import WorkerProcess
from topics.catalogue import by_name
from topics.contracts import FundsTransferred, SubmitOrder, Trade

from ..streams_support import collect, end_offsets, value

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.connect]

D = Decimal
BASE = "KY" + "".join(random.Random(uuid.uuid4().int).choice(string.ascii_uppercase)
                      for _ in range(5))
SYMBOL = f"{BASE}-USDT"
INPUTS = ("cdc.public.orders", "cdc.public.transfers", "cdc.public.accounts",
          "cdc.public.account_kyc", "orders.requests", "accounts.activity", "trades")
ACTIVITY, TRADES, CASES = (by_name(t) for t in ("accounts.activity", "trades",
                                                "compliance.cases"))


@pytest.fixture(scope="module")
def worker(cdc_stack: Settings) -> Iterator[WorkerProcess]:
    app_id = f"test-compliance-{uuid.uuid4().hex[:8]}"
    commit_end_offsets(cdc_stack, app_id, INPUTS)
    env = {"STRIKEFLOW_WORKER__AGENTS": '["cdc.bridge", "streams.risk", "streams.compliance"]',
           "STRIKEFLOW_CDC__RECONCILE_ENABLED": "false",
           "STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES": json.dumps([BASE])}
    process = WorkerProcess(cdc_stack, app_id, 16205, env=env)
    process.start()
    try:
        yield process
    finally:
        process.stop()


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


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def _submit(account: str, cid: str, qty: str, price: str) -> SubmitOrder:
    return SubmitOrder(command_id=f"{account}:{cid}", ts_sent=datetime.now(UTC),
                       account=account, symbol=SYMBOL, client_order_id=cid, side="buy",
                       order_type="limit", qty=D(qty), price=D(price))


def test_kyc_reaches_risk_and_an_order_over_the_tier_is_refused(
        cdc_stack: Settings, counter: CounterService, worker: WorkerProcess) -> None:
    account = f"kyc-{_tag()}"
    since = {t: end_offsets(cdc_stack, t) for t in ("accounts.activity", "orders.events",
                                                     "orders.commands")}
    counter.open_account(account)
    counter.set_kyc(account, "verified", 1)  # before the deposit: tier 0 would cap it
    counter.deposit(account, D(100_000), "funding")
    seen = collect(cdc_stack, "accounts.activity", lambda m: value(m)["account"] == account,
                   lambda got: {value(m)["type"] for m in got} >= {"kyc", "transfer"},
                   timeout_s=90, since=since["accounts.activity"])
    kyc = next(value(m) for m in seen if value(m)["type"] == "kyc")
    assert (kyc["status"], kyc["tier"]) == ("verified", 1)
    # the requests are another topic: risk must have applied the activity before them
    _wait_committed(cdc_stack, worker.app_id, ACTIVITY.name,
                    end_offsets(cdc_stack, ACTIVITY.name))
    producer = make_producer(cdc_stack)
    requests = by_name("orders.requests")
    for req in (_submit(account, "within", "1", "9000"), _submit(account, "over", "2", "9000")):
        producer.produce(requests.name, key=account.encode(), value=requests.encode(req))
    producer.flush(10)
    rejected = collect(cdc_stack, "orders.events",
                       lambda m: value(m).get("account") == account, lambda got: len(got) >= 1,
                       since=since["orders.events"])
    assert [(value(m)["client_order_id"], value(m)["reason_code"]) for m in rejected] == \
        [("over", 5015)]
    forwarded = collect(cdc_stack, "orders.commands",
                        lambda m: value(m).get("account") == account,
                        lambda got: len(got) >= 1, since=since["orders.commands"])
    assert [value(m)["client_order_id"] for m in forwarded] == ["within"]


def _deposit(account: str, n: int, amount: str) -> FundsTransferred:
    return FundsTransferred(event_id=f"transfer:{account}-{n}", ts_event=datetime.now(UTC),
                            account=account, transfer_id=f"{account}-{n}", amount=D(amount),
                            reference=f"r{n}")


def _trade(buyer: str, seller: str, n: int) -> Trade:
    return Trade(event_id=f"{SYMBOL}:{n}", ts_event=datetime.now(UTC), symbol=SYMBOL,
                 trade_id=f"{SYMBOL}-{_RUN}-{n}", price=D("100"), qty=D("3"),
                 aggressor_side="buy", maker_order_id=f"m{n}", taker_order_id=f"k{n}",
                 maker_account=seller, taker_account=buyer, seq=n)


_RUN = _tag()


def _publish(settings: Settings, messages: list[tuple[str, bytes, Any]]) -> None:
    producer = make_producer(settings)
    for topic, key, record in messages:
        producer.produce(topic, key=key, value=by_name(topic).encode(record))
    producer.flush(10)


def test_cases_are_raised_once_and_a_replay_raises_none(
        cdc_stack: Settings, worker: WorkerProcess) -> None:
    structurer, owner = f"st-{_tag()}", f"own{_tag()}"
    since = end_offsets(cdc_stack, CASES.name)
    inputs: list[tuple[str, bytes, Any]] = [
        (ACTIVITY.name, structurer.encode(), _deposit(structurer, n, amount))
        for n, amount in enumerate(["9500", "9900", "9000.01"])]
    inputs.append((TRADES.name, SYMBOL.encode(), _trade(f"{owner}:a", f"{owner}:b", 1)))
    inputs.append((TRADES.name, SYMBOL.encode(), _trade(f"{owner}:a", f"x{_tag()}", 2)))
    _publish(cdc_stack, inputs)
    mine = {structurer, f"{owner}:a"}
    cases = collect(cdc_stack, CASES.name, lambda m: value(m)["account"] in mine,
                    lambda got: len(got) >= 2, timeout_s=90, since=since)
    by_rule = {value(m)["rule"]: value(m) for m in cases}
    assert set(by_rule) == {"structuring", "wash_trade"}
    structuring = by_rule["structuring"]
    assert structuring["case_id"] == structuring["event_id"] == \
        f"structuring:{structurer}:{structurer}-0"
    assert [e["amount"] for e in structuring["evidence"]] == ["9500", "9900", "9000.01"]
    wash = by_rule["wash_trade"]
    assert wash["code"] == 7304 and wash["accounts"] == [f"{owner}:a", f"{owner}:b"]
    assert wash["evidence"][0]["event_id"] == f"{SYMBOL}-{_RUN}-1"
    # the same inputs again (a producer retry, a replayed partition): no new case
    marker = f"st-{_tag()}"
    _publish(cdc_stack, [*inputs, *[(ACTIVITY.name, marker.encode(), _deposit(marker, n, "9500"))
                                    for n in range(3)]])
    for topic in (ACTIVITY.name, TRADES.name):  # the worker has screened the replay
        _wait_committed(cdc_stack, worker.app_id, topic, end_offsets(cdc_stack, topic))
    again = collect(cdc_stack, CASES.name, lambda m: value(m)["account"] in mine | {marker},
                    lambda got: any(value(m)["account"] == marker for m in got),
                    timeout_s=90, since=since)
    assert sorted(value(m)["case_id"] for m in again if value(m)["account"] in mine) == \
        sorted(value(m)["case_id"] for m in cases)


@pytest.mark.parametrize(("topic", "key", "payload", "reason"), [
    ("trades", b"BTC-USDT", b'{"symbol": "BTC-USDT", "price": "NaN"}', "invalid"),
    ("trades", b"ETH-USDT", b"not json", "invalid"),
    ("cdc.public.account_kyc", b'{"id": "acc-x"}', b'{"payload": 1}', None),
])
def test_a_malformed_input_becomes_a_dead_letter(
        cdc_stack: Settings, worker: WorkerProcess, topic: str, key: bytes, payload: bytes,
        reason: str | None) -> None:
    dlq = by_name(topic).dead_letter
    assert dlq is not None
    since = end_offsets(cdc_stack, dlq)
    producer = make_producer(cdc_stack)
    delivered: list[Any] = []
    producer.produce(topic, key=key, value=payload,
                     on_delivery=lambda err, msg: delivered.append(msg))
    producer.flush(10)
    (msg,) = delivered
    letters = collect(cdc_stack, dlq,
                      lambda m: (value(m)["source_partition"], value(m)["source_offset"])
                      == (msg.partition(), msg.offset()),
                      lambda got: len(got) >= 1, timeout_s=60, since=since)
    letter = value(letters[0])
    assert letter["source_topic"] == topic and letter["payload"] == payload.decode()
    assert letter["reason"] == (reason or letter["reason"]) and letter["error"]
