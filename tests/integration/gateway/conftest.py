"""Fixtures for the gateway tests: the real stack, the order database migrated, a worker of
the test's own running risk, matching and the ledger on a fresh instrument, and a gateway
process on its own port in front of them.

The instrument's base (``GW<tag>``) is new each session, so its book is empty; accounts are
new per test and funded the way the CDC bridge funds them (``FundsTransferred`` on
``accounts.activity``).
"""

from __future__ import annotations

import json
import random
import socket
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from confluent_kafka import TopicPartition

from cdc.migrate import migrate
from cdc.offsets import commit_end_offsets
from gateway.server import GatewayProcess
from infra.settings import Settings
from streams.kafka import TOOL_QUIET, make_consumer, make_producer
from streams.worker_process import WorkerProcess
from tests.conftest import wait_for
from topics.catalogue import by_name
from topics.contracts import FundsTransferred

PASSWORD = "correct horse battery"
ACCOUNT_LIMIT = {"per_second": 50, "burst": 100}


def free_port() -> int:
    """A loopback port nobody listens on now: sessions running side by side (a developer's
    and CI's, or two test files at once) each get their own worker and gateway."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tag(n: int = 6) -> str:
    rng = random.Random(uuid.uuid4().int)
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(n))


@dataclass(frozen=True)
class Venue:
    settings: Settings
    symbol: str
    url: str
    gateway: GatewayProcess
    group: str  # the worker's consumer group (its app id)


@pytest.fixture(scope="package")
def venue(stack: Settings) -> Iterator[Venue]:
    """Per package, not per session: the worker must be gone before other packages' tests,
    whose orders it would otherwise answer from another listing."""
    migrate(stack)
    base = "GW" + tag(4)
    env = {"STRIKEFLOW_WORKER__AGENTS": '["streams.risk", "streams.matching", "streams.ledger"]',
           "STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES": json.dumps([base])}
    app_id = f"test-gw-{uuid.uuid4().hex[:8]}"
    commit_end_offsets(stack, app_id, ("orders.requests", "accounts.activity",
                                       "orders.commands", "orders.events"))
    worker = WorkerProcess(stack, app_id, free_port(), env=env)
    worker.start()
    # One loopback address for every test: a generous per-IP budget (the per-user login
    # limit stays as deployed), and a per-account bucket small enough that a burst from one
    # test client overflows it.
    gw = GatewayProcess(stack, free_port(), env={
        "STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES": json.dumps([base]),
        "STRIKEFLOW_GATEWAY__LOGIN_IP_LIMIT": '{"per_second": 50, "burst": 500}',
        "STRIKEFLOW_GATEWAY__IP_LIMIT": '{"per_second": 5000, "burst": 5000}',
        "STRIKEFLOW_GATEWAY__ACCOUNT_LIMIT": json.dumps(ACCOUNT_LIMIT)})
    try:
        gw.start()
        yield Venue(stack, f"{base}-USDT", gw.url, gw, app_id)
    finally:
        gw.stop()
        worker.stop()


def fund(venue: Venue, account: str, amount: Decimal) -> None:
    """What the CDC bridge publishes for a deposit, straight to ``accounts.activity``; returns
    once risk has taken it (its group committed past it): an order sent on the other topic
    could otherwise overtake it."""
    spec = by_name("accounts.activity")
    producer = make_producer(venue.settings)
    ref = uuid.uuid4().hex
    where: list[Any] = []
    producer.produce(spec.name, key=account.encode(), value=spec.encode(FundsTransferred(
        event_id=f"transfer:{ref}", ts_event=datetime.now(UTC), account=account,
        transfer_id=ref, amount=amount, reference=f"test-{ref[:8]}")),
        on_delivery=lambda err, msg: where.append(msg))
    producer.flush(10)
    msg = where[0]
    consumer = make_consumer(venue.settings, venue.group, **TOOL_QUIET)
    tp = TopicPartition(spec.name, msg.partition())
    try:
        wait_for(lambda: consumer.committed([tp], timeout=10)[0].offset > msg.offset(), 30,
                 "risk took the funding")
    finally:
        consumer.close()


@dataclass
class Trader:
    username: str
    http: httpx.Client
    tokens: dict[str, Any]

    @property
    def account(self) -> str:
        return str(self.tokens["account"])


@pytest.fixture
def trader(venue: Venue) -> Iterator[Callable[..., Trader]]:
    """Registers, funds (unless ``funds=0``) and logs in a new trader."""
    made: list[httpx.Client] = []

    def make(funds: Decimal = Decimal(1_000_000)) -> Trader:
        name = f"t-{tag(8).lower()}"
        http = httpx.Client(base_url=venue.url, timeout=30)
        made.append(http)
        assert http.post("/api/v1/auth/register",
                         json={"username": name, "password": PASSWORD}).status_code == 201
        tokens = http.post("/api/v1/auth/login",
                           json={"username": name, "password": PASSWORD}).json()
        http.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        if funds:
            fund(venue, name, funds)
        return Trader(name, http, tokens)

    yield make
    for http in made:
        http.close()
