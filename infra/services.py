"""The real services of the local stack: how each is prepared, started and checked.

A :class:`Service` knows its data directory, the command supervisord runs, and a health
check with a timeout. Configuration files are rendered from :class:`~infra.settings.Settings`
on every ``up``, so the ports and paths always follow the one settings object.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

import httpx
import psycopg
from confluent_kafka.admin import AdminClient, ClusterMetadata

from infra.jars import classpath, plugin_path
from infra.kafka_security import Role
from infra.kafka_tls import DEFAULT_HOSTS, ensure_certificates
from infra.metrics import targets_dir
from infra.settings import KafkaNode, Settings

__all__ = [
    "KAFKA",
    "SERVICES",
    "Health",
    "Service",
    "catalogue",
    "depth",
    "kafka_names",
    "kafka_program",
    "render_kafka_conf",
    "render_prometheus_conf",
    "service_user",
    "services",
    "write_shared_conf",
]

HEALTH_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


def service_user() -> str | None:
    """PostgreSQL refuses to run as root: when we are root, run it as the ``postgres`` user."""
    return "postgres" if os.geteuid() == 0 else None


def _chown(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


_LOG4J2_CONSOLE = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
"""


def _java(settings: Settings, heap: str, runtime: str, main: str, *args: str,
          props: tuple[str, ...] = ()) -> list[str]:
    log4j = settings.data_dir / "conf" / "log4j2.properties"
    return [str(settings.java), f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={log4j}", *props,
            "-cp", classpath(settings, runtime), main, *args]


# --- Kafka -------------------------------------------------------------------------------
# One node keeps the program name ``kafka`` and the layout it always had; a cluster runs
# ``kafka-1``.. ``kafka-N``, each its own supervisord program, config and log dir, so one
# broker can be stopped or killed on its own in a fault drill.

KAFKA = "kafka"
_KAFKA_TEMPLATE = Path(__file__).parent / "templates" / "kafka-server.properties"
_cluster_id_lock = threading.Lock()
# Written beside meta.properties when a node is formatted with the SCRAM credentials.
_SCRAM_MARKER = "strikeflow-scram"


def _broker_program(brokers: int, node_id: int) -> str:
    return KAFKA if brokers == 1 else f"{KAFKA}-{node_id}"


def kafka_program(settings: Settings, node: KafkaNode) -> str:
    """The supervisord program (and log dir) of one node."""
    return _broker_program(settings.kafka.brokers, node.node_id)


def _kafka_conf(settings: Settings, node: KafkaNode) -> Path:
    if settings.kafka.brokers == 1:
        return settings.data_dir / "conf" / "kafka-server.properties"
    return settings.data_dir / "conf" / f"kafka-{node.node_id}.properties"


def _kafka_log_dir(settings: Settings, node: KafkaNode) -> Path:
    return settings.data_dir / kafka_program(settings, node)


def render_kafka_conf(settings: Settings, node: KafkaNode) -> str:
    """``server.properties`` of one node; the static voters list every node of the cluster."""
    k = settings.kafka
    voters = ",".join(f"{n.node_id}@{k.host}:{n.controller_port}" for n in k.nodes)
    return Template(_KAFKA_TEMPLATE.read_text()).substitute(
        brokers=k.brokers, node_id=node.node_id, voters=voters, host=k.host, port=node.port,
        controller_port=node.controller_port, log_dir=_kafka_log_dir(settings, node),
        replication_factor=k.replication_factor, min_isr=k.min_insync_replicas,
        protocol=k.security.protocol, security=_kafka_security_conf(settings),
    )


def _kafka_security_conf(settings: Settings) -> str:
    """SCRAM on the client listener, the brokers authenticating to each other as the broker
    principal, and KRaft's authorizer denying whatever no ACL allows. With TLS on, the
    listener (SASL_SSL) presents the broker certificate from a PEM keystore and the brokers,
    as each other's clients, trust the stack's CA; no client certificate is asked for
    (clients authenticate with SCRAM)."""
    sec = settings.kafka.security
    if not sec.enabled:
        return "# security off (STRIKEFLOW_KAFKA__SECURITY__ENABLED=false): no authentication"
    from infra.kafka_acls import super_users

    listener = sec.protocol.lower()
    tls = [
        "ssl.keystore.type=PEM", f"ssl.keystore.location={sec.keystore_file}",
        "ssl.truststore.type=PEM", f"ssl.truststore.location={sec.ca_file}",
        "ssl.client.auth=none", "ssl.endpoint.identification.algorithm=https",
    ] if sec.tls else []
    return "\n".join([
        *tls,
        f"sasl.enabled.mechanisms={sec.mechanism}",
        f"sasl.mechanism.inter.broker.protocol={sec.mechanism}",
        f"listener.name.{listener}.{sec.mechanism.lower()}.sasl.jaas.config="
        f"{sec.jaas(Role.BROKER)}",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false",
        f"super.users={';'.join(super_users(settings))}",
    ])


