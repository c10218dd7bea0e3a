"""PostgreSQL → Debezium → Kafka → bridge → settlement.orders, through real outages.

Each test writes orders for fresh accounts and reads only what this module's bridge worker
published after the test began; "once" means exactly one message per order on the topic.
"""

from __future__ import annotations

import threading
import time
import xmlrpc.client
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from cdc.bridge.envelope import Change, decode
from cdc.config import CdcConfig
from cdc.connector import pause, resume, wait_running
from cdc.counter import CounterService, PlacedOrder
from cdc.reconcile import debezium_key, reconcile
from infra import stack as infra_stack
from infra.settings import Settings
from streams.kafka import make_consumer, make_producer
from streams.worker_process import WorkerProcess
from tests.conftest import wait_for
from topics.contracts.cdc import OrderRow

from .conftest import TopicReader, from_worker, value

pytestmark = [pytest.mark.postgres, pytest.mark.connect, pytest.mark.kafka]

SETTLEMENT = "settlement.orders"


def _products(counter: CounterService) -> list[str]:
    return [p.id for p in counter.products()]


def _up_again(settings: Settings, cfg: CdcConfig) -> None:
    """``infra up`` after a drill, tolerating another session starting the same service at
    the same moment (supervisord answers ALREADY_STARTED), then wait for the connector."""
    for attempt in range(3):
        try:
            infra_stack.up(settings)
            break
        except xmlrpc.client.Fault as exc:
            if "ALREADY_STARTED" not in str(exc) or attempt == 2:
                raise
    wait_running(settings, cfg, timeout_s=180)


def _place_many(counter: CounterService, accounts: list[str], n: int, threads: int = 8,
                pace_s: float = 0.0, prefix: str = "o",
                progress: Callable[[int], None] | None = None) -> list[PlacedOrder]:
    products = _products(counter)
    placed: list[PlacedOrder] = []
    lock = threading.Lock()

    def work(t: int) -> None:
        for i in range(t, n, threads):
            order = counter.place_order(accounts[i % len(accounts)],
                                        products[i % len(products)], 1 + i % 3, f"{prefix}{i}")
            with lock:
                placed.append(order)
                if progress:
                    progress(len(placed))
            if pace_s:
                time.sleep(pace_s)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert len(placed) == n and not any(o.replayed for o in placed)
    return placed


def _arrived_once(reader: TopicReader, worker: WorkerProcess, placed: list[PlacedOrder],
                  timeout_s: float) -> list[dict[str, Any]]:
    """Every placed order's ``open`` event from our worker, waiting for stragglers and then
    2 s more so a duplicate would be caught too."""
    wanted = {str(o.order_id) for o in placed}
    mine = from_worker(worker)

    def keep(msg: Any) -> bool:
        return mine(msg) and value(msg)["order_id"] in wanted

    got = reader.collect(keep, lambda kept: len(kept) >= len(wanted), timeout_s, settle_s=2.0)
    events = [value(m) for m in got]
    counts = Counter(e["event_id"] for e in events)
    assert not [k for k, n in counts.items() if n > 1], "duplicates on settlement.orders"
    assert {e["order_id"] for e in events} == wanted
    return events


def test_an_order_arrives_typed_and_exact(cdc_stack: Settings, counter: CounterService,
                                          funded: Callable[..., str], bridge: WorkerProcess,
                                          reader: Callable[..., TopicReader]) -> None:
    cdc = reader("cdc.public.orders")
    out = reader(SETTLEMENT)
    account = funded(Decimal("2500.123456"))
    order = counter.place_order(account, _products(counter)[0], 2, "exact-1")

    raw = cdc.collect(lambda m: m.key() == debezium_key(order.order_id),
                      lambda kept: len(kept) >= 1, 30)[0]
    change = decode("cdc.public.orders", raw.key(), raw.value())
    assert isinstance(change, Change) and isinstance(change.row, OrderRow)
    row = change.row
    assert change.op.value == "c" and change.position.lsn is not None
    for name in ("price", "premium", "fee", "total", "contracts", "iv", "underlying_price"):
        assert getattr(row, name) == getattr(order, name), name
    assert row.created_at == order.created_at

    events = _arrived_once(out, bridge, [order], 30)
    event = events[0]
    assert event["event_id"] == f"option-order:{order.order_id}:open"
    assert event["total"] == str(order.total) and event["fee"] == str(order.fee)
    assert Decimal(event["premium"]) + Decimal(event["fee"]) == Decimal(event["total"])
    assert event["source"] == "stream" and event["source_lsn"] == change.position.lsn
    assert counter.balance(account) == Decimal("2500.123456") - order.total


def test_orders_written_while_connect_is_down_all_arrive_once(
        cdc_stack: Settings, cfg: CdcConfig, counter: CounterService,
        funded: Callable[..., str], bridge: WorkerProcess,
        reader: Callable[..., TopicReader]) -> None:
    out = reader(SETTLEMENT)
    accounts = [funded(prefix="down") for _ in range(4)]
    infra_stack.stop(cdc_stack, ("connect",))
    try:
        placed = _place_many(counter, accounts, 1000)  # the counter does not need Connect
    finally:
        _up_again(cdc_stack, cfg)
    _arrived_once(out, bridge, placed, timeout_s=120)


def test_kafka_restarted_mid_stream_loses_and_duplicates_nothing(
        cdc_stack: Settings, cfg: CdcConfig, counter: CounterService,
        funded: Callable[..., str], bridge: WorkerProcess,
        reader: Callable[..., TopicReader]) -> None:
    out = reader(SETTLEMENT)
    accounts = [funded(prefix="kafka") for _ in range(4)]
    started = threading.Event()
    placed: list[PlacedOrder] = []
    writer = threading.Thread(target=lambda: placed.extend(_place_many(
        counter, accounts, 600, threads=4, pace_s=0.03,
        progress=lambda n: n >= 150 and started.set())))
    writer.start()
    try:
        assert started.wait(60), "the writer did not get going"
        infra_stack.stop(cdc_stack, ("connect", "kafka"))  # mid-stream: the writer goes on
    finally:
        _up_again(cdc_stack, cfg)
        writer.join()
    _arrived_once(out, bridge, placed, timeout_s=150)


