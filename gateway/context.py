"""Everything a gateway process holds, opened and closed with the application."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from redis.asyncio import BlockingConnectionPool, Redis

from cdc.config import get_cdc_config
from cdc.counter import CounterService
from gateway.auth.tokens import TokenIssuer
from gateway.bridge import KafkaBridge
from gateway.feed import Hub
from gateway.ratelimit import RateLimiter
from gateway.users import UserStore
from gateway.views import LiveViews
from infra.settings import Settings

__all__ = ["Gateway", "venue_now"]

log = structlog.get_logger(__name__)


def venue_now() -> datetime:
    """The venue's clock: this host's, never a field a client fills."""
    return datetime.now(UTC)


@dataclass
class Gateway:
    settings: Settings
    hub: Hub = field(default_factory=Hub)
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        g = self.settings.gateway
        self.views = LiveViews(self.hub)
        self.issuer = TokenIssuer(g.jwt_secret.get_secret_value(), g.access_ttl_s,
                                  g.refresh_ttl_s)
        # A blocking pool: under a burst requests wait for a connection (bounded) instead of
        # failing with MaxConnectionsError as redis-py's default pool does past 100.
        self.redis: Redis = Redis(connection_pool=BlockingConnectionPool.from_url(
            self.settings.redis.url, max_connections=64, timeout=5, socket_timeout=5,
            decode_responses=True))
        self.limiter = RateLimiter(self.redis)
        self.bridge = KafkaBridge(self.settings, self._apply)
        self.users: UserStore
        self.counter: CounterService

    async def start(self) -> None:
        self.users = await UserStore.open(self.settings)
        self.counter = await asyncio.to_thread(
            CounterService.connect, self.settings, get_cdc_config(), min_size=1, max_size=4)
        self.bridge.start()
        log.info("gateway started", url=self.settings.gateway.url)

    async def stop(self) -> None:
        await asyncio.to_thread(self.bridge.stop)
        await self.users.close()
        await asyncio.to_thread(self.counter.close)
        await self.redis.aclose()

    def _apply(self, records: list[tuple[str, Any]]) -> None:
        for topic, rec in records:
            try:
                self.views.apply(topic, rec)
            except Exception as exc:  # a record of another shape must not stop the others
                log.warning("record not applied", topic=topic, error=repr(exc))
