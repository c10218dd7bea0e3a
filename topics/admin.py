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
)

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


def apply_topics(bootstrap: str, specs: tuple[TopicSpec, ...] = CATALOGUE,
                 replication_factor: int = 1) -> list[TopicChange]:
    """Idempotent: create missing topics, raise partitions and fix configs of existing ones.

    Partitions are never lowered (Kafka cannot): fewer wanted than present is reported as
    drift and left alone.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = admin.list_topics(timeout=TIMEOUT_S).topics
    changes: list[TopicChange] = []

    missing = [s for s in specs if s.name not in existing]
    if missing:
        futures = admin.create_topics(
            [NewTopic(s.name, s.partitions, replication_factor, config=s.config())
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
        drift = have > spec.partitions
        wrong = {k: v for k, v in spec.config().items() if current[spec.name].get(k) != v}
        if wrong:
            res = ConfigResource(
                ConfigResource.Type.TOPIC, spec.name,
                incremental_configs=[ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                                     for k, v in wrong.items()])
            admin.incremental_alter_configs([res])[res].result(timeout=TIMEOUT_S)
            notes += [f"{k}: {current[spec.name].get(k)}->{v}" for k, v in wrong.items()]
        if drift:
            changes.append(TopicChange(spec.name, "drift",
                                       f"has {have} partitions, catalogue says {spec.partitions}"
                                       + (f"; {', '.join(notes)}" if notes else "")))
        elif notes:
            changes.append(TopicChange(spec.name, "updated", ", ".join(notes)))
        else:
            changes.append(TopicChange(spec.name, "unchanged"))
    return changes
