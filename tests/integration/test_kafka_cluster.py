"""Kafka as production runs it: three KRaft nodes, replication factor 3, min ISR 2.

A private cluster on its own ports and data dir (not the session's stack) goes through the
drills that RF 3 / min ISR 2 exist for: a broker is SIGKILLed while an idempotent acks=all
producer writes, every acknowledged message is read back once and in order, the broker comes
back into the ISR; with two brokers down an acks=all write is refused, not kept in one copy.
The tests at the top need no service: they pin the configuration the drills rely on.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil
import pytest
from confluent_kafka import KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from infra import stack as infra_stack
from infra.kafka_acls import acls_of_each_broker
from infra.kafka_security import Role
from infra.ports import free_port_block
from infra.services import catalogue, render_kafka_conf, services
from infra.settings import KafkaSettings, Settings
from infra.supervisor import Supervisor
from streams.kafka import make_consumer, make_producer
from tests.conftest import wait_for
from topics.acls import catalogue_grants
from topics.admin import apply_topics
from topics.catalogue import by_name

PARTITIONS = 3


# --- configuration, no service needed ------------------------------------------------------

def test_three_brokers_sit_on_consecutive_ports_and_list_every_voter(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, kafka=KafkaSettings(brokers=3))
    k = settings.kafka
    assert [(n.port, n.controller_port) for n in k.nodes] == [
        (19092, 19093), (19094, 19095), (19096, 19097)]
    assert k.bootstrap_servers == "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096"
    assert (k.replication_factor, k.min_insync_replicas) == (3, 2)
    conf = dict(line.split("=", 1) for line in render_kafka_conf(settings, k.nodes[1])
                .splitlines() if line and not line.startswith("#"))
    assert conf["node.id"] == "2"
    assert conf["controller.quorum.voters"] == (
        "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097")
    assert conf["log.dirs"] == str(tmp_path / "kafka-2")
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "default.replication.factor"):
        assert conf[key] == "3", key
    for key in ("min.insync.replicas", "transaction.state.log.min.isr"):
        assert conf[key] == "2", key


def test_one_broker_keeps_the_fast_local_path() -> None:
    k = KafkaSettings()
    assert (k.brokers, k.bootstrap_servers) == (1, "127.0.0.1:19092")
    assert (k.replication_factor, k.min_insync_replicas) == (1, 1)
    assert [s.name for s in catalogue(1)] == ["postgres", "kafka", "elasticsearch", "connect",
                                              "alertmanager", "prometheus", "redis"]


def test_overlapping_ports_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        KafkaSettings(brokers=3, controller_port=19094)


def test_down_stops_connect_before_the_brokers_with_bounded_waits(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, kafka=KafkaSettings(brokers=3))
    waves = infra_stack._stop_waves(settings, ["kafka-1", "kafka-2", "kafka-3", "connect",
                                               "postgres", "worker-7"])
    assert waves[0] == ["worker-7"]  # unknown to the catalogue: a worker, stopped first
    assert waves[1] == ["connect"]
    assert sorted(waves[2]) == ["kafka-1", "kafka-2", "kafka-3", "postgres"]
    text = Supervisor(settings).render(services(settings))
    waits = [int(line.split("=")[1]) for line in text.splitlines()
             if line.startswith("stopwaitsecs=")]
    assert len(waits) == 9 and max(waits) <= 5  # 3 brokers, PG, ES, Connect, Prom, AM, Redis


# --- the drills, on a private three-broker cluster ------------------------------------------

def _cluster_processes(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(str(data_dir) in part for part in (proc.info["cmdline"] or [])):
            found.append(proc)
    return found


@pytest.fixture(scope="module")
def cluster(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Three brokers with small heaps; stopped, with every process they left, whatever
    happens in the tests."""
    base = free_port_block()
    data_dir = tmp_path_factory.mktemp("kafka-cluster")
    ours = settings.model_copy(update={
        "data_dir": data_dir,
        # The session's Kafka security (on or off) goes with it: a cluster without it would
        # refuse the session's SASL clients, one with it the session's PLAINTEXT ones.
        "kafka": KafkaSettings(port=base, controller_port=base + 1, brokers=3, heap="256m",
                               security=settings.kafka.security),
    })
    try:
        t0 = time.monotonic()
        assert infra_stack.up(ours, ("kafka",)) == ["kafka-1", "kafka-2", "kafka-3"]
        print(f"three-broker cluster up in {time.monotonic() - t0:.1f}s")
        yield ours
    finally:
        t0 = time.monotonic()
        try:
            infra_stack.down(ours)
        finally:
            leftovers = _cluster_processes(data_dir)
            for proc in leftovers:
                proc.kill()
            print(f"cluster down in {time.monotonic() - t0:.1f}s")
            shutil.rmtree(data_dir, ignore_errors=True)
        assert not leftovers, f"left behind: {[p.pid for p in leftovers]}"


