"""The one settings object of StrikeFlow.

Every component reads its part of :class:`Settings`; the environment is read once, in
:func:`get_settings`. Variables are prefixed ``STRIKEFLOW_`` and nested with ``__``, for example
``STRIKEFLOW_KAFKA__PORT=29092`` or ``STRIKEFLOW_CLICKHOUSE__DSN=http://ch:8123``.

Default ports sit away from the well-known ones (9092, 5432, 8083, 9200) so the stack can run
beside other installations on a developer's machine.
"""

from __future__ import annotations

import os
import socket
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.kafka_security import KafkaSecurity, Role
from infra.risk_limits import RiskLimits

__all__ = [
    "ClickHouseSettings",
    "ComplianceSettings",
    "ConnectSettings",
    "Credentials",
    "ElasticsearchSettings",
    "GatewaySettings",
    "KafkaNode",
    "KafkaSettings",
    "LogSettings",
    "MatchingSettings",
    "PostgresSettings",
    "PrometheusSettings",
    "RateLimit",
    "RedisSettings",
    "Settings",
    "WorkerSettings",
    "get_settings",
]

LOOPBACK = "127.0.0.1"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaNode(NamedTuple):
    """One KRaft node of the local cluster: a combined broker and controller."""

    node_id: int
    port: int
    controller_port: int


class KafkaSettings(_Part):
    """Kafka as one node (the fast local path) or as a cluster of ``brokers`` KRaft nodes.

    Node ``n`` (from 1) listens on ``port + 2(n-1)`` and its controller on
    ``controller_port + 2(n-1)``: with the defaults 19092/19093, 19094/19095, 19096/19097.
    The replication factor and min ISR of every topic follow the cluster size, so one
    setting (``STRIKEFLOW_KAFKA__BROKERS=3``) gives production's RF 3 / min ISR 2.
    """

    host: str = LOOPBACK
    port: int = 19092
    controller_port: int = 19093
    brokers: int = Field(default=1, ge=1, le=9)
    heap: str | None = None  # per broker; unset: see broker_heap
    # SASL/SCRAM and ACLs (infra/kafka_security.py, infra/kafka_acls.py, topics/acls.py)
    security: KafkaSecurity = KafkaSecurity()

    @model_validator(mode="after")
    def _ports_distinct(self) -> KafkaSettings:
        ports = [p for node in self.nodes for p in (node.port, node.controller_port)]
        if len(set(ports)) != len(ports):
            raise ValueError(f"Kafka ports overlap for {self.brokers} brokers: {ports}")
        return self

    @property
    def nodes(self) -> tuple[KafkaNode, ...]:
        return tuple(KafkaNode(n + 1, self.port + 2 * n, self.controller_port + 2 * n)
                     for n in range(self.brokers))

    @property
    def broker_heap(self) -> str:
        """The JVM heap of each broker: 768m alone, 384m each in a cluster (three brokers in
        about 1.2 GB of heap; the drills here pass with 256m)."""
        return self.heap or ("768m" if self.brokers == 1 else "384m")

    @property
    def bootstrap_servers(self) -> str:
        """Every broker, so a client still bootstraps when the first one is down."""
        return ",".join(f"{self.host}:{node.port}" for node in self.nodes)

    def client_config(self, role: Role | str = Role.WORKER) -> dict[str, str]:
        """A confluent-kafka client's connection settings, authenticated as ``role``: the one
        place every librdkafka client of the platform gets them from."""
        return {"bootstrap.servers": self.bootstrap_servers} | self.security.librdkafka(role)

    @property
    def replication_factor(self) -> int:
        """Three copies where there are three brokers; never more than there are brokers."""
        return min(self.brokers, 3)

    @property
    def min_insync_replicas(self) -> int:
        """Two of three: an acks=all write survives losing one broker, and is refused
        (NOT_ENOUGH_REPLICAS) rather than kept in one copy when two are gone."""
        return 2 if self.replication_factor >= 3 else 1


class PostgresSettings(_Part):
    host: str = LOOPBACK
    port: int = 15432
    database: str = "strikeflow"
    superuser: str = "postgres"
    service_user: str = "strikeflow_service"
    service_password: SecretStr = SecretStr("strikeflow-service")
    debezium_user: str = "strikeflow_debezium"
    debezium_password: SecretStr = SecretStr("strikeflow-debezium")

    def dsn(self, user: str | None = None, password: SecretStr | None = None) -> str:
        """A libpq connection string; the superuser connects over loopback with trust."""
        user = user or self.superuser
        secret = f" password={password.get_secret_value()}" if password else ""
        return f"host={self.host} port={self.port} dbname={self.database} user={user}{secret}"


