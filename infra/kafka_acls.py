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

It returns only once every live broker's own authorizer holds the result. In KRaft an ACL
is a record of the metadata log: ``CreateAcls`` answers when the controllers have committed
it, and each broker applies it when it replays the log, a moment later. A client that
starts right after ``topics apply`` and reaches a broker still behind is refused (an
idempotent producer's ``InitProducerId``: ``CLUSTER_AUTHORIZATION_FAILED``, which
librdkafka treats as fatal). So each broker is asked directly (``DescribeAcls`` is answered
from the broker's own authorizer) until all of them agree. SCRAM credentials are records of
the same log, written before the ACLs, hence applied before them on every broker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.admin import DescribeAclsRequest
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

__all__ = ["CONNECT_GROUP", "Grant", "SecurityReport", "acls_of_each_broker",
           "apply_security", "each", "infra_grants", "super_users"]

TIMEOUT_S = 30.0
PROPAGATION_TIMEOUT_S = 30.0

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


_R = TypeVar("_R")


def _run(make: Callable[[], Awaitable[_R]]) -> _R:
    """Run a coroutine to completion, also from code that already runs an event loop."""
    async def main() -> _R:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def acls_of_each_broker(settings: Settings) -> dict[int, set[Grant]]:
    """Every ACL as each live broker's own authorizer holds it, broker by broker (an admin
    client would ask whichever broker it likes)."""
    sec, kafka = settings.kafka.security, settings.kafka
    everything = DescribeAclsRequest(ResourceType.ANY.value, None, ResourcePatternType.ANY.value,
                                     None, None, AclOperation.ANY.value,
                                     AclPermissionType.ANY.value)

    async def ask() -> dict[int, set[Grant]]:
        client = AIOKafkaClient(bootstrap_servers=kafka.bootstrap_servers.split(","),
                                request_timeout_ms=int(TIMEOUT_S * 1000),
                                **sec.aiokafka(Role.ADMIN))
        await client.bootstrap()
        try:
            out: dict[int, set[Grant]] = {}
            for broker in client.cluster.brokers():
                resp = await client.send(broker.nodeId, everything)
                if resp.error_code:
                    raise RuntimeError(f"DescribeAcls on broker {broker.nodeId}: "
                                       f"{resp.error_code} {resp.error_message}")
                out[broker.nodeId] = {
                    Grant(principal, ResourceType(rtype), name, ResourcePatternType(pattern),
                          AclOperation(op), permission == AclPermissionType.ALLOW.value)
                    for rtype, name, pattern, acls in resp.resources
                    for principal, _host, op, permission in acls}
            return out
        finally:
            await client.close()

    return _run(ask)


def _wait_everywhere(settings: Settings, present: set[Grant], absent: set[Grant],
                     timeout_s: float = PROPAGATION_TIMEOUT_S) -> None:
    """Until every live broker holds ``present`` and none of ``absent``."""
    deadline = time.monotonic() + timeout_s
    while True:
        behind = {node: (len(present - acls), len(absent & acls))
                  for node, acls in acls_of_each_broker(settings).items()
                  if not present <= acls or absent & acls}
        if not behind:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("ACLs not applied by every broker within "
                               f"{timeout_s:.0f}s (broker: missing, stale): {behind}")
        time.sleep(0.1)


@dataclass(frozen=True)
class SecurityReport:
    users: int
    created: int
    deleted: int
    kept: int


def apply_security(settings: Settings, wanted: Iterable[Grant], managed: set[str],
                   admin: AdminClient | None = None) -> SecurityReport:
    """Upsert every principal's SCRAM credential; make the ACLs of the ``managed``
    principals exactly ``wanted``, on every live broker before returning (see the module's
    docstring). Idempotent; run as the admin principal."""
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
    _wait_everywhere(settings, wanted, set(stale))
    return SecurityReport(len(upserts), len(missing), len(stale),
                          len(wanted) - len(missing))
