"""Bring the local stack up and down, and report on it: what ``strikeflow infra`` calls."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from infra.jars import ensure_jars
from infra.services import SERVICES, Health, Service, write_shared_conf
from infra.settings import Settings
from infra.supervisor import Supervisor

__all__ = ["ServiceStatus", "StackError", "clickhouse_health", "down", "status", "stop", "up"]

Progress = Callable[[str], None]


class StackError(RuntimeError):
    """A service did not become healthy in time; the message names its log."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    state: str
    pid: int | None
    rss_mb: float | None
    health: Health


def _rss_mb(pid: int | None) -> float | None:
    """Resident memory of a program and its children (a JVM or postgres' backends)."""
    if not pid:
        return None
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 2**20
    except psutil.Error:
        return None


def _select(names: tuple[str, ...] | None) -> tuple[Service, ...]:
    if not names:
        return SERVICES
    unknown = set(names) - {s.name for s in SERVICES}
    if unknown:
        raise ValueError(f"unknown service(s): {', '.join(sorted(unknown))}")
    wanted = set(names)
    for svc in SERVICES:  # pull in what the wanted services need
        if svc.name in wanted:
            wanted.update(svc.requires)
    return tuple(s for s in SERVICES if s.name in wanted)


def _wait_healthy(settings: Settings, sup: Supervisor, svc: Service) -> Health:
    deadline = time.monotonic() + svc.start_timeout_s
    health = Health(False, "not checked")
    while time.monotonic() < deadline:
        info = sup.info(svc.name) or {}
        if info.get("statename") in ("FATAL", "EXITED", "BACKOFF"):
            raise StackError(f"{svc.name} {info.get('statename')}: see {sup.log_path(svc.name)}")
        health = svc.health(settings)
        if health.ok:
            return health
        time.sleep(0.5)
    raise StackError(f"{svc.name} not healthy after {svc.start_timeout_s:.0f}s "
                     f"({health.detail}); see {sup.log_path(svc.name)}")


def up(settings: Settings, names: tuple[str, ...] | None = None,
       progress: Progress = lambda _msg: None) -> list[str]:
    """Start what is not running, in dependency order; leave running services alone."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fetched = ensure_jars(settings)
    if fetched:
        progress(f"resolved from Maven Central: {', '.join(fetched)}")
    write_shared_conf(settings)
    sup = Supervisor(settings)
    selected = _select(names)
    started: list[str] = []
    pending = [s for s in selected if (sup.info(s.name) or {}).get("statename") != "RUNNING"]
    for svc in pending:
        svc.prepare(settings)
    sup.ensure_running(SERVICES)
    rpc = sup.rpc()
    # Start every service whose requirements are met at once, then wait; repeat.
    remaining = list(pending)
    while remaining:
        ready = [s for s in remaining if not set(s.requires) & {r.name for r in remaining}]
        for svc in ready:
            progress(f"starting {svc.name}")
            rpc.startProcess(svc.name, False)
        for svc in ready:
            health = _wait_healthy(settings, sup, svc)
            svc.after_start(settings)
            progress(f"{svc.name} healthy at {svc.address(settings)}: {health.detail}")
            started.append(svc.name)
            remaining.remove(svc)
    return started


def stop(settings: Settings, names: tuple[str, ...]) -> None:
    """Stop some services and leave the others (and supervisord) running; ``up`` restarts them.

    What fault tests and ops drills use: Connect stopped while orders are written, a broker
    restarted mid-stream.
    """
    sup = Supervisor(settings)
    wanted = {s.name for s in _select(names)} & set(names)  # validates the names
    if not sup.is_running():
        return
    rpc = sup.rpc()
    for svc in reversed(SERVICES):  # dependants first
        if svc.name in wanted and (sup.info(svc.name) or {}).get("statename") == "RUNNING":
            rpc.stopProcess(svc.name, True)


def down(settings: Settings) -> None:
    """Stop every program and supervisord itself; no process of the stack remains."""
    Supervisor(settings).shutdown()


def clickhouse_health(settings: Settings) -> Health:
    """chDB is in-process: check that the engine opens the data dir, unless another holds it."""
    import clickhouse_connect

    try:
        client = clickhouse_connect.get_client(dsn=settings.clickhouse_dsn)
        version = client.query("SELECT version()").result_rows[0][0]
        client.close()
    except Exception as exc:
        text = str(exc)
        if "Cannot lock file" in text:
            return Health(True, "open in another process (embedded stores allow one)")
        return Health(False, f"{type(exc).__name__}: {text[:160]}")
    return Health(True, f"ClickHouse {version}")


def status(settings: Settings) -> list[ServiceStatus]:
    sup = Supervisor(settings)
    rows: list[ServiceStatus] = []
    for svc in SERVICES:
        info = sup.info(svc.name) or {}
        state = info.get("statename", "STOPPED")
        pid = info.get("pid") or None
        health = svc.health(settings) if state == "RUNNING" else Health(False, "not running")
        rows.append(ServiceStatus(svc.name, svc.address(settings), state, pid, _rss_mb(pid),
                                  health))
    rows.append(ServiceStatus("clickhouse", settings.clickhouse_dsn, "EMBEDDED", None, None,
                              clickhouse_health(settings)))
    return rows
