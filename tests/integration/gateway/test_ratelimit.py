"""Token buckets in the real Redis: burst, refill, Retry-After, shared between processes."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from redis.asyncio import Redis

from gateway.ratelimit import RateLimiter
from infra.settings import RateLimit, Settings

pytestmark = pytest.mark.redis


def test_a_bucket_allows_its_burst_then_refuses_until_it_refills(stack: Settings) -> None:
    async def run() -> None:
        redis = Redis.from_url(stack.redis.url)
        limiter = RateLimiter(redis, prefix=f"test:{uuid.uuid4().hex}:")
        limit = RateLimit(per_second=10, burst=5)
        got = [await limiter.take("acct", limit) for _ in range(7)]
        assert [d.allowed for d in got] == [True] * 5 + [False] * 2
        assert got[-1].retry_after_s == 1 and got[4].remaining == 0
        await asyncio.sleep(0.25)  # 2.5 tokens back
        again = [await limiter.take("acct", limit) for _ in range(3)]
        assert [d.allowed for d in again] == [True, True, False]
        await redis.aclose()

    asyncio.run(run())


def test_two_gateways_share_one_bucket(stack: Settings) -> None:
    async def run() -> None:
        prefix = f"test:{uuid.uuid4().hex}:"
        a, b = Redis.from_url(stack.redis.url), Redis.from_url(stack.redis.url)
        one, two = RateLimiter(a, prefix), RateLimiter(b, prefix)
        limit = RateLimit(per_second=0.5, burst=10)
        t0 = time.monotonic()
        decisions = await asyncio.gather(*[(one if n % 2 else two).take("acct", limit)
                                           for n in range(40)])
        assert sum(d.allowed for d in decisions) == 10 + int((time.monotonic() - t0) * 0.5)
        refused = [d for d in decisions if not d.allowed]
        assert all(d.retry_after_s >= 1 for d in refused)
        await a.aclose()
        await b.aclose()

    asyncio.run(run())