class ConnectSettings(_Part):
    host: str = LOOPBACK
    port: int = 18083
    heap: str = "512m"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class ElasticsearchSettings(_Part):
    host: str = LOOPBACK
    port: int = 9250
    heap: str = "768m"
    # The sink (sinks/search_index): indices are <index_prefix>orders|trades|audit|
    # notifications|dead-letters, so tests and deployments can keep their own.
    index_prefix: str = "strikeflow-"
    group_id: str = "strikeflow-sink-elasticsearch"
    batch_messages: int = 2000
    flush_interval_s: float = 1.0
    request_timeout_s: float = 30.0
    replicas: int = 0  # one node here; a cluster wants 1

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class Credentials(_Part):
    name: str
    password: SecretStr


class ClickHouseSettings(_Part):
    """``chdb:///path`` opens the embedded engine; ``http://host:8123`` a ClickHouse server.

    The HTTP front (the sink's, or ``analytics serve``) has two users: ``analyst`` may only
    read; ``writer`` may also write where the front takes writes (``analytics serve``; the
    sink's front is read-only for everyone, the sink alone writes). Passwords suit a
    developer's machine; a deployment sets ``STRIKEFLOW_CLICKHOUSE__ANALYST__PASSWORD`` etc.
    """

    dsn: str = ""
    database: str = "strikeflow"
    query_host: str = LOOPBACK
    query_port: int = 18123  # the sink process answers analysts' SQL here (chDB is in-process)
    analyst: Credentials = Credentials(name="analyst", password=SecretStr("analyst-dev"))
    writer: Credentials = Credentials(name="writer", password=SecretStr("writer-dev"))
    batch_rows: int = 5000
    flush_interval_s: float = 1.0


class WorkerSettings(_Part):
    """The Faust worker: its web server stays on loopback unless told otherwise."""

    app_id: str = "strikeflow"
    web_host: str = LOOPBACK
    web_port: int = 16066
    store: str = "rocksdb://"
    session_timeout_s: float = 10.0
    # Static group membership (KIP-345): a worker restarted after a crash under the same
    # instance id takes its partitions back at once, instead of the group waiting out the
    # session timeout for the dead member. Must be unique among live workers (two live
    # processes under one id take the member from each other; neither gets fenced cleanly).
    # Empty: "{host}-{web_port}": unique on a host, the web port is bound before joining.
    instance_id: str = ""
    topic_partitions: int = 3
    offset_reset: Literal["earliest", "latest"] = "earliest"  # for a group with no offsets
    # Which agent packages or modules this worker runs (empty: all of them). Deployments
    # split work this way, e.g. matching workers apart from market-data workers.
    agents: tuple[str, ...] = ()

    @property
    def group_instance_id(self) -> str:
        return self.instance_id or f"{socket.gethostname()}-{self.web_port}"


class MatchingSettings(_Part):
    """Snapshots bound recovery: a restarted worker replays the commands since the last one."""

    snapshot_every_commands: int = 5000
    snapshot_every_s: float = 5.0
    depth_levels: int = 10
    extra_spot_bases: tuple[str, ...] = ()  # list more BTC-like spot pairs against USDT


class SettlementSettings(_Part):
    """The acceptance service: hedging through a venue adapter, retries, expiry."""

    venue: str = "simulated"  # the adapter: "simulated" fills against the consolidated book
    venue_fee_rate: Decimal = Decimal("0.001")  # taker fee of the hedge venue
    venue_slippage_bps: Decimal = Decimal("2")  # extra impact on top of walking the book
    venue_failure_rate: float = 0.0  # the simulated venue refuses this fraction (tests, demo)
    retry_initial_s: float = 0.2
    retry_max_s: float = 10.0
    resume_every_s: float = 1.0  # how often incomplete orders are looked at
    twap_window_s: int = 1800  # settlement price: TWAP of the index over this window
    expiry_check_every_s: float = 60.0  # the leader settles expiries that have passed


class RfqSettings(_Part):
    """Block RFQs (``streams.rfq``): how long an RFQ and a quote stay good (venue time)."""

    ttl_ms: int = Field(default=300_000, gt=0)  # an RFQ expires this long after it opened
    quote_ttl_ms: int = Field(default=60_000, gt=0)  # a quote is firm for this long
    expire_every_s: float = 1.0  # how often open RFQs past their expiry are closed


