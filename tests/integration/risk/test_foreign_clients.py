"""Inputs no code of ours wrote: another partitioner, poison pills, a restart in between.

kcat and every librdkafka client partition by CRC32 (``consistent_random``) unless told
otherwise; our tables are keyed by Kafka's murmur2. A message that lands on a partition that
does not own its key must still be decided against the account's one true state.
"""

from __future__ import annotations

import json
import uuid
import zlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from cdc.offsets import commit_end_offsets
from infra.settings import Settings
from streams.inbox import owner_partition
from streams.kafka import make_producer, read_since
from streams.risk.records import order_bucket, orders_part, store_key
from streams.worker_process import WorkerProcess
from topics.catalogue import by_name
from topics.contracts import FundsTransferred

from ..streams_support import collect, end_offsets, value
from .test_risk_pipeline import AGENTS, _submit, _tag, _wait_committed

pytestmark = pytest.mark.kafka

REQUESTS = by_name("orders.requests")
ACTIVITY = by_name("accounts.activity")


def _misrouted_account() -> str:
    """An account whose CRC32 partition (librdkafka's default) is not its murmur2 owner."""
    while True:
        account = f"acct-{_tag()}"
        key = account.encode()
        if zlib.crc32(key) % REQUESTS.partitions != owner_partition(key, REQUESTS.partitions):
            return account


def _outcomes(settings: Settings, ids: set[str], since: dict[str, dict[int, int]]
              ) -> dict[str, Any]:
    """command id → "accepted" (forwarded to matching) or its rejection code."""
    found: dict[str, Any] = {}
    for m in read_since(settings, "orders.commands", since["orders.commands"]):
        if value(m)["command_id"] in ids:
            found[value(m)["command_id"]] = "accepted"
    for m in read_since(settings, "orders.events", since["orders.events"]):
        event = value(m)
        if event["event_id"].startswith("risk:") and event.get("causation_id") in ids:
            found[event["causation_id"]] = event["reason_code"]
    return found


def _wait_outcomes(settings: Settings, ids: set[str], since: dict[str, dict[int, int]],
                   timeout_s: float = 90) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        found = _outcomes(settings, ids, since)
        if set(found) >= ids or time.monotonic() > deadline:
            return found
        time.sleep(1)


def test_another_partitioner_and_a_restart_cannot_double_spend(stack: Settings) -> None:
    base = "FP" + _tag(5)
    symbol = f"{base}-USDT"
    account = _misrouted_account()
    env = {"STRIKEFLOW_WORKER__AGENTS": AGENTS,
           "STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES": json.dumps([base])}
    since = {t: end_offsets(stack, t) for t in ("orders.commands", "orders.events")}
    app_id = f"test-foreign-{uuid.uuid4().hex[:8]}"
    commit_end_offsets(stack, app_id, (REQUESTS.name, ACTIVITY.name, "orders.commands",
                                       "orders.events"))
    kcat_like = make_producer(stack, partitioner="consistent_random")
    ours = make_producer(stack)
    worker = WorkerProcess(stack, app_id, 16176, env=env)
    worker.start()
    try:
        deposit = FundsTransferred(event_id=f"transfer:t-{account}", ts_event=datetime.now(UTC),
                                   account=account, transfer_id=f"t-{account}",
                                   amount=Decimal("10000"), reference="test deposit")
        ours.produce(ACTIVITY.name, key=account.encode(), value=ACTIVITY.encode(deposit))
        ours.flush(10)
        _wait_committed(stack, app_id, ACTIVITY.name, end_offsets(stack, ACTIVITY.name))
        first = _submit(account, symbol, "b1", "buy", "0.1", "90000")  # 9,000 of 10,000
        second = _submit(account, symbol, "b2", "buy", "0.1", "90000")  # no funds left
        for req in (first, second):
            kcat_like.produce(REQUESTS.name, key=account.encode(), value=REQUESTS.encode(req))
            kcat_like.flush(10)
        got = _wait_outcomes(stack, {first.command_id, second.command_id}, since)
        assert got == {first.command_id: "accepted", second.command_id: 5009}
        worker.kill()  # state as it stood, read back from the changelog
        worker.start()
        third = _submit(account, symbol, "b3", "buy", "0.01", "90000")  # 900: fits
        fourth = _submit(account, symbol, "b4", "buy", "0.1", "90000")  # would double-spend
        ours.produce(REQUESTS.name, key=account.encode(), value=REQUESTS.encode(third))
        kcat_like.produce(REQUESTS.name, key=account.encode(), value=REQUESTS.encode(fourth))
        ours.flush(10)
        kcat_like.flush(10)
        got = _wait_outcomes(stack, {third.command_id, fourth.command_id}, since)
        assert got == {third.command_id: "accepted", fourth.command_id: 5009}
    finally:
        worker.stop()
    # State was only ever written under the partition that owns the account.
    owner = owner_partition(account.encode(), REQUESTS.partitions)
    changelog = collect(stack, f"{app_id}-risk-accounts-changelog",
                        lambda m: m.key() == account.encode(), lambda got: len(got) >= 1)
    assert {m.partition() for m in changelog} == {owner}


