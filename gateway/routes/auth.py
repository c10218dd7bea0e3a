"""Registration, login, token refresh and logout, TOTP, API keys, users (admin)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from gateway.auth import signing
from gateway.auth.tokens import TokenError
from gateway.context import Gateway, venue_now
from gateway.routes import StrictBody
from gateway.security import Caller, admin, caller, client_ip, gateway, limit_ip, rate_limited
from gateway.users import AuthError, Role

__all__ = ["router"]

router = APIRouter(tags=["auth"])




Username = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{3,32}$")]


class Register(StrictBody):
    username: Username
    password: str = Field(min_length=10, max_length=256)


class Login(StrictBody):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    totp: str | None = Field(default=None, pattern=r"^[0-9]{6}$")


class Refresh(StrictBody):
    refresh_token: str = Field(max_length=2048)


class Logout(StrictBody):
    refresh_token: str | None = Field(default=None, max_length=2048)


class TotpCode(StrictBody):
    code: str = Field(pattern=r"^[0-9]{6}$")


class NewApiKey(StrictBody):
    label: str = Field(default="", max_length=64)


class SetRole(StrictBody):
    role: Role


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    username: str
    account: str
    role: str


async def _issue(gw: Gateway, username: str, account: str, role: str,
                 family: str | None = None) -> Tokens:
    now = venue_now()
    family = family or str(uuid.uuid4())
    access, claims = gw.issuer.issue(username, account, role, "access", now)
    refresh, rclaims = gw.issuer.issue(username, account, role, "refresh", now, family)
    await gw.users.record_refresh(rclaims.jti, family, username, rclaims.expires_at)
    return Tokens(access_token=access, refresh_token=refresh,
                  expires_in=int((claims.expires_at - now).total_seconds()),
                  username=username, account=account, role=role)


@router.post("/auth/register", status_code=201, dependencies=[Depends(limit_ip)])
async def register(body: Register, request: Request,
                   gw: Gateway = Depends(gateway)) -> dict[str, Any]:
    """A trader's login and account (the account id is the username)."""
    await rate_limited(gw, f"register:{client_ip(request)}", gw.settings.gateway.login_ip_limit)
    try:
        user = await gw.users.register(body.username, body.password)
    except AuthError as exc:
        raise HTTPException(409, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    await asyncio.to_thread(gw.counter.open_account, user.account)
    return {"username": user.username, "account": user.account, "role": user.role}


@router.post("/auth/login", dependencies=[Depends(limit_ip)])
async def login(body: Login, request: Request, gw: Gateway = Depends(gateway)) -> Tokens:
    """Password (and a TOTP code once enabled) for an access and a refresh token. Attempts
    are limited per username and per IP: a brute force gets 429s."""
    g = gw.settings.gateway
    await rate_limited(gw, f"login-ip:{client_ip(request)}", g.login_ip_limit)
    await rate_limited(gw, f"login-user:{body.username.lower()}", g.login_user_limit)
    try:
        user = await gw.users.authenticate(body.username, body.password, body.totp)
    except AuthError as exc:
        raise HTTPException(401, str(exc)) from None
    return await _issue(gw, user.username, user.account, user.role)


@router.post("/auth/refresh", dependencies=[Depends(limit_ip)])
async def refresh(body: Refresh, gw: Gateway = Depends(gateway)) -> Tokens:
    """A new pair for a refresh token, which is then spent. Spending one twice revokes its
    family: a stolen token is useless once either party has used it."""
    try:
        claims = gw.issuer.verify(body.refresh_token, "refresh", venue_now())
    except TokenError as exc:
        raise HTTPException(401, f"invalid refresh token: {exc}") from None
    try:
        family = await gw.users.use_refresh(claims.jti, claims.username)
    except AuthError as exc:
        raise HTTPException(401, str(exc)) from None
    user = await gw.users.get(claims.username)
    if user is None:
        raise HTTPException(401, "user disabled")
    return await _issue(gw, user.username, user.account, user.role, family)


@router.post("/auth/logout", status_code=204)
async def logout(body: Logout | None = None, who: Caller = Depends(caller),
                 gw: Gateway = Depends(gateway)) -> Response:
    """Revokes the access token now (deny list until it expires) and, given the refresh
    token, its whole family."""
    if who.jti:
        await gw.redis.set(f"sf:revoked:{who.jti}", 1, ex=gw.settings.gateway.access_ttl_s + 5)
    if body and body.refresh_token:
        try:
            claims = gw.issuer.verify(body.refresh_token, "refresh")
        except TokenError:
            claims = None
        if claims and claims.family and claims.username == who.username:
            await gw.users.revoke_family(claims.family)
    return Response(status_code=204)


@router.get("/me")
async def me(who: Caller = Depends(caller), gw: Gateway = Depends(gateway)) -> dict[str, Any]:
    user = await gw.users.get(who.username)
    return {"username": who.username, "account": who.account, "role": who.role,
            "totp_enabled": bool(user and user.totp_enabled), "via": who.via}


@router.post("/auth/totp/setup")
async def totp_setup(who: Caller = Depends(caller),
                     gw: Gateway = Depends(gateway)) -> dict[str, str]:
    """A new TOTP secret (and its otpauth:// URI for an authenticator app); login asks for
    codes once ``/auth/totp/enable`` confirmed one."""
    import pyotp

    secret = await gw.users.totp_setup(who.username)
    uri = pyotp.TOTP(secret).provisioning_uri(name=who.username, issuer_name="StrikeFlow")
    return {"secret": secret, "uri": uri}


@router.post("/auth/totp/enable", status_code=204)
async def totp_enable(body: TotpCode, who: Caller = Depends(caller),
                      gw: Gateway = Depends(gateway)) -> Response:
    try:
        await gw.users.totp_enable(who.username, body.code)
    except AuthError as exc:
        raise HTTPException(400, str(exc)) from None
    return Response(status_code=204)


@router.post("/auth/api-keys", status_code=201)
async def create_api_key(body: NewApiKey, who: Caller = Depends(caller),
                         gw: Gateway = Depends(gateway)) -> dict[str, str]:
    """A key for a bot; the secret is shown once (it is derived, never stored)."""
    if who.via != "token":
        raise HTTPException(403, "API keys are made from a logged-in session")
    key_id = await gw.users.create_api_key(who.username, body.label)
    secret = signing.derive_secret(gw.settings.gateway.api_key_master.get_secret_value(), key_id)
    return {"key": key_id, "secret": secret, "label": body.label}


@router.get("/auth/api-keys")
async def list_api_keys(who: Caller = Depends(caller),
                        gw: Gateway = Depends(gateway)) -> list[dict[str, Any]]:
    return [{"key": k.key_id, "label": k.label, "created_at": k.created_at.isoformat(),
             "revoked": k.revoked} for k in await gw.users.list_api_keys(who.username)]


@router.delete("/auth/api-keys/{key_id}", status_code=204)
async def revoke_api_key(key_id: str, who: Caller = Depends(caller),
                         gw: Gateway = Depends(gateway)) -> Response:
    if not await gw.users.revoke_api_key(who.username, key_id):
        raise HTTPException(404, "no such active key of yours")
    return Response(status_code=204)


@router.get("/admin/users", dependencies=[Depends(admin)])
async def list_users(gw: Gateway = Depends(gateway)) -> list[dict[str, Any]]:
    return [{"username": u.username, "account": u.account, "role": u.role,
             "totp_enabled": u.totp_enabled} for u in await gw.users.list_users()]


@router.put("/admin/users/{username}/role", status_code=204, dependencies=[Depends(admin)])
async def set_role(username: str, body: SetRole, gw: Gateway = Depends(gateway)) -> Response:
    try:
        await gw.users.set_role(username, body.role)
    except AuthError as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(status_code=204)


