"""JWT access and refresh tokens (HS256, PyJWT).

An access token lives ``access_ttl_s`` (minutes) and is checked without a database: its
signature, expiry, issuer, audience and type. It can still be revoked before it expires: its
``jti`` goes on a deny list (Redis) at logout. A refresh token lives longer, is used once
(rotation) and belongs to a family, one per login, recorded in PostgreSQL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt

__all__ = ["Claims", "TokenError", "TokenIssuer"]

ISSUER = "strikeflow-gateway"
ALGORITHM = "HS256"
Kind = Literal["access", "refresh"]


class TokenError(ValueError):
    """The token is malformed, forged, expired or of the wrong kind."""


@dataclass(frozen=True)
class Claims:
    username: str
    account: str
    role: str
    kind: Kind
    jti: str
    family: str | None
    expires_at: datetime


class TokenIssuer:
    def __init__(self, secret: str, access_ttl_s: int, refresh_ttl_s: int) -> None:
        if len(secret) < 32:
            raise ValueError("the JWT secret needs at least 32 characters")
        self._secret = secret
        self.access_ttl = timedelta(seconds=access_ttl_s)
        self.refresh_ttl = timedelta(seconds=refresh_ttl_s)

    def issue(self, username: str, account: str, role: str, kind: Kind, now: datetime,
              family: str | None = None) -> tuple[str, Claims]:
        ttl = self.access_ttl if kind == "access" else self.refresh_ttl
        claims = Claims(username, account, role, kind, str(uuid.uuid4()), family, now + ttl)
        payload: dict[str, Any] = {
            "iss": ISSUER, "aud": kind, "sub": username, "acc": account, "role": role,
            "jti": claims.jti, "iat": int(now.timestamp()),
            "exp": int(claims.expires_at.timestamp())}
        if family:
            payload["fam"] = family
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM), claims

    def verify(self, token: str, kind: Kind, now: datetime | None = None) -> Claims:
        """The claims of a valid token of ``kind``; :class:`TokenError` otherwise. The audience
        is the kind: a refresh token is no access token and the other way round. Expiry is
        judged at ``now`` (the venue's clock; PyJWT's own clock when None)."""
        try:
            payload = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM], audience=kind, issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "jti", "aud", "iss"],
                         "verify_exp": now is None, "verify_iat": now is None},
                leeway=0)
        except jwt.PyJWTError as exc:
            raise TokenError(f"{type(exc).__name__}: {exc}") from None
        expires = datetime.fromtimestamp(payload["exp"], UTC)
        if now is not None and expires <= now:
            raise TokenError("ExpiredSignatureError: Signature has expired")
        try:
            return Claims(payload["sub"], payload["acc"], payload["role"], kind,
                          payload["jti"], payload.get("fam"), expires)
        except KeyError as exc:
            raise TokenError(f"missing claim {exc}") from None
