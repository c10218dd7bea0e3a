"""The ACLs of the catalogue's topics, per principal (see :mod:`infra.kafka_acls`).

Derived from the catalogue: the worker owns every catalogue topic, the order producers may
only write ``orders.requests``, feeds only the venue market-data inputs, sinks and analysts
only read. ``ANALYTIC_TOPICS`` and ``SEARCH_TOPICS`` name what the ClickHouse and
Elasticsearch sinks consume (a unit test holds them equal to the sinks' own maps, which live
a layer above the catalogue).
"""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, ResourcePatternType, ResourceType

from infra.kafka_acls import (
    CONNECT_GROUP,
    OWN,
    READ,
    WRITE,
    Grant,
    SecurityReport,
    apply_security,
    each,
)
from infra.kafka_security import Role
from infra.settings import Settings
from topics.catalogue import CATALOGUE, by_name

__all__ = ["ANALYTIC_TOPICS", "CLICKHOUSE_SINK_GROUP", "FEED_TOPICS", "GATEWAY_TOPICS",
           "ORDER_ENTRY_TOPICS", "SEARCH_TOPICS",
           "apply_acls", "catalogue_grants"]

#: What venue feeds publish; the other ``md.*`` topics are the worker's outputs.
FEED_TOPICS = ("md.ticks", "md.l2")
#: What ClickHouse holds, hence what analysts may read.
ANALYTIC_TOPICS = (
    "compliance.cases", "ledger", "md.candles", "md.index", "md.marks", "orders.events",
    "positions",
    "rfq.events", "risk.alerts", "routing.reports", "settlement.expiries",
    "settlement.hedges", "settlement.orders", "settlement.results", "trades",
    # the agents' dead letters (stream_dead_letters)
    *(spec.dead_letter for spec in CATALOGUE if spec.dead_letter),
)
SEARCH_TOPICS = ("compliance.cases", "orders.events", "rfq.events", "risk.alerts",
                 "settlement.results", "trades")
#: What order producers (and the gateway for its traders) may publish.
ORDER_ENTRY_TOPICS = ("orders.requests", "rfq.commands", "routing.orders")
#: What the trading gateway reads to answer traders and feed its WebSocket channels.
GATEWAY_TOPICS = ("orders.events", "trades", "md.book", "md.index", "md.marks", "positions",
                  "risk.alerts", "accounts.activity", "rfq.events")
CLICKHOUSE_SINK_GROUP = "strikeflow-sink-clickhouse"

_T, _G, _TX = ResourceType.TOPIC, ResourceType.GROUP, ResourceType.TRANSACTIONAL_ID
_LIT, _PRE = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED


def _topics(names: tuple[str, ...]) -> list[str]:
    return [by_name(name).name for name in names]  # KeyError for a name not in the catalogue


def catalogue_grants(settings: Settings) -> list[Grant]:
    """Every ACL of the worker, producer, feed, sink and analyst principals."""
    sec = settings.kafka.security
    worker = sec.principal(Role.WORKER)
    apps = (settings.worker.app_id, *sec.dev_prefixes)
    sink_groups = {Role.CLICKHOUSE_SINK: CLICKHOUSE_SINK_GROUP,
                   Role.SEARCH_SINK: settings.elasticsearch.group_id}
    out = [
        # Faust declares the topics it uses (CREATE of an existing one is a no-op) and makes
        # <app id>-… changelog and repartition topics; its group is the app id.
        *each(worker, _T, [spec.name for spec in CATALOGUE], _LIT, OWN),
        *each(worker, _T, apps, _PRE, OWN),
        *each(worker, _G, (*apps, *sec.tool_group_prefixes), _PRE, READ),
        *each(worker, _TX, apps, _PRE, WRITE),
        # The app id is a prefix of other principals' groups ("strikeflow" of
        # "strikeflow-connect"): those stay theirs.
        *[Grant(worker, _G, group, _LIT, op, allow=False)
          for group in (CONNECT_GROUP, *sink_groups.values())
          if group.startswith(apps) for op in READ],
        *each(sec.principal(Role.ORDER_PRODUCER), _T, _topics(ORDER_ENTRY_TOPICS), _LIT,
              WRITE),
        *each(sec.principal(Role.MARKETDATA_FEED), _T, _topics(FEED_TOPICS), _LIT, WRITE),
    ]
    # The sinks' dead letters go to ClickHouse and Elasticsearch, not to Kafka: read only.
    for role, topics in ((Role.CLICKHOUSE_SINK, ANALYTIC_TOPICS),
                         (Role.SEARCH_SINK, SEARCH_TOPICS)):
        principal = sec.principal(role)
        out += each(principal, _T, _topics(topics), _LIT, READ)
        out += each(principal, _G, [sink_groups[role]], _LIT, READ)
        out += each(principal, _G, sec.dev_prefixes, _PRE, READ)
        out += each(principal, _T, sec.dev_prefixes, _PRE, READ)  # tests' own topics
    analyst = sec.principal(Role.ANALYST)
    out += each(analyst, _T, _topics(ANALYTIC_TOPICS), _LIT, READ)
    out += each(analyst, _G, [sec.analyst_group_prefix], _PRE, READ)
    # The gateway publishes traders' orders (as the order producers do) and reads back
    # decisions, fills and market data; it never writes past risk.
    gateway = sec.principal(Role.GATEWAY)
    out += each(gateway, _T, _topics(ORDER_ENTRY_TOPICS), _LIT, WRITE)
    out += each(gateway, _T, _topics(GATEWAY_TOPICS), _LIT, READ)
    out += each(gateway, _G, [sec.gateway_group_prefix], _PRE, READ)
    return sorted(set(out))


_MANAGED = (Role.WORKER, Role.ORDER_PRODUCER, Role.MARKETDATA_FEED, Role.CLICKHOUSE_SINK,
            Role.SEARCH_SINK, Role.ANALYST, Role.GATEWAY)


def apply_acls(settings: Settings, admin: AdminClient | None = None) -> SecurityReport | None:
    """Users and the catalogue's ACLs, idempotently; ``None`` when security is off."""
    sec = settings.kafka.security
    if not sec.enabled:
        return None
    return apply_security(settings, catalogue_grants(settings),
                          {sec.principal(role) for role in _MANAGED}, admin)
