"""What an attacker tries against the gateway, refused: forged, expired, revoked and
other-account tokens, replayed and stale signatures, brute force, oversized and malformed
bodies, bursts over the rate limit, and acting for another account."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import jwt
import pyotp
import pytest

from gateway.auth import signing
from gateway.auth.tokens import TokenIssuer
from infra.settings import RateLimit

from .conftest import ACCOUNT_LIMIT, PASSWORD, Trader, Venue, tag

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.redis]


def _order(venue: Venue, **extra: Any) -> dict[str, Any]:
    return {"symbol": venue.symbol, "side": "buy", "type": "limit", "qty": "1", "price": "5",
            **extra}


def test_requests_without_valid_tokens_are_refused(venue: Venue,
                                                   trader: Callable[..., Trader]) -> None:
    who = trader()
    anon = httpx.Client(base_url=venue.url, timeout=10)
    assert anon.get("/api/v1/me").status_code == 401
    assert anon.post("/api/v1/orders", json=_order(venue)).status_code == 401
    secret = venue.settings.gateway.jwt_secret.get_secret_value()
    # expired: signed with the real secret, but its time is over
    expired, _ = TokenIssuer(secret, 300, 3600).issue(
        who.username, who.account, "trader", "access", datetime.now(UTC) - timedelta(hours=1))
    # forged: claims another account, signed with a guessed secret
    forged, _ = TokenIssuer("guessed-" + "x" * 40, 300, 3600).issue(
        who.username, "someone-else", "admin", "access", datetime.now(UTC))
    claims = jwt.decode(who.tokens["access_token"], options={"verify_signature": False})
    unsigned = jwt.encode(claims | {"acc": "someone-else"}, None, algorithm="none")
    for token in (expired, forged, unsigned, who.tokens["refresh_token"], "garbage"):
        r = anon.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, (token, r.text)
    assert who.http.get("/api/v1/me").json()["account"] == who.account


def test_an_order_always_carries_the_authenticated_account(
        venue: Venue, trader: Callable[..., Trader]) -> None:
    alice, bob = trader(), trader()
    # a field naming another account is not part of the order: refused, not obeyed
    r = alice.http.post("/api/v1/orders", json=_order(venue, account=bob.account))
    assert r.status_code == 422
    cid = f"c-{uuid.uuid4().hex[:10]}"
    assert bob.http.post("/api/v1/orders", json=_order(venue, client_order_id=cid)).json()[
        "status"] == "accepted"
    # alice cannot see nor cancel bob's order: the cancel is hers, for an order she lacks
    assert alice.http.get(f"/api/v1/orders/{cid}").status_code in (404, 503)
    cancel = alice.http.delete(f"/api/v1/orders/{cid}", params={"symbol": venue.symbol})
    assert cancel.status_code == 422 and cancel.json()["status"] == "command_rejected"
    assert bob.http.get(f"/api/v1/orders/{cid}").json()["status"] == "accepted"


def test_logout_revokes_the_access_token_and_the_refresh_family(
        venue: Venue, trader: Callable[..., Trader]) -> None:
    who = trader()
    refreshed = httpx.post(f"{venue.url}/api/v1/auth/refresh",
                           json={"refresh_token": who.tokens["refresh_token"]})
    assert refreshed.status_code == 200
    new = refreshed.json()
    # the spent refresh token again: refused, and its family (the new one too) revoked
    again = httpx.post(f"{venue.url}/api/v1/auth/refresh",
                       json={"refresh_token": who.tokens["refresh_token"]})
    assert again.status_code == 401
    stolen = httpx.post(f"{venue.url}/api/v1/auth/refresh",
                        json={"refresh_token": new["refresh_token"]})
    assert stolen.status_code == 401
    headers = {"Authorization": f"Bearer {new['access_token']}"}
    assert httpx.get(f"{venue.url}/api/v1/me", headers=headers).status_code == 200
    assert httpx.post(f"{venue.url}/api/v1/auth/logout", headers=headers,
                      json={}).status_code == 204
    assert httpx.get(f"{venue.url}/api/v1/me", headers=headers).status_code == 401


def _signed(venue: Venue, key: str, secret: str, method: str, path: str, body: bytes = b"",
            ts_ms: int | None = None, window: int = 5000) -> httpx.Response:
    ts = ts_ms if ts_ms is not None else int(time.time() * 1000)
    sig = signing.sign(secret, ts, key, window, method, path, body)
    return httpx.request(method, venue.url + path, content=body, headers={
        "X-SF-APIKEY": key, "X-SF-TIMESTAMP": str(ts), "X-SF-RECV-WINDOW": str(window),
        "X-SF-SIGNATURE": sig, "Content-Type": "application/json"})


def test_api_keys_sign_requests_once_and_only_fresh(venue: Venue,
                                                    trader: Callable[..., Trader]) -> None:
    who = trader()
    made = who.http.post("/api/v1/auth/api-keys", json={"label": "bot"})
    assert made.status_code == 201
    key, secret = made.json()["key"], made.json()["secret"]
    ok = _signed(venue, key, secret, "GET", "/api/v1/me")
    assert ok.status_code == 200 and ok.json()["via"] == "api_key", ok.text
    body = json.dumps(_order(venue)).encode()
    placed = _signed(venue, key, secret, "POST", "/api/v1/orders", body)
    assert placed.status_code == 200 and placed.json()["status"] == "accepted", placed.text
    # the very same signed request again: a replay
    ts = int(time.time() * 1000)
    first = _signed(venue, key, secret, "GET", "/api/v1/me?x=1", ts_ms=ts)
    replay = _signed(venue, key, secret, "GET", "/api/v1/me?x=1", ts_ms=ts)
    assert first.status_code == 200 and replay.status_code == 401
    assert "replayed" in replay.json()["detail"]
    stale = _signed(venue, key, secret, "GET", "/api/v1/me", ts_ms=ts - 60_000)
    assert stale.status_code == 401 and "window" in stale.json()["detail"]
    wrong = _signed(venue, key, "0" * 64, "GET", "/api/v1/me")
    assert wrong.status_code == 401
    assert who.http.delete(f"/api/v1/auth/api-keys/{key}").status_code == 204
    assert _signed(venue, key, secret, "GET", "/api/v1/me").status_code == 401


def test_totp_once_enabled_is_required_at_login(venue: Venue,
                                                trader: Callable[..., Trader]) -> None:
    who = trader(funds=Decimal(0))
    secret = who.http.post("/api/v1/auth/totp/setup").json()["secret"]
    assert who.http.post("/api/v1/auth/totp/enable",
                         json={"code": "000000" if pyotp.TOTP(secret).now() != "000000"
                               else "111111"}).status_code == 400
    assert who.http.post("/api/v1/auth/totp/enable",
                         json={"code": pyotp.TOTP(secret).now()}).status_code == 204
    login = {"username": who.username, "password": PASSWORD}
    assert httpx.post(f"{venue.url}/api/v1/auth/login", json=login).status_code == 401
    ok = httpx.post(f"{venue.url}/api/v1/auth/login",
                    json=login | {"totp": pyotp.TOTP(secret).now()})
    assert ok.status_code == 200


def test_login_brute_force_is_throttled(venue: Venue, trader: Callable[..., Trader]) -> None:
    who = trader(funds=Decimal(0))
    codes = [httpx.post(f"{venue.url}/api/v1/auth/login",
                        json={"username": who.username, "password": f"guess-{n:06d}"}
                        ).status_code for n in range(8)]
    burst = venue.settings.gateway.login_user_limit.burst
    wrong = codes.count(401)  # the fixture's own login took one attempt of the burst
    assert wrong == burst - 1 and codes == [401] * wrong + [429] * (8 - wrong), codes
    throttled = httpx.post(f"{venue.url}/api/v1/auth/login",
                           json={"username": who.username, "password": PASSWORD})
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(("body", "status"), [
    (b"{not json", 422),
    (json.dumps({"symbol": "X", "side": "up", "qty": "1"}).encode(), 422),
    (json.dumps({"symbol": "BTC-USDT", "side": "buy", "qty": "-1", "price": "1"}).encode(), 422),
    (json.dumps({"symbol": "BTC-USDT", "side": "buy", "qty": "NaN", "price": "1"}).encode(), 422),
    (json.dumps({"symbol": "BTC-USDT", "side": "buy", "type": "limit", "qty": "1"}).encode(),
     422),  # a limit order without a price: the contract's own rule
    (json.dumps([1, 2, 3]).encode(), 422),
    (b"x" * 70_000, 413),
])
def test_malformed_and_oversized_bodies_are_refused_with_4xx(
        venue: Venue, trader: Callable[..., Trader], body: bytes, status: int) -> None:
    who = trader(funds=Decimal(0))
    r = who.http.post("/api/v1/orders", content=body,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert "detail" in r.json()


def test_the_rate_limit_holds_under_a_burst(venue: Venue, trader: Callable[..., Trader]) -> None:
    """The per-account bucket (here burst 100, 50/s) is shared by every request of the account:
    a burst of concurrent requests well over it gets 429s with Retry-After, the number let
    through stays within what the bucket allows, and the account recovers."""
    import asyncio

    who = trader(funds=Decimal(0))
    limit = RateLimit(**ACCOUNT_LIMIT)
    n = 4 * limit.burst

    async def burst() -> tuple[list[int], float]:
        async with httpx.AsyncClient(base_url=venue.url, headers=dict(who.http.headers),
                                     limits=httpx.Limits(max_connections=50),
                                     timeout=60) as client:
            t0 = time.monotonic()
            answers = await asyncio.gather(*(client.get("/api/v1/positions") for _ in range(n)))
            return [a.status_code for a in answers], time.monotonic() - t0
    statuses, took = asyncio.run(burst())
    allowed = statuses.count(200)
    assert set(statuses) <= {200, 429}
    assert statuses.count(429) > 0
    assert allowed <= limit.burst + limit.per_second * took + 1, (allowed, took)
    time.sleep(1.0)
    assert who.http.get("/api/v1/positions").status_code == 200


def test_registration_refuses_taken_names_and_weak_passwords(venue: Venue) -> None:
    name = f"r-{tag(8).lower()}"
    reg = f"{venue.url}/api/v1/auth/register"
    assert httpx.post(reg, json={"username": name, "password": PASSWORD}).status_code == 201
    assert httpx.post(reg, json={"username": name, "password": PASSWORD}).status_code == 409
    assert httpx.post(reg, json={"username": f"{name}2", "password": "short"}).status_code == 422
    assert httpx.post(reg, json={"username": "a b", "password": PASSWORD}).status_code == 422
    assert httpx.post(reg, json={"username": f"{name}3", "password": PASSWORD,
                                 "role": "admin"}).status_code == 422  # no self-made admins