def _produce(settings: Settings, messages: list[tuple[bytes, bytes | None]]) -> list[int]:
    producer = make_producer(settings)
    offsets: list[int] = []
    for key, payload in messages:
        producer.produce("cdc.public.orders", key=key, value=payload,
                         on_delivery=lambda err, msg: offsets.append(msg.offset()))
        producer.flush(10)  # one at a time: offsets in the order sent
    assert len(offsets) == len(messages)
    return offsets


def test_malformed_rows_and_unexpected_schemas_become_dead_letters(
        cdc_stack: Settings, counter: CounterService, funded: Callable[..., str],
        bridge: WorkerProcess, reader: Callable[..., TopicReader]) -> None:
    cdc = reader("cdc.public.orders")
    dlq = reader("cdc.public.orders.dlq")
    out = reader(SETTLEMENT)
    account = funded()
    order = counter.place_order(account, _products(counter)[0], 1, "dl-base")
    raw = cdc.collect(lambda m: m.key() == debezium_key(order.order_id),
                      lambda kept: len(kept) >= 1, 30)[0]
    good = raw.value()

    def variant(new_id: str, edit: Callable[[dict[str, Any]], None]) -> tuple[bytes, bytes]:
        import json

        env = json.loads(good)
        env["after"]["id"] = new_id
        edit(env)
        return debezium_key(new_id), json.dumps(env).encode()

    import uuid

    ids = [str(uuid.uuid4()) for _ in range(5)]
    bad = [
        variant(ids[0], lambda e: e["after"].update(status="exploded")),           # invalid
        variant(ids[1], lambda e: e["after"].update(rebate="1.5")),                # new column
        (debezium_key(ids[2]), b'{"op": "c", "after": '),                          # not JSON
        variant(ids[3], lambda e: e.update(op="d", before=e["after"], after=None)),  # delete
        (debezium_key(ids[4]), b'{"schema": {"type": "struct"}, "payload": {}}'),  # schema on
    ]
    offsets = _produce(cdc_stack, bad)
    later = counter.place_order(account, _products(counter)[0], 1, "dl-after")

    letters = dlq.collect(lambda m: m.key() in {debezium_key(i) for i in ids},
                          lambda kept: len({m.key() for m in kept}) >= 5, 60)
    by_key = {m.key(): value(m) for m in letters}
    expected = ["invalid", "unexpected_schema", "malformed", "unexpected_delete",
                "unexpected_schema"]
    for oid, offset, reason in zip(ids, offsets, expected, strict=True):
        letter = by_key[debezium_key(oid)]
        assert letter["reason"] == reason, (oid, letter["error"])
        assert letter["source_topic"] == "cdc.public.orders"
        assert letter["source_offset"] == offset
    assert "rebate: Extra inputs are not permitted" in by_key[debezium_key(ids[1])]["error"]
    assert "status" in by_key[debezium_key(ids[0])]["error"]
    _arrived_once(out, bridge, [later], 30)  # the line kept going


def _committed(settings: Settings, group: str, topic: str) -> dict[int, int]:
    consumer = make_consumer(settings, group)
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        parts = consumer.committed([TopicPartition(topic, p) for p in meta.partitions],
                                   timeout=10)
        return {tp.partition: tp.offset for tp in parts}
    finally:
        consumer.close()


def test_reconcile_reemits_what_the_stream_missed_and_debeziums_late_copy_is_absorbed(
        cdc_stack: Settings, cfg: CdcConfig, counter: CounterService,
        funded: Callable[..., str], bridge: WorkerProcess,
        reader: Callable[..., TopicReader]) -> None:
    out = reader(SETTLEMENT)
    cdc = reader("cdc.public.orders")
    account = funded(prefix="recon")
    pause(cdc_stack, cfg)  # Debezium stops streaming; the slot keeps the WAL
    try:
        placed = _place_many(counter, [account], 30, threads=3)
        ours = {str(o.order_id) for o in placed}
        report = reconcile(cdc_stack, cfg, grace_s=0, lookback_s=120)
        assert ours <= {str(m.order_id) for m in report.missing}
        assert report.reemitted >= len(ours)
        events = _arrived_once(out, bridge, placed, timeout_s=60)
        assert {e["source"] for e in events} == {"reconcile"}
    finally:
        resume(cdc_stack, cfg)
    wait_running(cdc_stack, cfg)
    # Debezium now delivers its own copies of the 30 inserts; wait until the bridge has
    # consumed past them, then check that settlement.orders got nothing more.
    keys = {debezium_key(o) for o in ours}
    copies = cdc.collect(lambda m: m.key() in keys and value(m)["source"]["connector"]
                         == "postgresql", lambda kept: len(kept) >= len(keys), 60)
    last = {}
    for m in copies:
        last[m.partition()] = max(last.get(m.partition(), -1), m.offset())
    wait_for(lambda: all(_committed(cdc_stack, bridge.app_id, "cdc.public.orders").get(p, -1)
                         > off for p, off in last.items()), 60,
             "the bridge did not consume Debezium's copies")
    again = _arrived_once(out, bridge, placed, timeout_s=30)
    assert len(again) == len(placed)
    after = reconcile(cdc_stack, cfg, grace_s=0, lookback_s=120, repair=False)
    assert not ours & {str(m.order_id) for m in after.missing}