def _admin(cluster: Settings) -> AdminClient:
    return AdminClient(cluster.kafka.client_config(Role.ADMIN))


def _isr(cluster: Settings, topic: str) -> dict[int, tuple[int, list[int]]]:
    """Leader and ISR of each partition, as the live brokers see them."""
    meta = _admin(cluster).list_topics(topic, timeout=10).topics[topic]
    return {p.id: (p.leader, sorted(p.isrs)) for p in meta.partitions.values()}


def _new_topic(cluster: Settings) -> str:
    """A catalogue-like topic made by ``apply_topics`` with the cluster's RF and min ISR."""
    k = cluster.kafka
    spec = replace(by_name("md.ticks"), name=f"test.cluster.{uuid.uuid4().hex[:8]}",
                   partitions=PARTITIONS)
    changes = apply_topics(k.bootstrap_servers, (spec,), k.replication_factor,
                           k.min_insync_replicas, settings=cluster)
    assert [c.action for c in changes] == ["created"]
    wait_for(lambda: all(len(isr) == 3 for _, isr in _isr(cluster, spec.name).values()),
             30, "a new topic fully replicated")
    return spec.name


@dataclass
class _Writer:
    """Writes numbered messages with an idempotent acks=all producer in a thread, and keeps
    what each delivery report said."""

    producer: Producer
    topic: str
    acked: dict[int, tuple[int, int]] = field(default_factory=dict)  # seq -> partition, offset
    errors: list[str] = field(default_factory=list)
    sent: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)

    def _report(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.errors.append(err.str())
        else:
            self.acked[int(msg.value())] = (msg.partition(), msg.offset())

    def run(self) -> None:
        while not self.stopping.is_set():
            self.producer.produce(self.topic, key=str(self.sent % 12).encode(),
                                  value=str(self.sent).encode(), on_delivery=self._report)
            self.sent += 1
            self.producer.poll(0.002)  # also paces the writes: ~500/s at most
        self.producer.flush(60)

    def acked_after(self, count: int, timeout_s: float, message: str) -> None:
        goal = len(self.acked) + count
        wait_for(lambda: len(self.acked) >= goal, timeout_s, message)


def _crash(cluster: Settings, name: str) -> None:
    """SIGKILL a broker, then keep supervisord from restarting it until the drill does."""
    sup = Supervisor(cluster)
    pid = (sup.info(name) or {})["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: (sup.info(name) or {}).get("pid") != pid
             or (sup.info(name) or {}).get("statename") != "RUNNING",
             15, f"supervisord saw {name} die")
    infra_stack.stop(cluster, (name,))


def _read_all(cluster: Settings, topic: str, want: set[int],
              timeout_s: float = 60) -> list[tuple[int, int, int]]:
    """(seq, partition, offset) of everything in ``topic``, read until ``want`` is seen."""
    consumer = make_consumer(cluster, f"test-cluster-{uuid.uuid4().hex[:8]}")
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    got: list[tuple[int, int, int]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not want <= {seq for seq, _, _ in got}:
            for msg in consumer.consume(5000, 0.5):
                if msg.error() is None:
                    got.append((int(msg.value()), msg.partition(), msg.offset()))
        # Whatever follows the last acknowledged message (nothing should) is read too.
        for msg in consumer.consume(5000, 1.0):
            if msg.error() is None:
                got.append((int(msg.value()), msg.partition(), msg.offset()))
    finally:
        consumer.close()
    return got


@pytest.mark.kafka
def test_a_killed_broker_loses_no_acknowledged_write_and_rejoins(cluster: Settings) -> None:
    topic = _new_topic(cluster)
    admin = _admin(cluster)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    assert admin.describe_configs([res])[res].result(timeout=10)[
        "min.insync.replicas"].value == "2"

    writer = _Writer(make_producer(cluster), topic)
    thread = threading.Thread(target=writer.run, daemon=True)
    thread.start()
    try:
        writer.acked_after(500, 30, "acks=all writes on a healthy cluster")
        victim = _isr(cluster, topic)[0][0]  # the leader of partition 0
        name = f"kafka-{victim}"
        _crash(cluster, name)
        # The controller fences the dead broker (broker.session.timeout.ms, 9 s) and drops it
        # from every ISR; writes go on with two copies of each message.
        wait_for(lambda: all(victim not in isr and leader != victim
                             for leader, isr in _isr(cluster, topic).values()),
                 40, f"{name} fenced and out of the ISR")
        writer.acked_after(500, 30, "acks=all writes with one broker down")

        assert infra_stack.up(cluster, (name,)) == [name]
        wait_for(lambda: all(isr == [1, 2, 3] for _, isr in _isr(cluster, topic).values()),
                 60, f"{name} back in the ISR of every partition")
        writer.acked_after(500, 30, "acks=all writes after the broker rejoined")
    finally:
        writer.stopping.set()
        thread.join(90)
    assert not thread.is_alive() and not writer.errors, writer.errors[:5]
    assert len(writer.acked) == writer.sent

    got = _read_all(cluster, topic, set(writer.acked))
    seqs = [seq for seq, _, _ in got]
    assert len(seqs) == len(set(seqs)), "a message was written twice"
    assert set(seqs) == set(writer.acked), "an acknowledged message is missing"
    for seq, partition, offset in got:
        assert writer.acked[seq] == (partition, offset)
    for partition in range(PARTITIONS):  # the order each partition was written in
        in_partition = [seq for seq, p, _ in sorted(got, key=lambda g: (g[1], g[2]))
                        if p == partition]
        assert in_partition == sorted(in_partition)

    offsets = _isr(cluster, "__consumer_offsets")  # created by the reader's group
    assert all(len(isr) == 3 for _, isr in offsets.values())


@pytest.mark.kafka
def test_topics_apply_returns_once_every_broker_holds_the_acls(cluster: Settings) -> None:
    """A client started right after ``topics apply`` may reach any broker: each one's own
    authorizer must already hold every grant (else the worker's idempotent producer is
    refused its producer id)."""
    if not cluster.kafka.security.enabled:
        pytest.skip("Kafka security is off")
    _new_topic(cluster)  # topics apply, ACLs included
    wanted = set(catalogue_grants(cluster))
    per_broker = acls_of_each_broker(cluster)
    assert sorted(per_broker) == [1, 2, 3]
    for node, acls in per_broker.items():
        assert wanted <= acls, f"broker {node} lacks {sorted(wanted - acls)[:3]}"


@pytest.mark.kafka
def test_faust_client_aiokafka_writes_and_reads_through_the_cluster(cluster: Settings) -> None:
    """Faust talks to Kafka through aiokafka with every broker as bootstrap."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    topic = _new_topic(cluster)
    servers = cluster.kafka.bootstrap_servers.split(",")

    async def round_trip() -> list[bytes]:
        auth = cluster.kafka.security.aiokafka(Role.WORKER)
        producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all",
                                    enable_idempotence=True, **auth)
        await producer.start()
        try:
            for n in range(20):
                await producer.send_and_wait(topic, str(n).encode(), key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=servers,
                                    auto_offset_reset="earliest",
                                    group_id=f"test-faust-{uuid.uuid4().hex[:8]}", **auth)
        await consumer.start()
        try:
            got: list[bytes] = []
            deadline = time.monotonic() + 30
            while len(got) < 20 and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                got += [m.value for msgs in batches.values() for m in msgs]
            return got
        finally:
            await consumer.stop()

    assert asyncio.run(round_trip()) == [str(n).encode() for n in range(20)]


@pytest.mark.kafka
def test_acks_all_is_refused_with_two_brokers_down(cluster: Settings) -> None:
    infra_stack.up(cluster, ("kafka",))  # whatever an earlier test left
    topic = _new_topic(cluster)
    # Stopped one after the other (``stop`` waits for each): while kafka-2 shuts down,
    # kafka-1 and kafka-2 still make a controller quorum that takes it out of the ISRs.
    infra_stack.stop(cluster, ("kafka-3", "kafka-2"))
    survivor = AdminClient(cluster.kafka.client_config(Role.ADMIN)
                           | {"bootstrap.servers": f"127.0.0.1:{cluster.kafka.port}"})

    def isr_of_survivor() -> dict[int, list[int]]:
        meta = survivor.list_topics(topic, timeout=10).topics[topic]
        return {p.id: sorted(p.isrs) for p in meta.partitions.values()}

    wait_for(lambda: all(isr == [1] for isr in isr_of_survivor().values()), 30,
             "kafka-1 alone in every ISR")

    # No retries: the broker's answer itself is what this test is about.
    producer = make_producer(cluster, **{"enable.idempotence": False, "retries": 0,
                                         "message.timeout.ms": 20000})
    reports: list[Any] = []
    for n in range(PARTITIONS * 4):
        producer.produce(topic, key=str(n).encode(), value=b"must not be kept",
                         on_delivery=lambda err, _msg: reports.append(err))
    assert producer.flush(30) == 0
    assert len(reports) == PARTITIONS * 4
    codes = {err.code() if err else None for err in reports}
    assert codes == {KafkaError.NOT_ENOUGH_REPLICAS}, codes

    consumer = make_consumer(cluster, f"test-cluster-{uuid.uuid4().hex[:8]}")
    try:
        ends = [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(PARTITIONS)]
    finally:
        consumer.close()
    assert ends == [0] * PARTITIONS, "a refused write was kept"