class RoutingVenue(_Part):
    """One venue smart order routing may send children to: simulated for the external ones
    (latency, fill ratio); "strikeflow" is our own book (real IOC orders through risk and
    matching), for which only the fee and lot size are used by the split."""

    fee_rate: Decimal = Field(default=Decimal("0.001"), ge=0, lt=1)  # taker fee
    lot_size: Decimal = Field(default=Decimal("0.0001"), gt=0)  # children are multiples
    latency_ms: float = Field(default=0.0, ge=0)  # the simulated round trip of an order
    fill_ratio: Decimal = Field(default=Decimal(1), gt=0, le=1)  # displayed depth really there


def _routing_venues() -> dict[str, RoutingVenue]:
    # The simulator's four feeds plus StrikeFlow's own book ("strikeflow": md.book source
    # "venue"); fees as those venues charge takers, our own as streams.ledger.fees.
    return {"binance": RoutingVenue(fee_rate=Decimal("0.001"), latency_ms=20),
            "okx": RoutingVenue(fee_rate=Decimal("0.0008"), lot_size=Decimal("0.001"),
                                latency_ms=30, fill_ratio=Decimal("0.7")),
            "bybit": RoutingVenue(fee_rate=Decimal("0.001"), lot_size=Decimal("0.001"),
                                  latency_ms=25),
            "deribit": RoutingVenue(fee_rate=Decimal("0.0005"), latency_ms=40,
                                    fill_ratio=Decimal("0.5")),
            "strikeflow": RoutingVenue(fee_rate=Decimal("0.0005"), latency_ms=1)}


class RoutingSettings(_Part):
    """Smart order routing (``streams.routing``): the venues, and how often a round runs."""

    venues: dict[str, RoutingVenue] = Field(default_factory=_routing_venues)
    round_every_s: float = Field(default=0.25, gt=0)  # next round of each working parent
    #: children on our own book (``streams.routing.own_book``): how long one call waits for
    #: risk's or matching's final answer on ``orders.events`` before the child is re-sent
    #: later, and how far back a (re)started worker reads those answers
    own_book_timeout_s: float = Field(default=5.0, gt=0)
    own_book_lookback_s: float = Field(default=6 * 3600.0, gt=0)


class ComplianceSettings(_Part):
    """KYC gates and AML screening (``streams.compliance``, the counter service, risk).

    ``require_kyc``: an account with no KYC record is treated as unverified (status ``none``,
    tier 0: deposits up to 1,000 USDT, no withdrawals, no trading). Off by default so the
    accounts opened before KYC existed (and test or demo accounts without a record) keep
    working; a production venue turns it on. ``related`` maps an account to its group (one
    owner, household or firm); sub-accounts ``<master>:<sub>`` are related to their master's
    other sub-accounts without being listed. ``sanctioned``: wallet addresses (e.g. OFAC's
    SDN list) a transfer may neither come from nor go to.
    """

    require_kyc: bool = False
    related: dict[str, str] = Field(default_factory=dict)
    sanctioned: tuple[str, ...] = ()
    max_seen_ids: int = Field(default=20_000, ge=100)  # per screened key (account, symbol)


class PrometheusSettings(_Part):
    """Prometheus and Alertmanager, run from the Debian binaries under supervisord.

    Ports sit above the Kafka nodes (19092-19097 for three brokers). Scrape and rule evaluation
    run every ``scrape_interval``: a killed process shows ``up == 0`` within one interval. The
    store keeps ``retention`` of history, at most ``retention_size`` on disk, whichever ends
    first: enough to look back over a test day, small enough for a laptop.
    """

    host: str = LOOPBACK
    port: int = 19190
    alertmanager_port: int = 19193
    scrape_interval: str = "5s"
    retention: str = "2d"
    retention_size: str = "256MB"
    binary: Path = Path("/usr/bin/prometheus")
    alertmanager_binary: Path = Path("/usr/bin/prometheus-alertmanager")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://{self.host}:{self.alertmanager_port}"


class RedisSettings(_Part):
    """Redis from Debian under supervisord: the gateways' shared rate-limit buckets, revoked
    access tokens and seen HMAC signatures. Nothing in it must outlive a restart, so it keeps
    no snapshot on disk."""

    host: str = LOOPBACK
    port: int = 16379
    password: SecretStr = SecretStr("strikeflow-redis-dev")
    binary: Path = Path("/usr/bin/redis-server")
    max_memory: str = "128mb"

    @property
    def url(self) -> str:
        return f"redis://:{self.password.get_secret_value()}@{self.host}:{self.port}/0"


