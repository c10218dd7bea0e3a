"""Kafka with TLS on (``STRIKEFLOW_KAFKA__SECURITY__TLS=true``): the client listener is SASL_SSL.

A private broker on its own ports and data dir (not the session's stack, whose TLS is off by
default) made by ``infra up`` with its certificates: a worker round trip over SASL_SSL, a
client that does not trust the stack's CA refused, a SASL_PLAINTEXT client refused, the ACLs
still applied, aiokafka through Faust's own credential translation, and Kafka's Java tools
with the admin's ``--command-config`` (a PEM truststore).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from infra import stack as infra_stack
from infra.jars import classpath
from infra.kafka_security import Role
from infra.kafka_tls import make_ca
from infra.ports import free_port_block
from infra.settings import KafkaSettings, Settings
from streams.kafka import make_consumer, make_producer
from tests.conftest import wait_for
from tests.integration.test_kafka_cluster import _cluster_processes
from topics.admin import apply_topics
from topics.catalogue import by_name

pytestmark = [pytest.mark.kafka]


@contextmanager
def _private_kafka(settings: Settings, data_dir: Path, brokers: int) -> Iterator[Settings]:
    """``brokers`` nodes with TLS on, on free ports from 49090 and their own data dir, made
    (certificates and all) by ``infra up``; stopped, with whatever they left, at the end."""
    base = free_port_block(first=49090, size=2 * brokers)
    security = settings.kafka.security.model_copy(
        update={"enabled": True, "tls": True, "tls_dir": data_dir / "tls"})
    ours = settings.model_copy(update={
        "data_dir": data_dir,
        "kafka": KafkaSettings(port=base, controller_port=base + 1, brokers=brokers,
                               heap="384m" if brokers == 1 else "256m", security=security),
    })
    try:
        t0 = time.monotonic()
        started = infra_stack.up(ours, ("kafka",))
        assert len(started) == brokers, started
        print(f"TLS Kafka ({brokers}) up in {time.monotonic() - t0:.1f}s on "
              f"{ours.kafka.bootstrap_servers}")
        yield ours
    finally:
        try:
            infra_stack.down(ours)
        finally:
            leftovers = _cluster_processes(data_dir)
            for proc in leftovers:
                proc.kill()
            shutil.rmtree(data_dir, ignore_errors=True)
        assert not leftovers, f"left behind: {[p.pid for p in leftovers]}"


@pytest.fixture(scope="module")
def tls_kafka(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One broker with TLS on; the two order topics and the catalogue's ACLs applied over
    TLS by the admin."""
    with _private_kafka(settings, tmp_path_factory.mktemp("kafka-tls"), 1) as ours:
        apply_topics(ours.kafka.bootstrap_servers,
                     (by_name("orders.requests"), by_name("orders.commands")), settings=ours)
        yield ours


def _produce(producer: Producer, topic: str, value: bytes = b"{}") -> KafkaError | None:
    outcome: list[KafkaError | None] = []
    producer.produce(topic, key=b"k", value=value,
                     on_delivery=lambda err, _msg: outcome.append(err))
    producer.flush(20)
    assert outcome, f"no delivery report for {topic}"
    return outcome[0]


def _test_topic(settings: Settings) -> str:
    name = f"test.tls.{uuid.uuid4().hex[:8]}"
    admin = AdminClient(settings.kafka.client_config(Role.ADMIN))
    admin.create_topics([NewTopic(name, 1, 1)])[name].result(timeout=30)
    return name


def _refused(conf: dict[str, str]) -> list[KafkaError]:
    """The client cannot even read metadata; the errors it reported."""
    errors: list[KafkaError] = []
    admin = AdminClient(conf | {"socket.timeout.ms": 3000, "error_cb": errors.append,
                                "log_level": 0})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)
    admin.poll(1)
    return errors


def test_infra_up_made_the_certificates_and_a_sasl_ssl_listener(tls_kafka: Settings) -> None:
    sec = tls_kafka.kafka.security
    assert sec.protocol == "SASL_SSL"
    assert sec.ca_file.exists() and sec.keystore_file.exists()
    conf = (tls_kafka.data_dir / "conf" / "kafka-server.properties").read_text()
    assert f"listeners=SASL_SSL://{tls_kafka.kafka.host}:{tls_kafka.kafka.port}," in conf
    assert "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL" in conf