def test_a_poison_pill_in_a_burst_loses_nothing(stack: Settings) -> None:
    base = "PP" + _tag(5)
    symbol = f"{base}-USDT"
    account = f"acct-{_tag()}"
    env = {"STRIKEFLOW_WORKER__AGENTS": '["streams.risk"]',
           "STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES": json.dumps([base])}
    since = {t: end_offsets(stack, t) for t in ("orders.commands", "orders.events",
                                                 "orders.requests.dlq")}
    app_id = f"test-poison-{uuid.uuid4().hex[:8]}"
    commit_end_offsets(stack, app_id, (REQUESTS.name, ACTIVITY.name))
    producer = make_producer(stack)
    requests = [_submit(account, symbol, f"o{i}", "buy", "1", "1") for i in range(80)]
    poison = json.loads(REQUESTS.encode(requests[0]))
    poison |= {"command_id": f"{account}:poison", "client_order_id": "poison",
               "ts_sent": "9999-12-31T23:59:59.999999-23:59"}
    worker = WorkerProcess(stack, app_id, 16177, env=env)
    worker.start()
    try:
        for req in requests[:40]:
            producer.produce(REQUESTS.name, key=account.encode(), value=REQUESTS.encode(req))
        producer.produce(REQUESTS.name, key=account.encode(), value=json.dumps(poison).encode())
        # a key naming one of the account's stored parts, not an account: it must never
        # reach the store (it would overwrite that part with an empty account's)
        part_key = store_key(account, orders_part(order_bucket("o0")))
        producer.produce(REQUESTS.name, key=part_key, value=REQUESTS.encode(requests[0]))
        for req in requests[40:]:
            producer.produce(REQUESTS.name, key=account.encode(), value=REQUESTS.encode(req))
        producer.flush(10)
        ids = {r.command_id for r in requests}
        got = _wait_outcomes(stack, ids, since)
        letters = collect(stack, "orders.requests.dlq",
                          lambda m: "poison" in value(m)["payload"], lambda got: len(got) >= 1,
                          since=since["orders.requests.dlq"])
        wrong_key = collect(stack, "orders.requests.dlq",
                            lambda m: value(m)["reason"] == "wrong_key"
                            and account in value(m)["error"], lambda got: len(got) >= 1,
                            since=since["orders.requests.dlq"])
    finally:
        worker.stop()
    assert set(got) == ids  # every request has its outcome (no funds: 5009)
    assert set(got.values()) <= {5009, 5003}  # no funds, or past the burst
    assert value(letters[0])["source_topic"] == REQUESTS.name
    assert value(letters[0])["source_offset"] >= 0
    assert "not an account id" in value(wrong_key[0])["error"]