class RateLimit(_Part):
    """A token bucket: ``burst`` tokens, refilled at ``per_second``."""

    per_second: float = Field(gt=0)
    burst: int = Field(ge=1)


class GatewaySettings(_Part):
    """The trading API and web client (``strikeflow gateway``).

    Tokens are HS256 JWTs signed with ``jwt_secret``; API-key secrets are derived from
    ``api_key_master`` (HMAC of the key id), so the database holds no usable secret. Limits
    are token buckets in Redis, shared by every gateway process. ``tls_cert``/``tls_key``
    turn on HTTPS. Secrets have developer defaults; a deployment sets them, e.g.
    ``STRIKEFLOW_GATEWAY__JWT_SECRET=…``.
    """

    host: str = LOOPBACK
    port: int = 18080
    jwt_secret: SecretStr = SecretStr("strikeflow-gateway-dev-jwt-secret-change-me!")
    api_key_master: SecretStr = SecretStr("strikeflow-gateway-dev-api-key-master")
    access_ttl_s: int = Field(default=300, ge=10)
    refresh_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)
    recv_window_ms: int = Field(default=5000, ge=100)  # a signed request's default window
    max_recv_window_ms: int = 60_000
    decision_timeout_s: float = 5.0  # how long an order request waits for risk's answer
    max_body_bytes: int = 64 * 1024
    cors_origins: tuple[str, ...] = ("http://127.0.0.1:18080", "http://localhost:18080")
    account_limit: RateLimit = RateLimit(per_second=200, burst=400)
    maker_limit: RateLimit = RateLimit(per_second=2000, burst=4000)  # market makers
    ip_limit: RateLimit = RateLimit(per_second=1000, burst=2000)
    login_user_limit: RateLimit = RateLimit(per_second=0.1, burst=5)  # logins per username
    login_ip_limit: RateLimit = RateLimit(per_second=1, burst=30)  # logins, sign-ups per IP
    ws_queue: int = Field(default=1000, ge=10)  # messages a slow client may have pending
    ws_heartbeat_s: float = 15.0
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{self.host}:{self.port}"


class LogSettings(_Part):
    """Every process logs at ``level``; ``format=json`` writes one JSON object per line."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["console", "json"] = "console"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STRIKEFLOW_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    data_dir: Path = Field(default_factory=lambda: Path("var").resolve())
    cache_dir: Path = Field(
        default_factory=lambda: Path(
            os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")
        ).joinpath("strikeflow")
    )
    java_home: Path = Path("/usr/lib/jvm/java-17-openjdk-amd64")
    postgres_bin: Path = Path("/usr/lib/postgresql/15/bin")
    kafka: KafkaSettings = KafkaSettings()
    postgres: PostgresSettings = PostgresSettings()
    connect: ConnectSettings = ConnectSettings()
    elasticsearch: ElasticsearchSettings = ElasticsearchSettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    worker: WorkerSettings = WorkerSettings()
    matching: MatchingSettings = MatchingSettings()
    risk: RiskLimits = RiskLimits()
    settlement: SettlementSettings = SettlementSettings()
    rfq: RfqSettings = RfqSettings()
    routing: RoutingSettings = RoutingSettings()
    compliance: ComplianceSettings = ComplianceSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    redis: RedisSettings = RedisSettings()
    gateway: GatewaySettings = GatewaySettings()
    log: LogSettings = LogSettings()

    @model_validator(mode="after")
    def _kafka_tls_dir(self) -> Settings:
        """With Kafka TLS on, its certificates live in ``<data_dir>/tls`` unless
        ``STRIKEFLOW_KAFKA__SECURITY__TLS_DIR`` says otherwise. (A ``model_copy`` with another
        data dir keeps the old path: set ``tls_dir`` explicitly there.)"""
        sec = self.kafka.security
        if sec.tls and sec.tls_dir is None:
            kafka = self.kafka.model_copy(update={
                "security": sec.model_copy(update={"tls_dir": self.data_dir / "tls"})})
            object.__setattr__(self, "kafka", kafka)  # frozen: set once, while validating
        return self

    @property
    def clickhouse_dsn(self) -> str:
        return self.clickhouse.dsn or f"chdb://{self.data_dir / 'clickhouse'}"

    @property
    def java(self) -> Path:
        return self.java_home / "bin" / "java"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
