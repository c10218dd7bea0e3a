"""The catalogue's ACLs: derived from what the sinks read, nothing granted beyond the roles."""

from __future__ import annotations

from pathlib import Path

from confluent_kafka.admin import AclOperation, ResourceType

from infra.kafka_acls import infra_grants
from infra.kafka_security import Role
from infra.settings import Settings
from sinks.clickhouse import MAPPINGS
from sinks.search_index.sink import SOURCES
from topics.acls import ANALYTIC_TOPICS, SEARCH_TOPICS, catalogue_grants


def test_the_analytic_and_search_topics_are_what_the_sinks_read() -> None:
    assert set(ANALYTIC_TOPICS) == {m.topic for m in MAPPINGS}
    assert set(SEARCH_TOPICS) == set(SOURCES)


def test_an_order_producer_may_only_write_the_order_entry_topics(tmp_path: Path) -> None:
    from topics.acls import ORDER_ENTRY_TOPICS

    settings = Settings(data_dir=tmp_path)
    principal = settings.kafka.security.principal(Role.ORDER_PRODUCER)
    mine = {(g.resource, g.name, g.operation) for g in catalogue_grants(settings)
            if g.principal == principal}
    assert {"orders.requests", "rfq.commands"} <= set(ORDER_ENTRY_TOPICS)
    assert "orders.commands" not in ORDER_ENTRY_TOPICS
    assert mine == {(ResourceType.TOPIC, topic, op) for topic in ORDER_ENTRY_TOPICS
                    for op in (AclOperation.WRITE, AclOperation.DESCRIBE)}


def test_the_worker_may_not_take_connects_or_the_sinks_groups(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    worker = settings.kafka.security.principal(Role.WORKER)
    denied = {g.name for g in catalogue_grants(settings) if g.principal == worker and not g.allow}
    assert denied == {"strikeflow-connect", "strikeflow-sink-clickhouse",
                      "strikeflow-sink-elasticsearch"}


def test_analysts_never_write(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    analyst = settings.kafka.security.principal(Role.ANALYST)
    ops = {g.operation for g in catalogue_grants(settings) + infra_grants(settings)
           if g.principal == analyst}
    assert ops == {AclOperation.READ, AclOperation.DESCRIBE}


def test_security_off_gives_plain_clients(tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path,
                                        "kafka": {"security": {"enabled": False}}})
    on = Settings.model_validate({"data_dir": tmp_path, "kafka": {"security": {"enabled": True}}})
    assert on.kafka.client_config(Role.ORDER_PRODUCER)["sasl.username"] == (
        "strikeflow-order-producer")
    assert settings.kafka.client_config(Role.ADMIN) == {
        "bootstrap.servers": settings.kafka.bootstrap_servers}


def test_the_gateway_writes_only_order_entry_and_reads_what_traders_see(
        tmp_path: Path) -> None:
    from topics.acls import GATEWAY_TOPICS, ORDER_ENTRY_TOPICS

    settings = Settings(data_dir=tmp_path)
    gateway = settings.kafka.security.principal(Role.GATEWAY)
    mine = [g for g in catalogue_grants(settings) if g.principal == gateway]
    written = {g.name for g in mine if g.operation == AclOperation.WRITE}
    read = {g.name for g in mine if g.resource == ResourceType.TOPIC
            and g.operation == AclOperation.READ}
    assert written == set(ORDER_ENTRY_TOPICS)
    assert read == set(GATEWAY_TOPICS)
    assert "orders.commands" not in read | written and "ledger" not in written
    assert all(g.allow for g in mine)