def _new_cluster_id() -> str:
    """What ``StorageTool random-uuid`` prints (a base64url UUID), without starting a JVM.

    Kafka avoids ids that begin with ``-``: they read as options on a command line.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def _cluster_id(settings: Settings) -> str:
    """The one id every node of the cluster is formatted with: from a node already
    formatted, else from the file that remembers it, else a new one."""
    with _cluster_id_lock:
        for node in settings.kafka.nodes:
            meta = _kafka_log_dir(settings, node) / "meta.properties"
            if meta.exists():
                for line in meta.read_text().splitlines():
                    if line.startswith("cluster.id="):
                        return line.split("=", 1)[1].strip()
        remembered = settings.data_dir / "conf" / "kafka-cluster.id"
        if not remembered.exists():
            remembered.write_text(_new_cluster_id())
        return remembered.read_text().strip()


def _prepare_kafka(settings: Settings, node: KafkaNode) -> None:
    sec = settings.kafka.security
    if sec.tls and sec.tls_dir is not None:
        ensure_certificates(sec.tls_dir, (settings.kafka.host, *DEFAULT_HOSTS))
    conf = _kafka_conf(settings, node)
    conf.touch(mode=0o600)  # it holds the broker's password
    conf.write_text(render_kafka_conf(settings, node))
    log_dir = _kafka_log_dir(settings, node)
    scram_marker = log_dir / _SCRAM_MARKER
    if (log_dir / "meta.properties").exists():
        if settings.kafka.security.enabled and not scram_marker.exists():
            raise RuntimeError(
                f"{log_dir} was formatted before Kafka security: its metadata holds no SCRAM "
                "credential for the brokers, which only formatting can add (KIP-900). Either "
                f"`strikeflow infra down` and delete {settings.data_dir}/kafka* (topics are "
                "lost), or keep it without security: STRIKEFLOW_KAFKA__SECURITY__ENABLED=false")
        return
    done = subprocess.run(
        [str(settings.java), "-cp", classpath(settings, "kafka"), "kafka.tools.StorageTool",
         "format", "-t", _cluster_id(settings), "-c", str(conf),
         *settings.kafka.security.format_args()],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"formatting {conf.name} failed: {done.stdout}{done.stderr}".strip())
    if settings.kafka.security.enabled:
        scram_marker.write_text(f"{settings.kafka.security.mechanism}\n")


def _after_kafka(settings: Settings) -> None:
    """Once a node is healthy: every principal's SCRAM credential and the ACLs infra owns
    (Connect's; topics/acls.py adds the catalogue's at ``topics apply``), and a
    ``--command-config`` file for Kafka's own tools acting as the admin."""
    sec = settings.kafka.security
    conf = settings.data_dir / "conf" / "kafka-admin.properties"
    conf.touch(mode=0o600)
    conf.write_text("\n".join(sec.java_properties(Role.ADMIN)) + "\n")
    if sec.enabled:
        from infra.kafka_acls import apply_security, infra_grants

        apply_security(settings, infra_grants(settings), {sec.principal(Role.CONNECT)})


def _kafka_command(settings: Settings, node: KafkaNode) -> list[str]:
    return _java(settings, settings.kafka.broker_heap, "kafka", "kafka.Kafka",
                 str(_kafka_conf(settings, node)),
                 props=(f"-Dkafka.logs.dir={settings.data_dir / 'logs'}",))


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _under_replicated(meta: ClusterMetadata) -> int:
    return sum(len(p.isrs) < len(p.replicas)
               for t in meta.topics.values() for p in t.partitions.values())


