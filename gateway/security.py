"""Who is calling: a bearer JWT, or an API key with an HMAC-signed request; and the rate
limits per IP and per account (429 with ``Retry-After``)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request

from gateway.auth import signing
from gateway.auth.tokens import TokenError
from gateway.context import Gateway, venue_now
from infra.settings import RateLimit

__all__ = ["Caller", "admin", "bearer_caller", "caller", "client_ip", "gateway", "limit_account",
           "limit_ip",
           "rate_limited"]


@dataclass(frozen=True)
class Caller:
    username: str
    account: str
    role: str
    jti: str | None  # the access token's id; None for an API key
    via: str  # "token" or "api_key"


async def gateway(request: Request) -> Gateway:  # async: no thread-pool hop per request
    gw: Gateway = request.app.state.gateway
    return gw


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def rate_limited(gw: Gateway, bucket: str, limit: RateLimit,
                       also: dict[str, RateLimit] | None = None) -> None:
    """429 with Retry-After unless every bucket (``bucket`` and ``also``) has a token."""
    decision = await gw.limiter.take_all({bucket: limit, **(also or {})})
    if not decision.allowed:
        raise HTTPException(429, f"rate limit: {bucket.split(':')[0]}",
                            headers={"Retry-After": str(decision.retry_after_s)})


async def limit_ip(request: Request, gw: Gateway = Depends(gateway)) -> None:
    await rate_limited(gw, f"ip:{client_ip(request)}", gw.settings.gateway.ip_limit)


async def bearer_caller(gw: Gateway, token: str) -> Caller:
    try:
        claims = gw.issuer.verify(token, "access", venue_now())
    except TokenError as exc:
        raise _unauthorized(f"invalid token: {exc}") from None
    if await gw.redis.exists(f"sf:revoked:{claims.jti}"):
        raise _unauthorized("token revoked")
    return Caller(claims.username, claims.account, claims.role, claims.jti, "token")


async def _api_key_caller(request: Request, gw: Gateway, key_id: str) -> Caller:
    g = gw.settings.gateway
    headers = request.headers
    try:
        timestamp = int(headers.get("x-sf-timestamp", ""))
        window = int(headers.get("x-sf-recv-window", str(g.recv_window_ms)))
    except ValueError:
        raise _unauthorized("X-SF-TIMESTAMP and X-SF-RECV-WINDOW are integers (ms)") from None
    signature = headers.get("x-sf-signature", "")
    user = await gw.users.api_key_user(key_id)
    secret = signing.derive_secret(g.api_key_master.get_secret_value(), key_id)
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    try:
        signing.verify(secret, signature, timestamp, key_id, window, request.method, path,
                       await request.body(), int(venue_now().timestamp() * 1000),
                       g.max_recv_window_ms)
    except signing.SignatureError as exc:
        raise _unauthorized(f"signed request refused: {exc}") from None
    if user is None:
        raise _unauthorized("unknown or revoked API key")
    # A signature is good once: a replay inside the window finds it taken.
    if not await gw.redis.set(f"sf:sig:{signature.lower()}", 1, nx=True,
                              px=2 * window + 1000):
        raise _unauthorized("signed request refused: replayed signature")
    return Caller(user.username, user.account, user.role, None, "api_key")


async def caller(request: Request, gw: Gateway = Depends(gateway)) -> Caller:
    """The authenticated caller, rate-limited per account (market makers get more) and per
    IP, in one round trip to Redis."""
    auth = request.headers.get("authorization", "")
    key_id = request.headers.get("x-sf-apikey")
    g = gw.settings.gateway
    try:
        if auth.lower().startswith("bearer "):
            who = await bearer_caller(gw, auth[7:].strip())
        elif key_id:
            who = await _api_key_caller(request, gw, key_id)
        else:
            raise _unauthorized("log in (Authorization: Bearer <token>) or sign with an API "
                                "key")
    except HTTPException:
        # a refused credential still costs the IP a token: guessing is throttled too
        await rate_limited(gw, f"ip:{client_ip(request)}", g.ip_limit)
        raise
    await limit_account(gw, who, also={f"ip:{client_ip(request)}": g.ip_limit})
    return who


async def limit_account(gw: Gateway, who: Caller,
                        also: dict[str, RateLimit] | None = None) -> None:
    """The caller's account bucket (market makers and admins get the larger one)."""
    g = gw.settings.gateway
    limit = g.maker_limit if who.role in ("market_maker", "admin") else g.account_limit
    await rate_limited(gw, f"account:{who.account}", limit, also)


async def admin(who: Caller = Depends(caller)) -> Caller:
    if who.role != "admin":
        raise HTTPException(403, "admins only")
    return who

