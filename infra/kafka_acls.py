"""What each principal may do on Kafka, and applying it: SCRAM users and ACLs.

The brokers refuse anything no ACL allows (``allow.everyone.if.no.acl.found=false``); the
broker and admin principals are super users, and so is ``User:ANONYMOUS`` — the identity
of the PLAINTEXT controller listener, over which the nodes register with the controllers
(without it a controller refuses the brokers' ``CLUSTER_ACTION``). Nothing else reaches the
brokers as ANONYMOUS: the client listener authenticates every connection with SCRAM.

Infra owns the mechanism (:class:`Grant`, :func:`apply_security`) and the grants that need no
topic catalogue (Connect's); :mod:`topics.acls` derives the others from the catalogue:

=================  =========================================================================
principal          may
=================  =========================================================================
admin, broker      everything (``super.users``)
worker             read/write/create/describe every catalogue topic; create and use its
                   own ``<app id>…`` topics (changelogs, repartitions), groups and
                   transactional ids; the platform's throw-away reader groups
order_producer     write ``orders.requests``; nothing else (no group at all)
marketdata_feed    write the venue market-data inputs ``md.ticks``, ``md.l2``
clickhouse_sink    read the topics it sinks; its own group
search_sink        read the topics it indexes; its own group
connect            its ``_connect-*`` topics, write ``cdc.*`` and Debezium's heartbeat
                   topic, its group
analyst            read the analytic topics (what ClickHouse holds); ``analyst-*`` groups
=================  =========================================================================

:func:`apply_security` is idempotent: it upserts every user's SCRAM credential, creates the
missing ACLs and deletes the ones of the principals it manages that are no longer wanted.
``infra up`` runs it for Connect once Kafka is healthy; ``topics apply`` for the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from infra.kafka_security import Role
from infra.settings import Settings

__all__ = ["CONNECT_GROUP", "Grant", "SecurityReport", "apply_security", "each",
           "infra_grants", "super_users"]

TIMEOUT_S = 30.0

CONNECT_GROUP = "strikeflow-connect"
CONNECT_INTERNAL_PREFIX = "_connect-"
CDC_PREFIX = "cdc."
DEBEZIUM_HEARTBEAT_PREFIX = "__debezium-heartbeat"

_T, _G, _C = ResourceType.TOPIC, ResourceType.GROUP, ResourceType.BROKER  # BROKER: the cluster
_LIT, _PRE = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
_Op = AclOperation
READ = (_Op.READ, _Op.DESCRIBE)
WRITE = (_Op.WRITE, _Op.DESCRIBE)
OWN = (_Op.READ, _Op.WRITE, _Op.CREATE, _Op.DESCRIBE, _Op.DESCRIBE_CONFIGS)


@dataclass(frozen=True, order=True)
class Grant:
    """One ACL: ``principal`` may (or, ``allow=False``, may not) do ``operation``."""

    principal: str
    resource: ResourceType
    name: str
    pattern: ResourcePatternType
    operation: AclOperation
    allow: bool = True

    def binding(self) -> AclBinding:
        permission = AclPermissionType.ALLOW if self.allow else AclPermissionType.DENY
        return AclBinding(self.resource, self.name, self.pattern, self.principal, "*",
                          self.operation, permission)

    @classmethod
    def of(cls, binding: AclBinding) -> Grant:
        return cls(binding.principal, binding.restype, binding.name,
                   binding.resource_pattern_type, binding.operation,
                   binding.permission_type == AclPermissionType.ALLOW)


def each(principal: str, resource: ResourceType, names: Iterable[str],
          pattern: ResourcePatternType, ops: Iterable[AclOperation]) -> list[Grant]:
    ops = tuple(ops)
    return [Grant(principal, resource, name, pattern, op) for name in names for op in ops]


def super_users(settings: Settings) -> list[str]:
    """``super.users`` of every node: the brokers, the admin, and the controller listener's
    ANONYMOUS (see the module's docstring)."""
    sec = settings.kafka.security
    return [sec.principal(Role.BROKER), sec.principal(Role.ADMIN), "User:ANONYMOUS"]


def infra_grants(settings: Settings) -> list[Grant]:
    """Connect's ACLs: they name no catalogue topic, and Connect starts within ``infra up``,
    before any ``topics apply``."""
    connect = settings.kafka.security.principal(Role.CONNECT)
    return sorted({
        *each(connect, _T, [CONNECT_INTERNAL_PREFIX, DEBEZIUM_HEARTBEAT_PREFIX], _PRE, OWN),
        *each(connect, _T, [CDC_PREFIX], _PRE, (*WRITE, _Op.DESCRIBE_CONFIGS)),
        *each(connect, _G, [CONNECT_GROUP], _LIT, READ),
        # the worker reads the cluster's id and configs when it starts
        *each(connect, _C, ["kafka-cluster"], _LIT, (_Op.DESCRIBE, _Op.DESCRIBE_CONFIGS)),
    })


@dataclass(frozen=True)
class SecurityReport:
    users: int
    created: int
    deleted: int
    kept: int


def apply_security(settings: Settings, wanted: Iterable[Grant], managed: set[str],
                   admin: AdminClient | None = None) -> SecurityReport:
    """Upsert every principal's SCRAM credential; make the ACLs of the ``managed``
    principals exactly ``wanted``. Idempotent; run as the admin principal."""
    sec = settings.kafka.security
    admin = admin or AdminClient(settings.kafka.client_config(Role.ADMIN))
    mechanism = ScramMechanism[sec.mechanism.replace("-", "_")]
    upserts = [UserScramCredentialUpsertion(
        user.name, ScramCredentialInfo(mechanism, sec.iterations),
        user.password.get_secret_value().encode()) for user in sec.users().values()]
    for fut in admin.alter_user_scram_credentials(upserts).values():
        fut.result(timeout=TIMEOUT_S)

    wanted = set(wanted)
    everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                                  AclOperation.ANY, AclPermissionType.ANY)
    existing = {Grant.of(b) for b in admin.describe_acls(everything).result(timeout=TIMEOUT_S)}
    missing = sorted(wanted - existing)
    stale = sorted(g for g in existing - wanted if g.principal in managed)
    if missing:
        for fut in admin.create_acls([g.binding() for g in missing]).values():
            fut.result(timeout=TIMEOUT_S)
    if stale:
        filters = [AclBindingFilter(g.resource, g.name, g.pattern, g.principal, "*",
                                    g.operation, g.binding().permission_type) for g in stale]
        for fut in admin.delete_acls(filters).values():
            fut.result(timeout=TIMEOUT_S)
    return SecurityReport(len(upserts), len(missing), len(stale),
                          len(wanted) - len(missing))
