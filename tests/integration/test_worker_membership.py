"""A worker is a static member of its group: a crashed worker's restart takes its partitions
back at once (no wait for the session timeout), and a worker stopped on purpose leaves."""

from __future__ import annotations

import json
import uuid

import pytest

from infra.settings import Settings
from streams.worker_process import WorkerProcess
from strikeflow.ops.kafka_admin import GroupState, group_states

from ..conftest import wait_for

pytestmark = pytest.mark.kafka


def _group(stack: Settings, app_id: str) -> GroupState:
    return group_states(stack, [app_id])[0]


def test_a_killed_worker_is_replaced_by_its_restart_and_a_stopped_one_leaves(
    stack: Settings,
) -> None:
    app_id = f"test-static-{uuid.uuid4().hex[:8]}"
    env = {"STRIKEFLOW_WORKER__AGENTS": json.dumps(["streams.matching"])}
    worker = WorkerProcess(stack, app_id, 16181, env=env)
    instance = stack.worker.model_copy(update={"web_port": 16181}).group_instance_id
    worker.start()
    try:
        wait_for(lambda: _group(stack, app_id).state == "STABLE", 30, "the worker joined")
        assert _group(stack, app_id).instances == (instance,)
        worker.kill()  # no LeaveGroup: the member stays until its session times out ...
        assert _group(stack, app_id).members == 1
        worker.start()  # ... or until a process with its instance id takes its place
        group = wait_for(lambda: (g := _group(stack, app_id)).state == "STABLE" and g, 30,
                         "the restarted worker took its place")
        assert (group.members, group.instances) == (1, (instance,))
        worker.stop()  # on purpose: it leaves, and its partitions move at once
        assert _group(stack, app_id).state == "EMPTY"
    finally:
        worker.stop()
