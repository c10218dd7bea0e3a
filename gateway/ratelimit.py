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

# KEYS: the buckets; ARGV: per bucket its rate per second and burst, then the cost. A request
# takes a token from every bucket or from none. Returns {allowed, min tokens*1000, wait ms}.
_SCRIPT = """
local cost = tonumber(ARGV[#ARGV])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tokens, wait, lowest = {}, 0, nil
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local have = tonumber(state[1])
  local at = tonumber(state[2])
  if have == nil then have = burst; at = now end
  have = math.min(burst, have + math.max(0, now - at) * rate / 1000)
  tokens[i] = have
  if have < cost then wait = math.max(wait, math.ceil((cost - have) * 1000 / rate)) end
end
local allowed = 0
if wait == 0 then allowed = 1 end
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local have = tokens[i]
  if allowed == 1 then have = have - cost end
  if lowest == nil or have < lowest then lowest = have end
  redis.call('HSET', key, 'tokens', have, 'at', now)
  redis.call('PEXPIRE', key, math.ceil(burst * 1000 / rate) + 1000)
end
return {allowed, math.floor(lowest * 1000), wait}
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
        return await self.take_all({bucket: limit}, cost)

    async def take_all(self, buckets: dict[str, RateLimit], cost: int = 1) -> Decision:
        """One token from each bucket, or none when any is empty: one round trip to Redis
        for the per-IP and the per-account limit of a request."""
        args: list[float] = []
        for limit in buckets.values():
            args += [limit.per_second, limit.burst]
        allowed, tokens_milli, wait_ms = await self._script(
            keys=[self.prefix + b for b in buckets], args=[*args, cost])
        return Decision(bool(allowed), int(tokens_milli) // 1000,
                        0 if allowed else max(1, math.ceil(int(wait_ms) / 1000)))