def test_a_worker_round_trip_over_sasl_ssl(tls_kafka: Settings) -> None:
    topic = _test_topic(tls_kafka)
    marker = uuid.uuid4().hex.encode()
    assert _produce(make_producer(tls_kafka), topic, marker) is None
    consumer = make_consumer(tls_kafka, f"test-tls-{uuid.uuid4().hex[:8]}")
    try:
        consumer.subscribe([topic])

        def seen() -> bool:
            msg = consumer.poll(0.5)
            assert msg is None or msg.error() is None or \
                msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
            return msg is not None and msg.error() is None and msg.value() == marker

        wait_for(seen, 60, "the worker reads back its message over SASL_SSL")
    finally:
        consumer.close()


def test_a_client_that_does_not_trust_the_ca_is_refused(tls_kafka: Settings,
                                                        tmp_path: Path) -> None:
    other_ca = make_ca(tmp_path / "other", name="not StrikeFlow's CA")
    conf = tls_kafka.kafka.client_config(Role.WORKER) | {"ssl.ca.location": str(other_ca)}
    errors = _refused(conf)
    assert any(e.code() == KafkaError._SSL for e in errors), errors


def test_a_sasl_plaintext_client_is_refused(tls_kafka: Settings) -> None:
    conf = {k: v for k, v in tls_kafka.kafka.client_config(Role.WORKER).items()
            if not k.startswith("ssl.")} | {"security.protocol": "SASL_PLAINTEXT"}
    _refused(conf)


def test_the_acls_still_apply_over_tls(tls_kafka: Settings) -> None:
    producer = make_producer(tls_kafka, Role.ORDER_PRODUCER)
    assert _produce(producer, "orders.requests") is None
    err = _produce(producer, "orders.commands")
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_faust_credentials_give_aiokafka_a_verified_sasl_ssl_connection(
        tls_kafka: Settings) -> None:
    from aiokafka import AIOKafkaProducer
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    from streams.app import broker_credentials

    auth = credentials_to_aiokafka_auth(broker_credentials(tls_kafka))
    assert auth["security_protocol"] == "SASL_SSL" and auth["ssl_context"] is not None
    topic = _test_topic(tls_kafka)

    async def send() -> int:
        producer = AIOKafkaProducer(bootstrap_servers=tls_kafka.kafka.bootstrap_servers,
                                    acks="all", **auth)
        await producer.start()
        try:
            return (await producer.send_and_wait(topic, b"faust", key=b"k")).offset
        finally:
            await producer.stop()

    assert asyncio.run(send()) == 0


def test_kafkas_java_tools_connect_with_the_admin_command_config(tls_kafka: Settings) -> None:
    command_config = tls_kafka.data_dir / "conf" / "kafka-admin.properties"
    assert "ssl.truststore.type=PEM" in command_config.read_text()
    done = subprocess.run(
        [str(tls_kafka.java), "-cp", classpath(tls_kafka, "kafka"),
         "org.apache.kafka.tools.TopicCommand", "--bootstrap-server",
         tls_kafka.kafka.bootstrap_servers, "--command-config", str(command_config), "--list"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "orders.requests" in done.stdout.split()


def test_the_certificates_live_in_the_brokers_own_data_dir(tls_kafka: Settings) -> None:
    assert tls_kafka.kafka.security.tls_dir == tls_kafka.data_dir / "tls"


def test_three_brokers_replicate_over_tls(settings: Settings,
                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    """The brokers are each other's clients on the SASL_SSL listener: an RF 3 topic gets its
    three in-sync replicas and an acks=all write (min ISR 2) is acknowledged."""
    with _private_kafka(settings, tmp_path_factory.mktemp("kafka-tls-3"), 3) as cluster:
        topic = f"test.tls.{uuid.uuid4().hex[:8]}"
        admin = AdminClient(cluster.kafka.client_config(Role.ADMIN))
        admin.create_topics([NewTopic(topic, 3, 3, config={"min.insync.replicas": "2"})]
                            )[topic].result(timeout=30)

        def fully_replicated() -> bool:
            parts = admin.list_topics(topic, timeout=10).topics[topic].partitions.values()
            return all(len(p.isrs) == 3 for p in parts)

        wait_for(fully_replicated, 60, "three in-sync replicas over the TLS listener")
        # as the admin: this cluster has infra's ACLs only, not the catalogue's
        assert _produce(make_producer(cluster, Role.ADMIN), topic, b"three") is None