def _kafka_health(settings: Settings, node: KafkaNode) -> Health:
    """The node answers metadata and, in a cluster, counts itself among the live brokers
    (a fenced or still catching-up broker does not)."""
    k = settings.kafka
    # A plain TCP probe first: librdkafka logs every refused connection to stderr.
    if not _port_open(k.host, node.port):
        return Health(False, "port closed")
    admin = AdminClient(k.client_config(Role.ADMIN) | {
        "bootstrap.servers": f"{k.host}:{node.port}", "socket.timeout.ms": 2000})
    try:
        meta = admin.list_topics(timeout=HEALTH_TIMEOUT_S)
    except Exception as exc:
        return Health(False, f"{type(exc).__name__}: {exc}")
    if k.brokers == 1:
        return Health(True, f"{len(meta.brokers)} broker, {len(meta.topics)} topics")
    if node.node_id not in meta.brokers:
        return Health(False, f"node {node.node_id} not among live brokers "
                             f"{sorted(meta.brokers)}")
    return Health(True, f"{len(meta.brokers)}/{k.brokers} brokers live, {len(meta.topics)} "
                        f"topics, {_under_replicated(meta)} partitions under-replicated")


# --- PostgreSQL --------------------------------------------------------------------------

def _pg_dirs(settings: Settings) -> tuple[Path, Path]:
    base = settings.data_dir / "postgres"
    return base / "data", base / "run"


def _prepare_postgres(settings: Settings) -> None:
    data, run = _pg_dirs(settings)
    user = service_user()
    run.mkdir(parents=True, exist_ok=True)
    _chown(run, user)
    if (data / "PG_VERSION").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    _chown(data.parent, user)
    done = subprocess.run(
        [str(settings.postgres_bin / "initdb"), "-D", str(data), "-U",
         settings.postgres.superuser, "--auth-local=trust", "--auth-host=scram-sha-256",
         "--encoding=UTF8", "--locale=C.UTF-8"],
        capture_output=True, text=True, user=user,
    )
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed (it runs as {user or 'you'}, who must be able to "
                           f"reach {data}): {done.stderr.strip()}")
    pg = settings.postgres
    # The superuser is trusted on loopback only; every other role authenticates with a
    # password, and only the Debezium role may open a replication connection.
    (data / "pg_hba.conf").write_text(f"""\
local   all          all                                  trust
host    all          {pg.superuser}     127.0.0.1/32      trust
host    replication  {pg.debezium_user} 127.0.0.1/32      scram-sha-256
host    all          all                127.0.0.1/32      scram-sha-256
""")
    _chown(data, user)


def _postgres_command(settings: Settings) -> list[str]:
    data, run = _pg_dirs(settings)
    pg = settings.postgres
    return [str(settings.postgres_bin / "postgres"), "-D", str(data),
            "-c", f"port={pg.port}", "-c", f"listen_addresses={pg.host}",
            "-c", f"unix_socket_directories={run}", "-c", "wal_level=logical",
            "-c", "max_wal_senders=10", "-c", "max_replication_slots=10",
            "-c", "max_connections=200", "-c", "shared_buffers=256MB",
            "-c", "logging_collector=off"]


def _postgres_maintenance_dsn(settings: Settings) -> str:
    pg = settings.postgres
    return f"host={pg.host} port={pg.port} dbname=postgres user={pg.superuser} connect_timeout=2"


def _postgres_health(settings: Settings) -> Health:
    try:
        with psycopg.connect(_postgres_maintenance_dsn(settings)) as conn:
            level = conn.execute("SHOW wal_level").fetchone()
    except Exception as exc:
        return Health(False, f"{type(exc).__name__}: {exc}".strip())
    return Health(True, f"wal_level={level[0] if level else '?'}")


def _after_postgres(settings: Settings) -> None:
    """Create the product database once; its schema belongs to ``cdc`` migrations."""
    with psycopg.connect(_postgres_maintenance_dsn(settings), autocommit=True) as conn:
        name = settings.postgres.database
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        conn.execute(f'CREATE DATABASE "{name}"')


# --- Kafka Connect with Debezium ---------------------------------------------------------

def _connect_conf(settings: Settings) -> Path:
    return settings.data_dir / "conf" / "connect-distributed.properties"


def _prepare_connect(settings: Settings) -> None:
    c = settings.connect
    rf = settings.kafka.replication_factor
    # The worker itself and the producers, consumers and admin clients it makes for the
    # connectors all authenticate as the Connect principal.
    sec = settings.kafka.security
    security = "\n".join(line for prefix in ("", "producer.", "consumer.", "admin.")
                         for line in sec.java_properties(Role.CONNECT, prefix))
    conf = _connect_conf(settings)
    conf.touch(mode=0o600)
    conf.write_text(f"""\
bootstrap.servers={settings.kafka.bootstrap_servers}
{security}
group.id=strikeflow-connect
listeners=http://{c.host}:{c.port}
rest.advertised.host.name={c.host}
rest.advertised.port={c.port}
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
config.storage.topic=_connect-configs
offset.storage.topic=_connect-offsets
status.storage.topic=_connect-status
config.storage.replication.factor={rf}
offset.storage.replication.factor={rf}
status.storage.replication.factor={rf}
offset.storage.partitions=5
status.storage.partitions=3
offset.flush.interval.ms=1000
plugin.path={plugin_path(settings)}
plugin.discovery=hybrid_warn
""")


