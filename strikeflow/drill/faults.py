"""The faults a drill injects into the running platform, each a real outage of a real part.

Every fault is injected and recovered here, while load keeps flowing; afterwards the drill
revives whatever crashed because of it (a worker that lost its broker exits: only
infrastructure failures crash a worker, and production's supervisor restarts it, as the
drill does).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra import stack
from infra.settings import Settings
from streams.worker_process import ElasticsearchSinkProcess, SinkProcess, WorkerProcess

__all__ = ["FAULTS", "SHORT", "DrillContext", "Fault"]


@dataclass
class DrillContext:
    """The processes a drill runs, and how to start another worker of the same group."""

    settings: Settings
    worker: WorkerProcess
    sink: SinkProcess
    es_sink: ElasticsearchSinkProcess
    make_worker: Callable[[str, int], WorkerProcess]
    notes: list[str] = field(default_factory=list)

    def revive(self) -> list[str]:
        """Start whatever is not running (after a fault took it down); returns their names."""
        revived = []
        for name, proc in (("worker", self.worker), ("clickhouse sink", self.sink),
                           ("elasticsearch sink", self.es_sink)):
            if proc.proc is None or proc.proc.poll() is not None:
                proc.start(timeout_s=180)
                revived.append(name)
        return revived


def _worker_sigkill(ctx: DrillContext) -> None:
    ctx.worker.kill()
    ctx.worker.start(timeout_s=180)


def _worker_state_deleted(ctx: DrillContext) -> None:
    """SIGKILL, then the worker's whole RocksDB directory is gone: state comes back from the
    changelogs alone."""
    ctx.worker.kill()
    shutil.rmtree(ctx.settings.data_dir / "faust" / ctx.worker.app_id, ignore_errors=True)
    ctx.worker.start(timeout_s=180)


def _second_worker(ctx: DrillContext) -> None:
    """A second worker joins the group under load (partitions move to it), then leaves
    (they move back)."""
    second = ctx.make_worker("second", 2)
    second.start(timeout_s=180)
    time.sleep(6)
    second.stop()


def _takeover_after_sigkill(ctx: DrillContext) -> None:
    """SIGKILL mid-batch and restart: the replayed batch finds its work done in the worker's
    own store, so only the healing reads bring the changelogs up to it. Then the worker is
    SIGKILLed again and one with no local state takes every partition over from the
    changelogs alone; the first comes back and the other leaves."""
    _worker_sigkill(ctx)
    time.sleep(3)
    ctx.worker.kill()
    other = ctx.make_worker("takeover", 3)
    other.start(timeout_s=180)
    time.sleep(6)
    ctx.worker.start(timeout_s=180)
    other.stop()


def _restart(*services: str, down_s: float = 3.0) -> Callable[[DrillContext], None]:
    def fault(ctx: DrillContext) -> None:
        stack.stop(ctx.settings, services)
        time.sleep(down_s)
        stack.up(ctx.settings, services)
    return fault


def _sink_sigkill(ctx: DrillContext) -> None:
    ctx.sink.kill()
    ctx.sink.start(timeout_s=180)


def _broker_of_three(ctx: DrillContext) -> None:
    if ctx.settings.kafka.brokers < 3:
        raise FaultUnavailable("needs Kafka as three brokers (STRIKEFLOW_KAFKA__BROKERS=3)")
    _restart("kafka-2", down_s=8.0)(ctx)


class FaultUnavailable(RuntimeError):
    """This fault cannot be injected on this stack (said in the drill's table)."""


@dataclass(frozen=True)
class Fault:
    name: str
    what: str
    inject: Callable[[DrillContext], Any]
    times: int = 1  # injections spread over the segment's load


FAULTS: dict[str, Fault] = {f.name: f for f in (
    Fault("worker-sigkill", "the worker SIGKILLed mid-batch and restarted", _worker_sigkill,
          times=3),
    Fault("worker-state-deleted", "the worker SIGKILLed and its RocksDB directory deleted",
          _worker_state_deleted),
    Fault("second-worker", "a second worker joins the group under load, then leaves",
          _second_worker),
    Fault("takeover-after-sigkill", "SIGKILLed and restarted, SIGKILLed again and taken "
          "over by a worker with no local state", _takeover_after_sigkill),
    Fault("kafka-restart", "the Kafka broker(s) stopped and started again",
          _restart("kafka")),
    Fault("connect-stopped", "Kafka Connect (Debezium) stopped during placements",
          _restart("connect", down_s=8.0)),
    Fault("postgres-restart", "PostgreSQL stopped and started again", _restart("postgres")),
    Fault("clickhouse-sink-sigkill", "the ClickHouse sink SIGKILLed and restarted",
          _sink_sigkill),
    Fault("elasticsearch-down", "Elasticsearch stopped for a while",
          _restart("elasticsearch", down_s=10.0)),
    Fault("broker-of-three", "one broker of a three-broker cluster stopped",
          _broker_of_three),
)}

#: What CI runs: cheap, and each exercises a different recovery path.
SHORT = ("worker-sigkill", "second-worker", "clickhouse-sink-sigkill")
