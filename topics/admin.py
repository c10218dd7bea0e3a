"""Create or update the catalogue's topics on a cluster, and report drift."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    TopicMetadata,
)

from infra.kafka_security import Role
from infra.settings import Settings, get_settings
from topics.acls import apply_acls
from topics.catalogue import CATALOGUE, TopicSpec

__all__ = ["TopicChange", "apply_topics"]

TIMEOUT_S = 30.0


@dataclass(frozen=True)
class TopicChange:
    topic: str
    action: str  # created | updated | unchanged | drift
    detail: str = ""


def _describe_configs(admin: AdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names]
    out: dict[str, dict[str, str]] = {}
    if not resources:
        return out
    for res, fut in admin.describe_configs(resources).items():
        out[res.name] = {k: v.value for k, v in fut.result(timeout=TIMEOUT_S).items()}
    return out


def _from_settings(settings: Settings, bootstrap: str | None, replication_factor: int | None,
                   min_insync_replicas: int | None) -> tuple[str, int, int]:
    """What the caller gave, else what the Kafka settings say: every broker, and RF 3 /
    min ISR 2 on a three-broker cluster, 1 / 1 on the single local broker."""
    kafka = settings.kafka
    return (bootstrap or kafka.bootstrap_servers,
            replication_factor or kafka.replication_factor,
            min_insync_replicas or kafka.min_insync_replicas)


def _replicas(meta: TopicMetadata) -> int:
    return min((len(p.replicas) for p in meta.partitions.values()), default=0)


def apply_topics(bootstrap: str | None = None, specs: tuple[TopicSpec, ...] = CATALOGUE,
                 replication_factor: int | None = None,
                 min_insync_replicas: int | None = None, settings: Settings | None = None,
                 acls: bool = True) -> list[TopicChange]:
    """Idempotent: create missing topics, raise partitions and fix configs of existing ones;
    then (``acls``, with Kafka security on) the principals' users and the catalogue's ACLs
    (:mod:`topics.acls`). The admin principal does it all.

    The replication factor and ``min.insync.replicas`` come from the Kafka settings unless
    given, so they follow the cluster size. Partitions are never lowered (Kafka cannot), and
    a topic with fewer replicas than wanted is not reassigned: both are reported as drift
    and left alone.
    """
    settings = settings or get_settings()
    bootstrap, rf, min_isr = _from_settings(settings, bootstrap, replication_factor,
                                            min_insync_replicas)
    admin = AdminClient(settings.kafka.client_config(Role.ADMIN)
                        | {"bootstrap.servers": bootstrap})
    existing = admin.list_topics(timeout=TIMEOUT_S).topics
    changes: list[TopicChange] = []

    def wanted_config(spec: TopicSpec) -> dict[str, str]:
        return {"min.insync.replicas": str(min_isr)} | spec.config()

    missing = [s for s in specs if s.name not in existing]
    if missing:
        futures = admin.create_topics(
            [NewTopic(s.name, s.partitions, rf, config=wanted_config(s))
             for s in missing], operation_timeout=TIMEOUT_S)
        for name, fut in futures.items():
            try:
                fut.result(timeout=TIMEOUT_S)
                changes.append(TopicChange(name, "created"))
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise
                changes.append(TopicChange(name, "unchanged", "created concurrently"))

    present = [s for s in specs if s.name in existing]
    current = _describe_configs(admin, [s.name for s in present])
    for spec in present:
        notes: list[str] = []
        have = len(existing[spec.name].partitions)
        if have < spec.partitions:
            admin.create_partitions([NewPartitions(spec.name, spec.partitions)])[
                spec.name].result(timeout=TIMEOUT_S)
            notes.append(f"partitions {have}->{spec.partitions}")
        drift = []
        if have > spec.partitions:
            drift.append(f"has {have} partitions, catalogue says {spec.partitions}")
        if (replicas := _replicas(existing[spec.name])) < rf:
            drift.append(f"has {replicas} replicas, settings say {rf}")
        wrong = {k: v for k, v in wanted_config(spec).items()
                 if current[spec.name].get(k) != v}
        if wrong:
            res = ConfigResource(
                ConfigResource.Type.TOPIC, spec.name,
                incremental_configs=[ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                                     for k, v in wrong.items()])
            admin.incremental_alter_configs([res])[res].result(timeout=TIMEOUT_S)
            notes += [f"{k}: {current[spec.name].get(k)}->{v}" for k, v in wrong.items()]
        if drift:
            changes.append(TopicChange(spec.name, "drift", "; ".join(drift + notes)))
        elif notes:
            changes.append(TopicChange(spec.name, "updated", ", ".join(notes)))
        else:
            changes.append(TopicChange(spec.name, "unchanged"))
    if acls:
        apply_acls(settings, admin)
    return changes