def _connect_command(settings: Settings) -> list[str]:
    return _java(settings, settings.connect.heap, "connect",
                 "org.apache.kafka.connect.cli.ConnectDistributed",
                 str(_connect_conf(settings)))


def _connect_health(settings: Settings) -> Health:
    try:
        plugins = httpx.get(f"{settings.connect.url}/connector-plugins",
                            timeout=HEALTH_TIMEOUT_S).json()
    except Exception as exc:
        return Health(False, f"{type(exc).__name__}: {exc}")
    names = [p.get("class", "") for p in plugins]
    found = [n for n in names if n.endswith("PostgresConnector")]
    if not found:
        return Health(False, f"Debezium PostgresConnector not among {len(names)} plugins")
    return Health(True, f"{found[0].rsplit('.', 1)[-1]} available")


# --- Elasticsearch -----------------------------------------------------------------------

def _es_cluster_name(settings: Settings) -> str:
    """A name of this data dir's own. Nodes on loopback discover each other by transport port
    (9300-9305): under a shared name, a second stack's node (a test's, another checkout's)
    joined ours, took shards and, when it stopped, left the indices red with their data gone."""
    digest = hashlib.sha1(str(settings.data_dir.resolve()).encode()).hexdigest()[:8]
    return f"strikeflow-{digest}"


def _es_command(settings: Settings) -> list[str]:
    es = settings.elasticsearch
    # The runner picks the first free HTTP port above -baseHttpPort. Maven's jars carry no
    # build flavour; the system property gives the one a normal distribution reports, which
    # the elasticsearch 7.17 Python client checks.
    return _java(settings, es.heap, "elasticsearch",
                 "org.codelibs.elasticsearch.runner.ElasticsearchClusterRunner",
                 "-basePath", str(settings.data_dir / "elasticsearch"), "-numOfNode", "1",
                 "-baseHttpPort", str(es.port - 1), "-clusterName", _es_cluster_name(settings),
                 props=("-Des.distribution.flavor=default", "-Des.distribution.type=tar"))


def _es_health(settings: Settings) -> Health:
    try:
        resp = httpx.get(f"{settings.elasticsearch.url}/_cluster/health",
                         timeout=HEALTH_TIMEOUT_S)
        status = resp.json()["status"]
    except Exception as exc:
        return Health(False, f"{type(exc).__name__}: {exc}")
    return Health(status in ("green", "yellow"), f"cluster {status}")


# --- Prometheus and Alertmanager ---------------------------------------------------------
# The Debian packages' binaries, run by supervisord with our configuration and data under the
# data dir; the packages' own systemd units are disabled by bootstrap.sh.

_TEMPLATES = Path(__file__).parent / "templates"
PROMETHEUS_RULES = _TEMPLATES / "prometheus-rules.yml"


def render_prometheus_conf(settings: Settings) -> str:
    """``prometheus.yml``: our processes found through ``infra.metrics`` target files,
    Prometheus and Alertmanager scraped too, the rules, alerts sent to our Alertmanager."""
    p = settings.prometheus
    return Template((_TEMPLATES / "prometheus.yml").read_text()).substitute(
        scrape_interval=p.scrape_interval,
        # paths as JSON strings, which YAML reads as they are (spaces, colons and all)
        rules=json.dumps(str(settings.data_dir / "conf" / "prometheus-rules.yml")),
        targets=json.dumps(str(targets_dir(settings.data_dir) / "*.json")),
        alertmanager=f"{p.host}:{p.alertmanager_port}", prometheus=f"{p.host}:{p.port}",
    )


def _prepare_prometheus(settings: Settings) -> None:
    conf = settings.data_dir / "conf"
    (settings.data_dir / "prometheus" / "data").mkdir(parents=True, exist_ok=True)
    targets_dir(settings.data_dir).mkdir(parents=True, exist_ok=True)
    (conf / "prometheus-rules.yml").write_text(PROMETHEUS_RULES.read_text())
    (conf / "prometheus.yml").write_text(render_prometheus_conf(settings))


