"""Log lines carry their real level (a worker's once all said WARNING), in text or JSON."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from infra.logs import configure


@pytest.fixture(autouse=True)
def _restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level
    structlog.reset_defaults()


def test_json_lines_keep_the_level_and_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure("info", "json")
    log = structlog.get_logger("streams.inbox")
    log.debug("not shown")
    log.info("message re-routed", topic="orders.requests", partition=4)
    log.warning("slow batch", ms=250)
    logging.getLogger("aiokafka").error("a third-party record")  # same formatter
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(x["level"], x["event"]) for x in lines] == [
        ("info", "message re-routed"), ("warning", "slow batch"), ("error", "a third-party record")]
    assert lines[0]["topic"] == "orders.requests" and lines[0]["partition"] == 4
    assert lines[0]["logger"] == "streams.inbox" and lines[0]["timestamp"].endswith("Z")


def test_console_lines_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    configure("debug", "console")
    structlog.get_logger("x").debug("details", n=1)
    err = capsys.readouterr().err
    assert "[debug" in err and "details" in err and "n=1" in err and "WARNING" not in err
