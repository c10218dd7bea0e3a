"""Commit → stream latency through Debezium, against a bare Kafka produce → consume.

Three clocks on one machine, all ``time.time()``:

* **baseline** — a Debezium-sized JSON envelope produced to a scratch topic and consumed back:
  what Kafka alone costs between two clients here;
* **commit → cdc.public.orders** — ``place_order`` returns (the transaction is committed), until
  a consumer reads Debezium's change event for that order;
* **commit → settlement.orders** — the same, until the bridge worker's event arrives (the
  bridge batches up to 50 ms);
* **commit → settled** — until settlement publishes ``booked`` for the order: hedged through
  the simulated venue (against a consolidated book this benchmark publishes first) and
  booked to the ledger: order → settled, end to end.

Orders are paced (``--rate``, on a fixed schedule: a slow placement does not lower the rate)
so the figures are latency, not queueing; above ~300/s one placer cannot keep the pace (each
placement is a durable commit), so ``--placers`` threads share it, each on its own account.

    python -m benchmarks.cdc_latency [--orders 600] [--rate 100] [--placers 1]
    python -m benchmarks.cdc_latency --orders 6000 --rate 1000 --placers 4

Needs the stack, ``strikeflow cdc migrate``, ``strikeflow topics apply`` and ``strikeflow cdc
register``; it starts its own bridge worker positioned at the end of the change stream, and a
settlement worker of its own (``--shared-worker``: both agents in one process).
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from cdc.bridge.orders import PRODUCER_HEADER
from cdc.config import get_cdc_config
from cdc.connector import register, wait_running
from cdc.counter import CounterService
from cdc.migrate import migrate
from cdc.offsets import commit_end_offsets
from cdc.products import standard_chain
from cdc.reconcile import debezium_key
from infra.kafka_security import Role
from infra.settings import Settings, get_settings
from streams.kafka import make_consumer, make_producer
from streams.worker_process import WorkerProcess

__all__ = ["main"]

CDC_TOPICS = ("cdc.public.orders", "cdc.public.transfers", "cdc.public.accounts")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _at_end(settings: Settings, topics: tuple[str, ...]) -> Any:
    consumer = make_consumer(settings, f"bench-latency-{uuid.uuid4().hex[:8]}",
                             **{"fetch.wait.max.ms": 5})
    parts = []
    for topic in topics:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        for p in meta.partitions:
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            parts.append(TopicPartition(topic, p, high))
    consumer.assign(parts)
    return consumer


def _baseline(settings: Settings, payload: bytes, count: int, rate: float) -> list[float]:
    topic = f"bench.cdc-latency.{uuid.uuid4().hex[:8]}"
    admin = AdminClient(settings.kafka.client_config(Role.ADMIN))
    admin.create_topics([NewTopic(topic, 3, settings.kafka.replication_factor)])[topic].result(30)
    try:
        consumer = make_consumer(settings, f"bench-latency-{uuid.uuid4().hex[:8]}",
                                 **{"fetch.wait.max.ms": 5})
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(3)])
        producer = make_producer(settings, **{"linger.ms": 0})
        sent: dict[bytes, float] = {}

        def drain(n: int, timeout_s: float) -> list[float]:
            got: list[float] = []
            deadline = time.monotonic() + timeout_s
            while len(got) < n and time.monotonic() < deadline:
                msg = consumer.poll(0.1)
                if msg is not None and not msg.error():
                    got.append((time.time() - sent[msg.key()]) * 1000)
            return got

        # Warm up until every partition has delivered: leaders and metadata of a new topic
        # settle in the first second, which is not what is being measured.
        for i in range(30):
            key = f"w{i}".encode()
            sent[key] = time.time()
            producer.produce(topic, key=key, value=payload)
        producer.flush(30)
        drain(30, 30)

        def produce() -> None:
            for i in range(count):
                key = f"k{i}".encode()
                sent[key] = time.time()
                producer.produce(topic, key=key, value=payload)
                producer.poll(0)
                time.sleep(1 / rate)
            producer.flush(30)

        th = threading.Thread(target=produce)
        th.start()
        got = drain(count, count / rate + 30)
        th.join()
        consumer.close()
        return got
    finally:
        admin.delete_topics([topic])


def _publish_books(settings: Settings) -> None:
    """A deep consolidated book per spot pair, so the simulated venue can fill the hedges
    (a live market-data worker would publish fresher ones)."""
    from topics.catalogue import by_name
    from topics.contracts import BookUpdate

    spec = by_name("md.book")
    producer = make_producer(settings)
    for symbol, mid in (("BTC-USDT", Decimal(91000)), ("ETH-USDT", Decimal(3200))):
        step = mid / 10_000
        book = BookUpdate(event_id=f"bench-book-{uuid.uuid4().hex}", ts_event=datetime.now(UTC),
                          symbol=symbol, source="consolidated", seq=0,
                          bids=[(mid - step * i, Decimal(50)) for i in range(1, 21)],
                          asks=[(mid + step * i, Decimal(50)) for i in range(1, 21)])
        producer.produce(spec.name, key=symbol.encode(), value=spec.encode(book))
    producer.flush(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=600)
    parser.add_argument("--rate", type=float, default=100.0, help="orders per second")
    parser.add_argument("--placers", type=int, default=1, help="threads placing the orders")
    parser.add_argument("--shared-worker", action="store_true",
                        help="bridge and settlement in one worker process (as before)")
    args = parser.parse_args()
    settings, cfg = get_settings(), get_cdc_config()
    migrate(settings)
    register(settings, cfg)
    wait_running(settings, cfg)
    app_id = f"bench-cdc-{uuid.uuid4().hex[:6]}"
    commit_end_offsets(settings, app_id, CDC_TOPICS)
    worker = WorkerProcess(settings, app_id, settings.worker.web_port + 9, offset_reset="latest")
    worker.env["STRIKEFLOW_CDC__RECONCILE_ENABLED"] = "false"  # measure the stream alone
    workers = [worker]
    if args.shared_worker:
        worker.env["STRIKEFLOW_WORKER__AGENTS"] = '["cdc.bridge", "streams.settlement"]'
    else:
        # Settlement (hedging through the venue, booking) costs far more per order than the
        # bridge; on one event loop it delays the bridge's batches once orders arrive faster
        # than it settles them. Its own worker process, as a deployment would scale it.
        worker.env["STRIKEFLOW_WORKER__AGENTS"] = '["cdc.bridge"]'
        settler = WorkerProcess(settings, f"{app_id}-settle", settings.worker.web_port + 10,
                                offset_reset="latest")
        settler.env["STRIKEFLOW_WORKER__AGENTS"] = '["streams.settlement"]'
        workers.append(settler)
    _publish_books(settings)
    for w in workers:
        w.start()
    mark = app_id.encode()
    try:
        with CounterService.connect(settings, cfg, min_size=2,
                                    max_size=max(4, args.placers + 1)) as svc:
            svc.list_products(standard_chain(datetime.now(UTC),
                                             {"BTC": cfg.spot_btc, "ETH": cfg.spot_eth}))
            products = [p.id for p in svc.products()]
            account = f"bench-lat-{uuid.uuid4().hex[:6]}"
            placers = [f"{account}-{t}" for t in range(args.placers)]
            for a in [account, *placers]:
                svc.open_account(a)
                svc.deposit(a, Decimal(10**9), "bench")
            # Warm up: a fresh worker's first seconds (rebalance, table recovery, JIT of
            # nothing but the OS caches) are not the steady state being measured.
            warm = _at_end(settings, ("settlement.orders",))
            warm_ids = {str(svc.place_order(account, products[i % len(products)], 1,
                                            f"w{i}").order_id) for i in range(20)}
            deadline = time.monotonic() + 60
            while warm_ids and time.monotonic() < deadline:
                msg = warm.poll(0.2)
                if msg is not None and not msg.error() and \
                        dict(msg.headers() or []).get(PRODUCER_HEADER) == mark:
                    warm_ids.discard(json.loads(msg.value())["order_id"])
            warm.close()
            time.sleep(3)  # let the first offset commit and changelog flush pass
            consumer = _at_end(settings, ("cdc.public.orders", "settlement.orders",
                                          "settlement.results"))
            committed: dict[str, float] = {}
            at_cdc: dict[str, float] = {}
            at_settlement: dict[str, float] = {}
            at_booked: dict[str, float] = {}
            stamped: dict[str, float] = {}  # the bridge's produce time (the record's timestamp)
            sample: list[bytes] = []

            start = time.monotonic() + 0.1

            def place(t: int) -> None:
                # Placer t places orders t, t + placers, ... each at its slot of the schedule.
                for i in range(t, args.orders, args.placers):
                    delay = start + i / args.rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    order = svc.place_order(placers[t], products[i % len(products)], 1,
                                            f"l{i}")
                    committed[str(order.order_id)] = time.time()

            threads = [threading.Thread(target=place, args=(t,)) for t in range(args.placers)]
            for th in threads:
                th.start()
            deadline = time.monotonic() + args.orders / args.rate + 60

            def done() -> bool:
                return not any(th.is_alive() for th in threads) and \
                    set(committed) <= (set(at_cdc) & set(at_settlement) & set(at_booked))

            # Consume in batches and test for the end at most every 0.1 s: polling one message
            # at a time, and comparing every order's sets after each, cannot keep up with the
            # several messages per order of 1,000 orders/s, and would measure its own lag.
            check_at = 0.0
            while time.monotonic() < deadline:
                if time.monotonic() >= check_at:
                    if done():
                        break
                    check_at = time.monotonic() + 0.1
                first = consumer.poll(0.05)  # the first as soon as it arrives, then the
                msgs = [] if first is None else [first, *consumer.consume(1000, 0)]  # queue
                now = time.time()  # arrival first: the placer may not have noted the commit yet
                for msg in msgs:
                    if msg.error():
                        continue
                    if msg.topic() == "settlement.results":
                        if b"booked" not in msg.value():
                            continue
                        result = json.loads(msg.value())
                        if result["state"] == "booked":
                            at_booked.setdefault(result["order_id"], now)
                    elif msg.topic() == "cdc.public.orders":
                        at_cdc.setdefault(json.loads(msg.key())["id"], now)
                        if not sample:
                            sample.append(msg.value())
                    elif dict(msg.headers() or []).get(PRODUCER_HEADER) == mark:
                        order_id = json.loads(msg.value())["order_id"]
                        at_settlement.setdefault(order_id, now)
                        stamped[order_id] = msg.timestamp()[1] / 1000
            for th in threads:
                th.join()
            stamps = sorted(committed.values())
            achieved = (len(stamps) - 1) / max(stamps[-1] - stamps[0], 1e-9)
            consumer.close()
            to_cdc = [(at_cdc[o] - c) * 1000 for o, c in committed.items() if o in at_cdc]
            to_settlement = [(at_settlement[o] - c) * 1000 for o, c in committed.items()
                             if o in at_settlement]
            to_produced = [(stamped[o] - c) * 1000 for o, c in committed.items() if o in stamped]
            to_booked = [(at_booked[o] - c) * 1000 for o, c in committed.items()
                         if o in at_booked]
        assert sample, "no change event arrived"
        base = _baseline(settings, sample[0], args.orders, args.rate)
    finally:
        for w in workers:
            w.stop()
    print(f"{args.orders} orders at {args.rate:.0f}/s (achieved {achieved:.0f}/s), "
          f"{'one worker' if args.shared_worker else 'bridge and settlement workers'}, "
          f"{args.placers} placer(s) on their own accounts; key bytes e.g. "
          f"{debezium_key(uuid.UUID(int=0)).decode()}")
    b50, b99 = _pct(base, 0.5), _pct(base, 0.99)
    print(f"baseline Kafka produce→consume   p50 {b50:7.1f} ms  p99 {b99:7.1f} ms "
          f"(n={len(base)})")
    for label, values in (("commit → cdc.public.orders", to_cdc),
                          ("commit → settlement.orders", to_settlement),
                          ("  (bridge's produce timestamp)", to_produced),
                          ("commit → settled (hedged, booked)", to_booked)):
        p50, p99 = _pct(values, 0.5), _pct(values, 0.99)
        print(f"{label:32s} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms (n={len(values)}, "
              f"mean {statistics.fmean(values):.1f})  ratio p50 {p50 / b50:.1f}x "
              f"p99 {p99 / b99:.1f}x")
    print("target of the seed system: sub-100 ms commit → stream")


if __name__ == "__main__":
    main()
