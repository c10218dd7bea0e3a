"""Kafka security as the stack runs it: SCRAM on every client connection, ACLs per principal.

Against the session's broker: an order producer may write ``orders.requests`` and nothing
else, nor read, nor use a worker's group; an analyst reads an analytic topic but cannot
write it; a wrong password or no credentials at all are refused. The worker principal is
exercised end to end by every other integration test (workers, sinks, tools).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from confluent_kafka import (
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from infra.kafka_security import Role
from infra.services import render_kafka_conf
from infra.settings import Settings, get_settings
from streams.kafka import make_consumer, make_producer
from tests.conftest import wait_for
from topics.acls import ANALYTIC_TOPICS, apply_acls

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.skipif(not get_settings().kafka.security.enabled,
                       reason="Kafka security is off (STRIKEFLOW_KAFKA__SECURITY__ENABLED=true)"),
]


def _produce(producer: Producer, topic: str) -> KafkaError | None:
    """Deliver one message; the delivery's error (None: written)."""
    outcome: list[KafkaError | None] = []
    producer.produce(topic, key=b"k", value=b"{}",
                     on_delivery=lambda err, _msg: outcome.append(err))
    producer.flush(20)
    assert outcome, f"no delivery report for {topic}"
    return outcome[0]


def test_the_broker_config_denies_what_no_acl_allows(tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path,
                                        "kafka": {"security": {"enabled": True}}})
    conf = dict(line.split("=", 1) for line in render_kafka_conf(
        settings, settings.kafka.nodes[0]).splitlines() if line and not line.startswith("#"))
    assert conf["authorizer.class.name"].endswith("StandardAuthorizer")
    assert conf["allow.everyone.if.no.acl.found"] == "false"
    assert conf["listeners"].startswith("SASL_PLAINTEXT://")
    assert conf["listener.security.protocol.map"] == (
        "CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT")
    assert conf["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert set(conf["super.users"].split(";")) == {
        "User:strikeflow-broker", "User:strikeflow-admin", "User:ANONYMOUS"}
    args = settings.kafka.security.format_args()
    assert args.count("--add-scram") == 2 and "name=strikeflow-broker" in args[1]


@pytest.mark.parametrize("role", [Role.ORDER_PRODUCER, Role.GATEWAY])
def test_an_order_producer_writes_orders_requests_and_nothing_else(stack: Settings,
                                                                   role: Role) -> None:
    """Order producers and the trading gateway: past risk, nothing can be written."""
    producer = make_producer(stack, role)
    assert _produce(producer, "orders.requests") is None
    for topic in ("orders.commands", "ledger", "accounts.activity"):
        err = _produce(producer, topic)
        assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, topic


def test_an_order_producer_cannot_use_a_workers_group(stack: Settings) -> None:
    consumer = make_consumer(stack, stack.worker.app_id, Role.ORDER_PRODUCER)
    errors: set[int] = set()

    def refused() -> bool:
        msg = consumer.poll(0.5)
        assert msg is None or msg.error() is not None, "the producer read a message"
        if msg is not None:
            errors.add(msg.error().code())
        return KafkaError.GROUP_AUTHORIZATION_FAILED in errors

    try:
        consumer.subscribe(["orders.requests"])
        wait_for(refused, 30, "the worker's group refused to the order producer")
    finally:
        consumer.close()
    assert errors <= {KafkaError.GROUP_AUTHORIZATION_FAILED,
                      KafkaError.TOPIC_AUTHORIZATION_FAILED}, errors


def test_an_analyst_reads_an_analytic_topic_but_cannot_write_it(stack: Settings) -> None:
    topic = "trades"
    assert topic in ANALYTIC_TOPICS
    marker = uuid.uuid4().hex.encode()
    partition, offset = _produce_marker(stack, topic, marker)  # the worker writes it
    consumer = make_consumer(stack, f"analyst-{uuid.uuid4().hex[:8]}", Role.ANALYST)

    def from_the_marker(c: Consumer, parts: list[TopicPartition]) -> None:
        # Straight to the marker: after a suite the topic holds thousands of trades.
        for tp in parts:
            tp.offset = offset if tp.partition == partition else OFFSET_END
        c.assign(parts)

    try:
        consumer.subscribe([topic], on_assign=from_the_marker)  # joins the analyst's group

        def seen() -> bool:
            msg = consumer.poll(0.5)
            assert msg is None or msg.error() is None or msg.error().code() == \
                KafkaError._PARTITION_EOF, msg.error()
            return msg is not None and msg.error() is None and msg.value() == marker

        wait_for(seen, 60, "the analyst reads the worker's message")
    finally:
        consumer.close()
    # Not idempotent: an idempotent producer with no WRITE anywhere is refused its producer
    # id first (CLUSTER_AUTHORIZATION_FAILED, fatal) before it ever names the topic.
    err = _produce(make_producer(stack, Role.ANALYST, **{"enable.idempotence": False}), topic)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def _produce_marker(settings: Settings, topic: str, marker: bytes) -> tuple[int, int]:
    """Write ``marker`` as the worker; where it landed (partition, offset)."""
    outcome: list[tuple[KafkaError | None, Message]] = []
    producer = make_producer(settings)
    producer.produce(topic, key=b"security-test", value=marker,
                     on_delivery=lambda err, msg: outcome.append((err, msg)))
    producer.flush(20)
    assert outcome, "no delivery report for the marker"
    err, msg = outcome[0]
    assert err is None, err
    return msg.partition(), msg.offset()


def _refused(conf: dict[str, str]) -> list[KafkaError]:
    errors: list[KafkaError] = []
    admin = AdminClient(conf | {"socket.timeout.ms": 3000, "error_cb": errors.append,
                                "log_level": 0})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)
    admin.poll(1)  # serves the error callbacks
    return errors


def test_a_wrong_password_is_refused(stack: Settings) -> None:
    conf = stack.kafka.client_config(Role.WORKER) | {"sasl.password": "not-the-password"}
    errors = _refused(conf)
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors


def test_no_credentials_are_refused(stack: Settings) -> None:
    _refused({"bootstrap.servers": stack.kafka.bootstrap_servers})


def test_applying_the_acls_again_changes_nothing(stack: Settings) -> None:
    report = apply_acls(stack)
    assert report is not None
    assert (report.created, report.deleted) == (0, 0)
