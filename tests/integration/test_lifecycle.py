"""``infra up`` is idempotent and ``infra down`` leaves no process behind.

Runs a second, small stack (PostgreSQL and Kafka) on its own ports and data dir, so the
stack the other tests use is not disturbed.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import psutil
import pytest

from infra import stack as infra_stack
from infra.settings import Settings
from infra.supervisor import Supervisor


def _stack_processes(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(str(data_dir) in part for part in (proc.info["cmdline"] or [])):
            found.append(proc)
    return found


@pytest.mark.kafka
@pytest.mark.postgres
def test_up_is_idempotent_and_down_leaves_nothing(stack: Settings) -> None:
    # Under the project's data dir: PostgreSQL runs as an unprivileged user, who cannot
    # enter pytest's private tmp dirs.
    data_dir = stack.data_dir / "tests" / f"lifecycle-{uuid.uuid4().hex[:8]}"
    settings = stack.model_copy(update={
        "data_dir": data_dir,
        "kafka": stack.kafka.model_copy(update={"port": 29092, "controller_port": 29093}),
        "postgres": stack.postgres.model_copy(update={"port": 25432}),
    })
    try:
        started = infra_stack.up(settings, ("postgres", "kafka"))
        assert sorted(started) == ["kafka", "postgres"]
        rows = {r.name: r for r in infra_stack.status(settings)}
        assert rows["kafka"].health.ok and rows["postgres"].health.ok
        assert rows["connect"].state == "STOPPED"
        pids = {rows["kafka"].pid, rows["postgres"].pid}

        assert infra_stack.up(settings, ("postgres", "kafka")) == []  # running: left alone
        rows = {r.name: r for r in infra_stack.status(settings)}
        assert {rows["kafka"].pid, rows["postgres"].pid} == pids
        assert _stack_processes(settings.data_dir)
    finally:
        infra_stack.down(settings)
    assert not Supervisor(settings).is_running()
    assert _stack_processes(settings.data_dir) == []
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.elasticsearch
def test_stop_one_service_and_bring_it_back(stack: Settings) -> None:
    """What fault tests rely on: one service stops, the others stay, ``up`` restores it."""
    before = {r.name: r.pid for r in infra_stack.status(stack)}
    infra_stack.stop(stack, ("elasticsearch",))
    rows = {r.name: r for r in infra_stack.status(stack)}
    assert rows["elasticsearch"].state == "STOPPED" and not rows["elasticsearch"].health.ok
    assert rows["kafka"].pid == before["kafka"] and rows["kafka"].health.ok
    assert infra_stack.up(stack) == ["elasticsearch"]
    assert {r.name: r.health.ok for r in infra_stack.status(stack)}["elasticsearch"]
