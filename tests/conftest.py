"""Shared fixtures. Integration tests run against the real stack that ``infra/`` starts.

The ``stack`` fixture brings the stack up if it is not running (and then takes it down at the
end of the session); a stack that was already running is left running.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from infra.settings import Settings, get_settings

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout_s: float, message: str,
             interval_s: float = 0.2) -> T:
    """Poll ``condition`` until it returns something truthy, or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s: {message}")
        time.sleep(interval_s)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[Settings]:
    from infra import stack as infra_stack
    from infra.supervisor import Supervisor
    from topics.admin import apply_topics

    # Only a stack this session started from nothing is taken down at the end: one that was
    # already running (a developer's, or shared with other sessions) is left as it was found.
    ours = not Supervisor(settings).is_running()
    infra_stack.up(settings)
    apply_topics(settings.kafka.bootstrap_servers)
    yield settings
    if ours:
        infra_stack.down(settings)