def _prometheus_command(settings: Settings) -> list[str]:
    p = settings.prometheus
    # --web.enable-lifecycle: `curl -X POST <url>/-/reload` picks up edited rules (loopback).
    return [str(p.binary), f"--config.file={settings.data_dir / 'conf' / 'prometheus.yml'}",
            f"--storage.tsdb.path={settings.data_dir / 'prometheus' / 'data'}",
            f"--storage.tsdb.retention.time={p.retention}",
            f"--storage.tsdb.retention.size={p.retention_size}",
            f"--web.listen-address={p.host}:{p.port}", f"--web.external-url={p.url}/",
            "--web.enable-lifecycle"]


def _prepare_alertmanager(settings: Settings) -> None:
    (settings.data_dir / "alertmanager").mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "conf" / "alertmanager.yml").write_text(
        (_TEMPLATES / "alertmanager.yml").read_text())


def _alertmanager_command(settings: Settings) -> list[str]:
    p = settings.prometheus
    # An empty cluster address turns off the gossip port (9094 by default), which a second
    # stack on the same machine would collide on; one Alertmanager needs no peers.
    return [str(p.alertmanager_binary),
            f"--config.file={settings.data_dir / 'conf' / 'alertmanager.yml'}",
            f"--storage.path={settings.data_dir / 'alertmanager'}",
            f"--web.listen-address={p.host}:{p.alertmanager_port}",
            f"--web.external-url={p.alertmanager_url}/", "--cluster.listen-address="]


def _ready(url: str) -> Health:
    try:
        resp = httpx.get(f"{url}/-/ready", timeout=HEALTH_TIMEOUT_S)
    except Exception as exc:
        return Health(False, f"{type(exc).__name__}: {exc}")
    return Health(resp.status_code == 200, resp.text.strip()[:80] or str(resp.status_code))


def _prometheus_health(settings: Settings) -> Health:
    health = _ready(settings.prometheus.url)
    if not health.ok:
        return health
    try:
        active = httpx.get(f"{settings.prometheus.url}/api/v1/targets?state=active",
                           timeout=HEALTH_TIMEOUT_S).json()["data"]["activeTargets"]
    except Exception:
        return health
    ours = [t for t in active if t["labels"].get("job") == "strikeflow"]
    up = sum(t["health"] == "up" for t in ours)
    return Health(True, f"ready, {up}/{len(ours)} StrikeFlow targets up")


def _alertmanager_health(settings: Settings) -> Health:
    health = _ready(settings.prometheus.alertmanager_url)
    if not health.ok:
        return health
    try:
        alerts = httpx.get(f"{settings.prometheus.alertmanager_url}/api/v2/alerts",
                           params={"active": "true", "silenced": "false",
                                   "inhibited": "false"},
                           timeout=HEALTH_TIMEOUT_S).json()
    except Exception:
        return health
    return Health(True, f"ready, {len(alerts)} alerts active")


def _prepare_redis(settings: Settings) -> None:
    (settings.data_dir / "redis").mkdir(parents=True, exist_ok=True)
    conf = settings.data_dir / "conf" / "redis.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    # The password goes in a 0600 file, not on the command line where `ps` shows it.
    conf.write_text(f"requirepass {settings.redis.password.get_secret_value()}\n")
    conf.chmod(0o600)


def _redis_command(settings: Settings) -> list[str]:
    r = settings.redis
    # No RDB snapshots nor AOF: buckets, revoked tokens and seen signatures all expire.
    return [str(r.binary), str(settings.data_dir / "conf" / "redis.conf"),
            "--bind", r.host, "--port", str(r.port), "--dir", str(settings.data_dir / "redis"),
            "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--maxmemory", r.max_memory, "--maxmemory-policy", "volatile-ttl",
            "--protected-mode", "yes"]


def _redis_health(settings: Settings) -> Health:
    import redis

    try:
        client = redis.Redis.from_url(settings.redis.url, socket_timeout=HEALTH_TIMEOUT_S)
        info = client.info("server")
        client.close()
    except Exception as exc:
        return Health(False, f"{type(exc).__name__}: {exc}")
    return Health(True, f"redis {info.get('redis_version', '?')}")


# --- the catalogue -----------------------------------------------------------------------

