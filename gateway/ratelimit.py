"""Token buckets in Redis, shared by every gateway process.

No maintained Python library offers a token bucket over Redis (``limits``, behind slowapi,
has fixed and moving windows), so this is the usual one-script form: the bucket's tokens and
last refill time live in one hash, refilled and taken atomically by a Lua script on Redis's
own clock (``TIME``), never a client's. A refused request learns when a token will be there:
that is the 429's ``Retry-After``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis

from infra.settings import RateLimit

__all__ = ["Decision", "RateLimiter"]

# KEYS[1] bucket; ARGV: rate per second, burst, cost. Returns {allowed, tokens*1000, wait ms}.
_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then tokens = burst; at = now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local allowed = 0
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, math.floor(tokens * 1000), wait}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after_s: int  # whole seconds, as Retry-After wants; 0 when allowed


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str = "sf:rl:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._script = redis.register_script(_SCRIPT)

    async def take(self, bucket: str, limit: RateLimit, cost: int = 1) -> Decision:
        allowed, tokens_milli, wait_ms = await self._script(
            keys=[self.prefix + bucket], args=[limit.per_second, limit.burst, cost])
        return Decision(bool(allowed), int(tokens_milli) // 1000,
                        0 if allowed else max(1, math.ceil(int(wait_ms) / 1000)))
