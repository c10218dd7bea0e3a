"""Shared fixtures. Integration tests run against the real stack that ``infra/`` starts.

The ``stack`` fixture brings the stack up if it is not running (and then takes it down at the
end of the session); a stack that was already running is left running.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
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


# -- what the services said while a test failed -------------------------------------------------
# A failure in CI shows only pytest's output; the workers' logs stay on the machine. So a failing
# test's report carries the warnings and errors that the logs under ``var/`` gained during it.
_LOG_LEVELS = (b"[warning", b"[error", b"[critical", b"Traceback", b"Error:")
_LOG_TAIL_LINES = 40
_LOG_SIZES = pytest.StashKey[dict[Path, int]]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if call.when == "setup":
        item.stash[_LOG_SIZES] = _log_sizes()
    if not report.failed or _LOG_SIZES not in item.stash:
        return
    before = item.stash[_LOG_SIZES]
    for path, size in _log_sizes().items():
        start = before.get(path, 0)
        if size <= start:
            continue
        with path.open("rb") as log:
            log.seek(start)
            lines = [line for line in log.read().splitlines()
                     if any(level in line for level in _LOG_LEVELS)]
        if lines:
            tail = b"\n".join(lines[-_LOG_TAIL_LINES:]).decode("utf-8", "replace")
            report.sections.append((f"warnings and errors in {path.name}", tail))



def _log_sizes() -> dict[Path, int]:
    root = get_settings().data_dir
    return {path: path.stat().st_size
            for pattern in ("logs/*.log", "tests/*/logs/*.log") for path in root.glob(pattern)}
