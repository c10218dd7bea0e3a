"""The real services of the local stack: how each is prepared, started and checked.

A :class:`Service` knows its data directory, the command supervisord runs, and a health
check with a timeout. Configuration files are rendered from :class:`~infra.settings.Settings`
on every ``up``, so the ports and paths always follow the one settings object.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from confluent_kafka.admin import AdminClient

from infra.jars import classpath, plugin_path
from infra.settings import Settings

__all__ = ["SERVICES", "Health", "Service", "service_user", "write_shared_conf"]

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

def _kafka_conf(settings: Settings) -> Path:
    return settings.data_dir / "conf" / "kafka-server.properties"


def _prepare_kafka(settings: Settings) -> None:
    k = settings.kafka
    logs = settings.data_dir / "kafka"
    conf = _kafka_conf(settings)
    conf.write_text(f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{k.host}:{k.controller_port}
listeners=PLAINTEXT://{k.host}:{k.port},CONTROLLER://{k.host}:{k.controller_port}
advertised.listeners=PLAINTEXT://{k.host}:{k.port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={logs}
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
""")
    if not (logs / "meta.properties").exists():
        cp = classpath(settings, "kafka")
        java = str(settings.java)
        cluster_id = subprocess.run(
            [java, "-cp", cp, "kafka.tools.StorageTool", "random-uuid"],
            check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]
        subprocess.run(
            [java, "-cp", cp, "kafka.tools.StorageTool", "format", "-t", cluster_id,
             "-c", str(conf)],
            check=True, capture_output=True, text=True,
        )


def _kafka_command(settings: Settings) -> list[str]:
    return _java(settings, settings.kafka.heap, "kafka", "kafka.Kafka",
                 str(_kafka_conf(settings)),
                 props=(f"-Dkafka.logs.dir={settings.data_dir / 'logs'}",))


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _kafka_health(settings: Settings) -> Health:
    # A plain TCP probe first: librdkafka logs every refused connection to stderr.
    if not _port_open(settings.kafka.host, settings.kafka.port):
        return Health(False, "port closed")
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap_servers,
                         "socket.timeout.ms": 2000})
    try:
        meta = admin.list_topics(timeout=HEALTH_TIMEOUT_S)
    except Exception as exc:
        return Health(False, f"{type(exc).__name__}: {exc}")
    return Health(True, f"{len(meta.brokers)} broker, {len(meta.topics)} topics")


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
    _connect_conf(settings).write_text(f"""\
bootstrap.servers={settings.kafka.bootstrap_servers}
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
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
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

def _es_command(settings: Settings) -> list[str]:
    es = settings.elasticsearch
    # The runner picks the first free HTTP port above -baseHttpPort. Maven's jars carry no
    # build flavour; the system property gives the one a normal distribution reports, which
    # the elasticsearch 7.17 Python client checks.
    return _java(settings, es.heap, "elasticsearch",
                 "org.codelibs.elasticsearch.runner.ElasticsearchClusterRunner",
                 "-basePath", str(settings.data_dir / "elasticsearch"), "-numOfNode", "1",
                 "-baseHttpPort", str(es.port - 1), "-clusterName", "strikeflow",
                 props=("-Des.distribution.flavor=default", "-Des.distribution.type=tar"))


def _es_health(settings: Settings) -> Health:
    try:
        resp = httpx.get(f"{settings.elasticsearch.url}/_cluster/health",
                         timeout=HEALTH_TIMEOUT_S)
        status = resp.json()["status"]
    except Exception as exc:
        return Health(False, f"{type(exc).__name__}: {exc}")
    return Health(status in ("green", "yellow"), f"cluster {status}")


# --- the catalogue -----------------------------------------------------------------------

@dataclass(frozen=True)
class Service:
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


SERVICES: tuple[Service, ...] = (
    Service("postgres", lambda s: f"{s.postgres.host}:{s.postgres.port}", _postgres_command,
            _postgres_health, _prepare_postgres, _after_postgres, user=service_user,
            stop_signal="INT", start_timeout_s=60),
    Service("kafka", lambda s: s.kafka.bootstrap_servers, _kafka_command, _kafka_health,
            _prepare_kafka),
    Service("elasticsearch", lambda s: s.elasticsearch.url, _es_command, _es_health,
            start_timeout_s=180),
    Service("connect", lambda s: s.connect.url, _connect_command, _connect_health,
            _prepare_connect, requires=("kafka",), start_timeout_s=180),
)


def write_shared_conf(settings: Settings) -> None:
    conf = settings.data_dir / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "log4j2.properties").write_text(_LOG4J2_CONSOLE)
    if not settings.java.exists():
        found = shutil.which("java")
        raise FileNotFoundError(f"Java 17 not found at {settings.java} (PATH has {found}); "
                                "set STRIKEFLOW_JAVA_HOME")
