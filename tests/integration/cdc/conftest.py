"""Fixtures for the order database and CDC tests: a migrated database, the connector, the
counter service, funded accounts with unique ids, and a bridge worker of the test's own.

Several worker groups may bridge the same change stream at once on a shared machine (the main
demo's, other test sessions'), so readers keep only messages whose ``strikeflow-app`` header
names this module's worker.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from cdc.bridge.orders import PRODUCER_HEADER
from cdc.config import CdcConfig, get_cdc_config
from cdc.connector import register, wait_running
from cdc.counter import CounterService
from cdc.migrate import migrate
from cdc.offsets import commit_end_offsets
from cdc.products import standard_chain
from infra.settings import Settings
from streams.kafka import make_consumer
from streams.worker_process import WorkerProcess

CDC_TOPICS = ("cdc.public.orders", "cdc.public.transfers", "cdc.public.accounts")
_ports = iter(range(16180, 16199))


@pytest.fixture(scope="session")
def cfg() -> CdcConfig:
    return get_cdc_config()


@pytest.fixture(scope="session")
def cdc_stack(stack: Settings, cfg: CdcConfig) -> Settings:
    """Migrated, connector registered and running, standard products listed."""
    migrate(stack)
    register(stack, cfg)
    wait_running(stack, cfg, timeout_s=120)
    return stack


@pytest.fixture(scope="session")
def counter(cdc_stack: Settings, cfg: CdcConfig) -> Iterator[CounterService]:
    with CounterService.connect(cdc_stack, cfg, min_size=2, max_size=24) as svc:
        svc.list_products(standard_chain(datetime.now(UTC),
                                         {"BTC": cfg.spot_btc, "ETH": cfg.spot_eth}))
        yield svc


@pytest.fixture
def funded(counter: CounterService) -> Callable[..., str]:
    """Open a fresh account (unique id) with ``usdt`` deposited; returns its id."""
    def make(usdt: Decimal | int = Decimal(1_000_000), prefix: str = "t") -> str:
        account = f"{prefix}-{uuid.uuid4().hex[:10]}"
        counter.open_account(account)
        if usdt:
            counter.deposit(account, Decimal(usdt), "funding")
        return account
    return make


@pytest.fixture(scope="module")
def bridge(cdc_stack: Settings) -> Iterator[WorkerProcess]:
    """A worker of this module's own group, starting exactly at the end of the cdc topics."""
    app_id = f"test-cdc-{uuid.uuid4().hex[:8]}"
    commit_end_offsets(cdc_stack, app_id, CDC_TOPICS)
    worker = WorkerProcess(cdc_stack, app_id, next(_ports), offset_reset="latest")
    # Tests call reconcile themselves: the periodic one would re-emit other runs' history.
    worker.env["STRIKEFLOW_CDC__RECONCILE_ENABLED"] = "false"
    worker.env["STRIKEFLOW_WORKER__AGENTS"] = '["cdc.bridge"]'  # the bridge only
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


class TopicReader:
    """Reads topics from their end *at creation* onwards: only what the test causes."""

    def __init__(self, settings: Settings, topics: tuple[str, ...]) -> None:
        self.consumer = make_consumer(settings, f"test-cdc-reader-{uuid.uuid4().hex[:8]}")
        parts = []
        for topic in topics:
            meta = self.consumer.list_topics(topic, timeout=10).topics[topic]
            for p in meta.partitions:
                _low, high = self.consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                                 timeout=10)
                parts.append(TopicPartition(topic, p, high))
        self.consumer.assign(parts)
        self.kept: list[Any] = []

    def collect(self, keep: Callable[[Any], bool], until: Callable[[list[Any]], bool],
                timeout_s: float, settle_s: float = 0.0) -> list[Any]:
        """Poll until ``until(kept)`` holds, then ``settle_s`` more (to catch duplicates)."""
        deadline = time.monotonic() + timeout_s
        settled_at: float | None = None
        while True:
            now = time.monotonic()
            if settled_at is None and until(self.kept):
                settled_at = now + settle_s
            if settled_at is not None and now >= settled_at:
                return self.kept
            if now > deadline:
                raise AssertionError(f"timed out after {timeout_s}s: kept {len(self.kept)}")
            msg = self.consumer.poll(0.2)
            if msg is not None and not msg.error() and keep(msg):
                self.kept.append(msg)

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture
def reader(cdc_stack: Settings) -> Iterator[Callable[..., TopicReader]]:
    made: list[TopicReader] = []

    def make(*topics: str) -> TopicReader:
        r = TopicReader(cdc_stack, topics)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


def from_worker(worker: WorkerProcess) -> Callable[[Any], bool]:
    mark = worker.app_id.encode()
    return lambda msg: dict(msg.headers() or []).get(PRODUCER_HEADER) == mark


def value(msg: Any) -> dict[str, Any]:
    return json.loads(msg.value())
