"""``strikeflow cdc`` end to end against the real database: the commands ops will type."""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner

from infra.settings import Settings
from strikeflow.cli import main

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["cdc", *args])
    return result.exit_code, result.output


def test_the_counter_from_the_shell(cdc_stack: Settings, counter: object) -> None:
    account = f"cli-{uuid.uuid4().hex[:8]}"
    code, out = _run("migrate")
    assert code == 0 and "already there" in out
    assert _run("open-account", account)[0] == 0
    code, out = _run("deposit", account, "1000.25", "--reference", "r1")
    assert code == 0 and "balance 1000.25" in out
    code, out = _run("deposit", account, "1000.25", "--reference", "r1")
    assert code == 0 and "replayed" in out
    product = _run("products")[1].split("│")[1].strip()
    code, out = _run("place-order", account, product, "2", "--client-order-id", "cli-1")
    assert code == 0 and "order placed" in out
    code, out = _run("place-order", account, product, "2", "--client-order-id", "cli-1")
    assert code == 0 and "replayed" in out
    code, out = _run("place-order", account, product, "0")
    assert code == 2 and "4001 INVALID_QUANTITY" in out
    code, out = _run("place-order", account, product, "100000", "--client-order-id", "big")
    assert code == 2 and "INVALID_QUANTITY" in out
    code, out = _run("withdraw", account, "5000")
    assert code == 2 and "4301 INSUFFICIENT_BALANCE" in out
    code, out = _run("reconcile", "--dry-run", "--grace", "3600")
    assert code == 0 and "drift 0" in out  # nothing is older than the grace yet
