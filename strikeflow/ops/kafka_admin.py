"""Consumer groups and their lag, read through Kafka's admin API (what
``kafka-consumer-groups.sh --describe`` shows, for every group at once)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import ConsumerGroupTopicPartitions, IsolationLevel, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from infra.kafka_security import Role
from infra.settings import Settings

__all__ = ["GroupState", "OffsetMove", "PartitionLag", "ResetRefused", "admin_client",
           "consumer_lag", "delete_groups", "group_states", "plan_reset", "reset_offsets",
           "wait_stable"]

_TIMEOUT_S = 15


@dataclass(frozen=True, slots=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(self.end - self.committed, 0)


@dataclass(frozen=True, slots=True)
class GroupState:
    group: str
    state: str  # STABLE, EMPTY, PREPARING_REBALANCING, ...
    members: int
    instances: tuple[str, ...] = ()  # the static members' instance ids (workers: host-port)


def admin_client(settings: Settings) -> AdminClient:
    """Ops act as the admin principal: every group's offsets, whoever owns the group."""
    return AdminClient(settings.kafka.client_config(Role.ADMIN))


def _groups(admin: AdminClient) -> list[str]:
    listed = admin.list_consumer_groups(request_timeout=_TIMEOUT_S).result()
    return sorted(g.group_id for g in listed.valid)


def group_states(settings: Settings, groups: list[str] | None = None) -> list[GroupState]:
    admin = admin_client(settings)
    names = groups if groups is not None else _groups(admin)
    if not names:
        return []
    described = admin.describe_consumer_groups(names, request_timeout=_TIMEOUT_S)
    out = []
    for name, future in described.items():
        d = future.result()
        out.append(GroupState(name, d.state.name, len(d.members), tuple(sorted(
            m.group_instance_id for m in d.members if m.group_instance_id))))
    return sorted(out, key=lambda g: g.group)


def consumer_lag(settings: Settings, groups: list[str] | None = None) -> list[PartitionLag]:
    """Committed offset and log end of every partition each group has committed on."""
    admin = admin_client(settings)
    names = groups if groups is not None else _groups(admin)
    committed: dict[tuple[str, str, int], int] = {}
    for name in names:  # the API takes one group per request
        future = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(name)],
                                                   request_timeout=_TIMEOUT_S)[name]
        for tp in future.result().topic_partitions or []:
            if tp.offset >= 0:
                committed[(name, tp.topic, tp.partition)] = tp.offset
    if not committed:
        return []
    wanted = {TopicPartition(t, p) for _, t, p in committed}
    ends = {tp: OffsetSpec.latest() for tp in wanted}
    end_of = {(tp.topic, tp.partition): f.result().offset
              for tp, f in admin.list_offsets(ends, request_timeout=_TIMEOUT_S).items()}
    return sorted((PartitionLag(g, t, p, off, end_of[(t, p)])
                   for (g, t, p), off in committed.items()),
                  key=lambda x: (x.group, x.topic, x.partition))


class ResetRefused(RuntimeError):
    """The group is being read right now: moving its offsets would race its members."""


@dataclass(frozen=True, slots=True)
class OffsetMove:
    topic: str
    partition: int
    current: int | None  # None: the group never committed here
    target: int


def plan_reset(settings: Settings, group: str, topic: str, to: str) -> list[OffsetMove]:
    """Where ``group`` would read ``topic`` from after a reset ``to`` ``earliest``, ``latest``,
    an ISO time (the first offset at or after it) or an offset number."""
    admin = admin_client(settings)
    meta = admin.list_topics(topic, timeout=_TIMEOUT_S).topics[topic]
    if meta.error is not None:
        raise ValueError(f"{topic}: {meta.error}")
    tps = [TopicPartition(topic, p) for p in sorted(meta.partitions)]
    if to in ("earliest", "latest"):
        spec = OffsetSpec.earliest() if to == "earliest" else OffsetSpec.latest()
        targets = {tp: spec for tp in tps}
    elif to.lstrip("-").isdigit():
        targets = None
    else:
        from datetime import datetime

        ms = int(datetime.fromisoformat(to).timestamp() * 1000)
        targets = {tp: OffsetSpec.for_timestamp(ms) for tp in tps}
    if targets is None:
        target_of = {(tp.topic, tp.partition): int(to) for tp in tps}
    else:
        listed = admin.list_offsets(targets, request_timeout=_TIMEOUT_S)
        ends = admin.list_offsets({tp: OffsetSpec.latest() for tp in tps},
                                  request_timeout=_TIMEOUT_S)
        end_of = {(t.topic, t.partition): f.result().offset for t, f in ends.items()}
        # a time after the last message gives -1: the end
        target_of = {(t.topic, t.partition): (f.result().offset if f.result().offset >= 0
                                              else end_of[(t.topic, t.partition)])
                     for t, f in listed.items()}
    current = {(r.topic, r.partition): r.committed for r in consumer_lag(settings, [group])
               if r.topic == topic}
    return [OffsetMove(topic, p, current.get((topic, p)), target_of[(topic, p)])
            for p in sorted(meta.partitions)]


def reset_offsets(settings: Settings, group: str, moves: list[OffsetMove]) -> None:
    """Commit ``moves`` for ``group``; refused while the group has members."""
    states = group_states(settings, [group])
    if states and states[0].members:
        raise ResetRefused(f"{group} has {states[0].members} active members ({states[0].state}):"
                           " stop its consumers first")
    admin = admin_client(settings)
    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(m.topic, m.partition, m.target) for m in moves])
    admin.alter_consumer_group_offsets([request], request_timeout=_TIMEOUT_S)[group].result()


def wait_stable(settings: Settings, topic: str, timeout_s: float = 90.0) -> None:
    """Wait until no transaction is open on ``topic``: its last stable offset (what a
    read-committed reader may see) has caught up with its end. A transaction's commit markers
    are written just after the producer is told it committed, and a transaction left open by
    a crashed producer is aborted by the broker after its timeout (60 s by default)."""
    admin = admin_client(settings)
    meta = admin.list_topics(topic, timeout=_TIMEOUT_S).topics[topic]
    tps = [TopicPartition(topic, p) for p in meta.partitions]
    deadline = time.monotonic() + timeout_s
    while True:
        ends = {}
        for level in (IsolationLevel.READ_COMMITTED, IsolationLevel.READ_UNCOMMITTED):
            listed = admin.list_offsets({tp: OffsetSpec.latest() for tp in tps},
                                        isolation_level=level, request_timeout=_TIMEOUT_S)
            ends[level] = {(t.topic, t.partition): f.result().offset for t, f in listed.items()}
        if ends[IsolationLevel.READ_COMMITTED] == ends[IsolationLevel.READ_UNCOMMITTED]:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"a transaction on {topic} stayed open for {timeout_s:.0f} s")
        time.sleep(0.1)


def delete_groups(settings: Settings, prefix: str) -> list[str]:
    """Delete the consumer groups named ``prefix…`` that have no members (a finished drill's
    or benchmark's groups: left behind, their lag grows forever and alerts). Returns those
    deleted; a group still in use is left alone."""
    admin = admin_client(settings)
    names = [g for g in _groups(admin) if g.startswith(prefix)]
    idle = [g.group for g in group_states(settings, names) if g.members == 0]
    if not idle:
        return []
    deleted = []
    for name, future in admin.delete_consumer_groups(idle, request_timeout=_TIMEOUT_S).items():
        try:
            future.result()
            deleted.append(name)
        except Exception:  # joined again meanwhile, or already gone
            continue
    return sorted(deleted)
