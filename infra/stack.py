"""Bring the local stack up and down, and report on it: what ``strikeflow infra`` calls."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psutil

from infra.jars import ensure_jars
from infra.services import (
    KAFKA,
    Health,
    Service,
    depth,
    kafka_names,
    services,
    write_shared_conf,
)
from infra.settings import Settings
from infra.supervisor import Supervisor

__all__ = ["ServiceStatus", "StackError", "clickhouse_health", "down", "status", "stop", "up"]

Progress = Callable[[str], None]
_ALIVE = ("RUNNING", "STARTING", "BACKOFF")


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


def _expand(settings: Settings, names: tuple[str, ...]) -> set[str]:
    """Program names for what the user named: ``kafka`` means every broker of a cluster."""
    out: set[str] = set()
    for name in names:
        out.update(kafka_names(settings) if name == KAFKA else (name,))
    return out


def _select(settings: Settings, names: tuple[str, ...] | None) -> tuple[Service, ...]:
    known = services(settings)
    if not names:
        return known
    wanted = _expand(settings, names)
    unknown = wanted - {s.name for s in known}
    if unknown:
        raise ValueError(f"unknown service(s): {', '.join(sorted(unknown))}")
    for svc in known:  # pull in what the wanted services need
        if svc.name in wanted:
            wanted.update(svc.requires)
    return tuple(s for s in known if s.name in wanted)


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


def _prepare(settings: Settings, pending: list[Service]) -> None:
    """Prepare in parallel: formatting three Kafka nodes and ``initdb`` are each a JVM or a
    process start of a second or more, and independent."""
    with ThreadPoolExecutor(max_workers=max(1, len(pending))) as pool:
        for future in [pool.submit(svc.prepare, settings) for svc in pending]:
            future.result()


def up(settings: Settings, names: tuple[str, ...] | None = None,
       progress: Progress = lambda _msg: None) -> list[str]:
    """Start what is not running, in dependency order; leave running services alone."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fetched = ensure_jars(settings)
    if fetched:
        progress(f"resolved from Maven Central: {', '.join(fetched)}")
    write_shared_conf(settings)
    sup = Supervisor(settings)
    selected = _select(settings, names)
    # Configure supervisord first: a changed program is stopped and re-added, so what is
    # pending is only known afterwards.
    sup.ensure_running(services(settings))
    programs = sup.programs()
    pending = [s for s in selected if programs.get(s.name, {}).get("statename") != "RUNNING"]
    _prepare(settings, pending)
    rpc = sup.rpc()
    started: list[str] = []
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
    stopped mid-stream (``kafka-2``; ``kafka`` stops every broker). One at a time, dependants
    first, each waited for: brokers stopped together could leave the controllers without a
    quorum mid-way through their controlled shutdown, and a drill wants the clean one.
    """
    sup = Supervisor(settings)
    wanted = {s.name for s in _select(settings, names)} & _expand(settings, names)
    if not sup.is_running():
        return
    rpc = sup.rpc()
    for svc in reversed(services(settings)):  # dependants first
        if svc.name in wanted & _alive(sup):
            rpc.stopProcess(svc.name, True)


def _alive(sup: Supervisor) -> set[str]:
    """Programs running or on their way to it: one that crashed and that supervisord is
    restarting is stopped too, so a killed broker stays down for a drill."""
    return {n for n, p in sup.programs().items() if p.get("statename") in _ALIVE}


def _stop_waves(settings: Settings, programs: list[str]) -> list[list[str]]:
    """Running programs grouped for stopping: anything the catalogue does not know (a
    worker) first, then by falling depth (Connect before the brokers it writes to)."""
    known = {s.name: s for s in services(settings)}
    catalogue = tuple(known.values())
    levels: dict[int, list[str]] = {}
    for name in programs:
        level = depth(known[name], catalogue) if name in known else 1_000
        levels.setdefault(level, []).append(name)
    return [levels[level] for level in sorted(levels, reverse=True)]


def down(settings: Settings) -> None:
    """Stop every program and supervisord itself; no process of the stack remains.

    Wave by wave in reverse dependency order, each wave stopped in parallel: so Connect
    shuts down while Kafka still answers it, and the whole takes about the slowest service
    of each wave, each bounded by its ``stopwaitsecs`` before SIGKILL.
    """
    sup = Supervisor(settings)
    running = sorted(_alive(sup))
    timeouts = {s.name: s.stop_timeout_s for s in services(settings)}
    for wave in _stop_waves(settings, running):
        sup.stop_together(wave, max(timeouts.get(n, 10.0) for n in wave) + 10)
    sup.shutdown()


def clickhouse_health(settings: Settings) -> Health:
    """chDB is in-process: the sink (or ``analytics serve``) answering on its HTTP front holds
    the store and is asked; otherwise check that the engine opens the data dir."""
    import clickhouse_connect
    import httpx

    ch = settings.clickhouse
    if settings.clickhouse_dsn.startswith("chdb://"):
        front = f"http://{ch.query_host}:{ch.query_port}"
        try:
            if httpx.get(f"{front}/ping", timeout=2).status_code == 200:
                return Health(True, f"served at {front} by the process holding the store")
        except httpx.HTTPError:
            pass  # nobody serves it: open it here
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
    programs = sup.programs()
    for svc in services(settings):
        info = programs.get(svc.name, {})
        state = info.get("statename", "STOPPED")
        pid = info.get("pid") or None
        health = svc.health(settings) if state == "RUNNING" else Health(False, "not running")
        rows.append(ServiceStatus(svc.name, svc.address(settings), state, pid, _rss_mb(pid),
                                  health))
    rows.append(ServiceStatus("clickhouse", settings.clickhouse_dsn, "EMBEDDED", None, None,
                              clickhouse_health(settings)))
    return rows
