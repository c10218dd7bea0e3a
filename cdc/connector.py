"""The Debezium PostgreSQL connector: its configuration and its registration with Connect.

Choices, each for a reason:

* ``plugin.name=pgoutput`` — PostgreSQL's built-in logical decoding output, no server plugin
  to install; it reads the publication the migrations created
  (``publication.autocreate.mode=disabled``: Debezium's role cannot create one, by design).
* A fixed ``slot.name``: the slot keeps the WAL of every change until Debezium confirms it, so
  orders written while Debezium, Connect or Kafka is down are streamed when it returns.
* ``topic.prefix=cdc`` — topics ``cdc.public.orders`` etc., created beforehand by
  ``strikeflow topics apply`` with the catalogue's settings (the broker does not auto-create).
  ``topic.creation`` is on only for what the catalogue does not declare (the heartbeat topic).
* ``decimal.handling.mode=string`` — NUMERIC arrives as an exact decimal string, never a
  double; ``time.precision.mode=adaptive_time_microseconds`` keeps microseconds.
* ``snapshot.mode=initial`` — rows written before the connector first ran arrive as ``op=r``.
* JSON without schemas, at the connector level: the bridge validates with its own contracts
  and the key is the bare primary key (``{"id": "…"}``), which fixes the partition.
* ``heartbeat.interval.ms`` — lets Debezium confirm the slot's position while the captured
  tables are quiet, so the server can recycle WAL written by other tables.

``register`` is idempotent: ``PUT /connectors/<name>/config`` creates or updates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from cdc import CdcError
from cdc.config import CdcConfig
from cdc.domain import CAPTURED_TABLES, PUBLICATION
from infra.settings import Settings

__all__ = [
    "ConnectorError",
    "ConnectorStatus",
    "connector_config",
    "connector_status",
    "pause",
    "register",
    "resume",
    "wait_running",
]

TIMEOUT_S = 10.0
_RETRIED = frozenset({404, 409, 500, 502, 503, 504})


class ConnectorError(CdcError):
    """Kafka Connect refused the connector, or it did not start in time."""


def connector_config(settings: Settings, cfg: CdcConfig) -> dict[str, str]:
    """The connector's configuration, with the Debezium role's password from the settings."""
    pg = settings.postgres
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "database.hostname": pg.host,
        "database.port": str(pg.port),
        "database.user": pg.debezium_user,
        "database.password": pg.debezium_password.get_secret_value(),
        "database.dbname": pg.database,
        "plugin.name": "pgoutput",
        "publication.name": PUBLICATION,
        "publication.autocreate.mode": "disabled",
        "slot.name": cfg.slot,
        "topic.prefix": "cdc",
        "table.include.list": ",".join(f"public.{t}" for t in CAPTURED_TABLES),
        "decimal.handling.mode": "string",
        "time.precision.mode": "adaptive_time_microseconds",
        "snapshot.mode": "initial",
        "tombstones.on.delete": "true",
        "heartbeat.interval.ms": "10000",
        "poll.interval.ms": str(cfg.poll_interval_ms),
        "max.batch.size": "4096",
        "max.queue.size": "16384",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "topic.creation.default.replication.factor": str(settings.kafka.replication_factor),
        "topic.creation.default.partitions": "1",
        "topic.creation.default.cleanup.policy": "delete",
        "topic.creation.default.retention.ms": str(24 * 3600 * 1000),
        "producer.override.enable.idempotence": "true",
        "producer.override.acks": "all",
        "producer.override.linger.ms": "5",
        "producer.override.compression.type": "lz4",
    }


@dataclass(frozen=True)
class ConnectorStatus:
    name: str
    connector_state: str
    task_states: tuple[str, ...]
    trace: str | None = None

    @property
    def running(self) -> bool:
        return self.is_("RUNNING")

    def is_(self, state: str) -> bool:
        """The connector and every task are in ``state``."""
        return self.connector_state == state and bool(self.task_states) and all(
            s == state for s in self.task_states)


def _client(settings: Settings) -> httpx.Client:
    return httpx.Client(base_url=settings.connect.url, timeout=TIMEOUT_S)


def register(settings: Settings, cfg: CdcConfig, timeout_s: float = 60.0) -> bool:
    """Create or update the connector; ``True`` if Connect created it just now.

    A Connect worker that has just started answers 404/409/5xx until it has joined its group
    and read its config topic: those are retried until ``timeout_s``; a 400 (bad config) is not.
    """
    body = connector_config(settings, cfg)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with _client(settings) as client:
                resp = client.put(f"/connectors/{cfg.connector_name}/config", json=body)
            if resp.status_code in (200, 201):
                return resp.status_code == 201
            problem = f"Connect refused {cfg.connector_name}: {resp.status_code} " \
                      f"{resp.text[:500]}"
            if resp.status_code not in _RETRIED:
                raise ConnectorError(problem)
        except httpx.HTTPError as exc:
            problem = f"Kafka Connect at {settings.connect.url} is not reachable: {exc}"
        if time.monotonic() > deadline:
            raise ConnectorError(problem)
        time.sleep(1.0)


def _lifecycle(settings: Settings, cfg: CdcConfig, action: str) -> None:
    with _client(settings) as client:
        try:
            resp = client.put(f"/connectors/{cfg.connector_name}/{action}")
        except httpx.HTTPError as exc:
            raise ConnectorError(f"Kafka Connect at {settings.connect.url} is not reachable: "
                                 f"{exc}") from exc
    if resp.status_code not in (200, 202, 204):
        raise ConnectorError(f"{action} {cfg.connector_name}: {resp.status_code} {resp.text}")


def pause(settings: Settings, cfg: CdcConfig, timeout_s: float = 30.0) -> None:
    """Stop streaming without losing anything: the slot keeps the WAL until ``resume``.

    Returns once Connect reports the connector and its task ``PAUSED`` (the request itself
    is asynchronous), so nothing committed afterwards reaches Kafka before ``resume``.
    """
    _lifecycle(settings, cfg, "pause")
    wait_running(settings, cfg, timeout_s, state="PAUSED")


def resume(settings: Settings, cfg: CdcConfig) -> None:
    _lifecycle(settings, cfg, "resume")


def connector_status(settings: Settings, cfg: CdcConfig) -> ConnectorStatus | None:
    """The connector's and its tasks' states (``None`` if it is not registered)."""
    with _client(settings) as client:
        try:
            resp = client.get(f"/connectors/{cfg.connector_name}/status")
        except httpx.HTTPError as exc:
            raise ConnectorError(f"Kafka Connect at {settings.connect.url} is not reachable: "
                                 f"{exc}") from exc
    if resp.status_code == 404:
        return None
    if resp.status_code != 200:
        raise ConnectorError(f"status of {cfg.connector_name}: {resp.status_code} {resp.text}")
    data: dict[str, Any] = resp.json()
    tasks = data.get("tasks", [])
    trace = next((t.get("trace") for t in tasks if t.get("trace")), None) or \
        data.get("connector", {}).get("trace")
    return ConnectorStatus(cfg.connector_name, data.get("connector", {}).get("state", "?"),
                           tuple(t.get("state", "?") for t in tasks), trace)


def wait_running(settings: Settings, cfg: CdcConfig, timeout_s: float = 60.0,
                 state: str = "RUNNING") -> ConnectorStatus:
    """Wait until the connector and its task are ``state``; a FAILED task raises with its
    trace."""
    deadline = time.monotonic() + timeout_s
    status: ConnectorStatus | None = None
    while time.monotonic() < deadline:
        try:
            status = connector_status(settings, cfg)
        except ConnectorError:
            status = None  # Connect is (re)starting
        if status is not None and status.is_(state):
            return status
        if status is not None and "FAILED" in (status.connector_state, *status.task_states):
            raise ConnectorError(f"{cfg.connector_name} failed: "
                                 f"{(status.trace or '')[:2000]}")
        time.sleep(0.5)
    raise ConnectorError(f"{cfg.connector_name} not {state} after {timeout_s:.0f}s: {status}")