@dataclass(frozen=True)
class Service:
    """One supervisord program.

    ``requires`` orders both ways: ``up`` starts a service after what it requires is healthy,
    ``down`` stops it before. ``stop_timeout_s`` is supervisord's ``stopwaitsecs``: after it
    the whole process group gets SIGKILL, which bounds ``down`` when a service hangs in its
    shutdown (Connect waiting on a broker that is already gone).
    """

    name: str
    address: Callable[[Settings], str]
    command: Callable[[Settings], list[str]]
    health: Callable[[Settings], Health]
    prepare: Callable[[Settings], None] = lambda _settings: None
    after_start: Callable[[Settings], None] = lambda _settings: None
    requires: tuple[str, ...] = ()
    user: Callable[[], str | None] = lambda: None
    stop_signal: str = "TERM"
    start_timeout_s: float = 120.0
    stop_timeout_s: float = 5.0


def _kafka_service(brokers: int, index: int) -> Service:
    """Broker ``index`` (from 0) of a ``brokers``-node cluster. The node is looked up in the
    settings the callables receive, so the ports always follow them.

    The default 5 s to stop is enough for a clean shutdown. When a whole three-node cluster
    goes down, the last node has lost its controller quorum and would wait minutes for it;
    it is SIGKILLed instead, its log is recovered at the next start, and the other two
    nodes shut down cleanly with every acknowledged write.
    """

    def node(settings: Settings) -> KafkaNode:
        return settings.kafka.nodes[index]

    return Service(
        _broker_program(brokers, index + 1),
        lambda s: f"{s.kafka.host}:{node(s).port}",
        lambda s: _kafka_command(s, node(s)),
        lambda s: _kafka_health(s, node(s)),
        lambda s: _prepare_kafka(s, node(s)),
        _after_kafka,
    )


@cache
def catalogue(brokers: int = 1) -> tuple[Service, ...]:
    """Every service, in start order, for a Kafka of ``brokers`` nodes."""
    kafka = tuple(_kafka_service(brokers, i) for i in range(brokers))
    return (
        Service("postgres", lambda s: f"{s.postgres.host}:{s.postgres.port}", _postgres_command,
                _postgres_health, _prepare_postgres, _after_postgres, user=service_user,
                stop_signal="INT", start_timeout_s=60),
        *kafka,
        Service("elasticsearch", lambda s: s.elasticsearch.url, _es_command, _es_health,
                start_timeout_s=180),
        # Connect is stopped first and given the least time: with the brokers gone its
        # graceful shutdown only waits on them (45 s measured), and its state is in Kafka.
        Service("connect", lambda s: s.connect.url, _connect_command, _connect_health,
                _prepare_connect, requires=tuple(k.name for k in kafka), start_timeout_s=180,
                stop_timeout_s=4.0),
        # Prometheus requires Alertmanager so that `down` stops it first: on SIGTERM it
        # sends what it still holds to Alertmanager.
        Service("alertmanager", lambda s: s.prometheus.alertmanager_url, _alertmanager_command,
                _alertmanager_health, _prepare_alertmanager, start_timeout_s=30),
        Service("prometheus", lambda s: s.prometheus.url, _prometheus_command,
                _prometheus_health, _prepare_prometheus, requires=("alertmanager",),
                start_timeout_s=60),
        Service("redis", lambda s: f"{s.redis.host}:{s.redis.port}", _redis_command,
                _redis_health, _prepare_redis, start_timeout_s=30),
    )


def services(settings: Settings) -> tuple[Service, ...]:
    return catalogue(settings.kafka.brokers)


def kafka_names(settings: Settings) -> tuple[str, ...]:
    """The programs that make up Kafka; ``kafka`` names all of them on the command line."""
    return tuple(kafka_program(settings, node) for node in settings.kafka.nodes)


def depth(svc: Service, known: tuple[Service, ...]) -> int:
    """How many levels of services ``svc`` stands on: 0 for none. Start by rising depth,
    stop by falling depth."""
    by_name = {s.name: s for s in known}
    return max((1 + depth(by_name[r], known) for r in svc.requires if r in by_name), default=0)


SERVICES: tuple[Service, ...] = catalogue(1)  # the default one-broker stack


def write_shared_conf(settings: Settings) -> None:
    conf = settings.data_dir / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "log4j2.properties").write_text(_LOG4J2_CONSOLE)
    if not settings.java.exists():
        found = shutil.which("java")
        raise FileNotFoundError(f"Java 17 not found at {settings.java} (PATH has {found}); "
                                "set STRIKEFLOW_JAVA_HOME")
