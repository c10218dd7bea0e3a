"""The composition root: the one Faust App. Agents import it; it imports no agent.

Agents are found by ``autodiscover`` in the packages listed below. Tables live in RocksDB
(through rocksdict) under the data dir, with changelog topics in Kafka.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from infra.kafka_security import Role
from infra.settings import Settings, get_settings
from streams.changelog import ChangelogTable
from streams.deployment import AGENT_PACKAGES
from streams.healing_table import HealingTable

__all__ = ["AGENT_PACKAGES", "CHANGELOG_CONFIG", "app", "broker_credentials", "state_table"]



def broker_credentials(settings: Settings) -> faust.SASLCredentials | None:
    """The worker principal's SCRAM login, for Faust's aiokafka consumers, producers and
    topic creation (``None`` when Kafka security is off). With TLS on, the SSL context that
    trusts the stack's CA goes with it: Faust then speaks SASL_SSL."""
    sec = settings.kafka.security
    if not sec.enabled:
        return None
    user = sec.user(Role.WORKER)
    return faust.SASLCredentials(username=user.name, password=user.password.get_secret_value(),
                                 mechanism=sec.mechanism, ssl_context=sec.ssl_context())


_settings = get_settings()
_worker = _settings.worker
_datadir = _settings.data_dir / "faust" / _worker.app_id
_datadir.mkdir(parents=True, exist_ok=True)


class App(faust.App):
    """Faust's app, statically a member of its group (``worker.instance_id``), that still
    leaves the group when it stops on purpose.

    aiokafka sends no LeaveGroup for a static member: a graceful stop (a deploy, scaling
    down, the drill's second worker) would hold its partitions for the whole session timeout.
    So when the app starts stopping, the consumer's coordinator forgets the instance id and
    leaves as a dynamic member would (the broker accepts a leave by member id). A SIGKILLed
    or OOM-killed worker sends nothing, and its restart takes the partitions back at once.

    A stop also waits at most ``STOP_WAIT_S`` for in-flight messages to be acknowledged.
    Faust's stop clears the agents' queues and then waits for every message an agent took to
    be acknowledged. On the market-data worker it once waited for messages of ``md.index`` (a
    topic two agents read, each message counted once per agent) while every agent sat idle
    waiting for its next batch, until the process was SIGKILLed 30 s later (CI). Stopping
    without those acknowledgements loses nothing: an unacknowledged offset is never
    committed, so the message is delivered again. Rebalances keep Faust's unbounded wait: an
    agent still processing a revoked partition must finish before another worker takes it.
    """

    STOP_WAIT_S = 10.0
    _stopping = False

    async def on_stop(self) -> None:
        self._stopping = True
        coordinator = getattr(getattr(getattr(self._consumer, "_thread", None), "_consumer",
                                      None), "_coordinator", None)
        if coordinator is not None and hasattr(coordinator, "_group_instance_id"):
            coordinator._group_instance_id = None  # aiokafka 0.14: leave unless static
        await super().on_stop()

    async def _consumer_wait_empty(self, consumer: Any, logger: Any) -> None:
        if not self._stopping:
            return await super()._consumer_wait_empty(consumer, logger)
        try:
            await asyncio.wait_for(super()._consumer_wait_empty(consumer, logger),
                                   self.STOP_WAIT_S)
        except TimeoutError:
            self.log.warning("stopping with messages not acknowledged: they will be "
                             "delivered again")
        return None


app = App(
    _worker.app_id,
    broker=f"kafka://{_settings.kafka.bootstrap_servers}",
    broker_credentials=broker_credentials(_settings),
    store=_worker.store,
    datadir=str(_datadir),
    autodiscover=list(_worker.agents) or AGENT_PACKAGES,
    web_enabled=True,
    web_bind=_worker.web_host,
    web_host=_worker.web_host,
    web_port=_worker.web_port,
    topic_partitions=_worker.topic_partitions,
    topic_replication_factor=_settings.kafka.replication_factor,
    topic_allow_declare=True,
    consumer_auto_offset_reset=_worker.offset_reset,
    producer_acks=-1,
    producer_linger_ms=5,
    broker_session_timeout=_worker.session_timeout_s,
    broker_heartbeat_interval=1.0,
    broker_rebalance_timeout=_worker.session_timeout_s,
    consumer_group_instance_id=_worker.group_instance_id,
    table_cleanup_interval=30.0,
    producer_max_request_size=64 * 2**20,  # book snapshots of busy instruments are large
)


#: Changelog topics are compacted; Kafka only compacts closed segments, and a segment closes
#: at 1 GiB by default, so a worker with no local state used to read every write ever made
#: (67 s for the risk table after ~21k orders). Small segments and an eager cleaner keep a
#: changelog near one record per key. Applied when Faust creates the topic.
CHANGELOG_CONFIG = {
    "segment.bytes": str(16 * 2**20),
    "segment.ms": str(10 * 60 * 1000),
    "min.cleanable.dirty.ratio": "0.1",
    "min.compaction.lag.ms": "0",
}


def state_table(name: str, partitions: int, *, heal: bool = True, **topic_config: str
                ) -> faust.Table:
    """A RocksDB table keyed by raw bytes with JSON values, as every agent keeps its state
    (``key_type=bytes``: without it the changelog is read back as JSON keys and recovery
    stalls); ``topic_config`` adds to :data:`CHANGELOG_CONFIG` (dotted names as keys).

    ``heal``: a :class:`~streams.healing_table.HealingTable`, whose changelog catches up
    with the store on a key's first read after a restart; ``False`` for a table whose keys
    must change together (it heals itself) or that a replay rebuilds anyway."""
    cls = HealingTable if heal else ChangelogTable
    table = cls(app, name=name, default=None, beacon=app.tables.beacon, partitions=partitions,
                schema=faust.Schema(key_serializer="raw", value_serializer="json"),
                key_type=bytes, extra_topic_configs=CHANGELOG_CONFIG | topic_config)
    return app.tables.add(table)
