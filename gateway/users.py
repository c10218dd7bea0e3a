"""Users, refresh-token families and API keys in PostgreSQL (schema ``gateway``, migration
0003 of the order database).

Every method is one short transaction on the service role's async pool. The account itself
(its USDT balance) is the counter service's: registration opens it there.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pyotp
from psycopg.errors import UniqueViolation
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from gateway.auth.passwords import hash_password, needs_rehash, verify_password
from gateway.auth.signing import new_key_id
from infra.settings import Settings

__all__ = ["ApiKey", "AuthError", "Role", "User", "UserStore"]

Role = Literal["trader", "market_maker", "admin"]
ROLES: tuple[Role, ...] = ("trader", "market_maker", "admin")
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")


class AuthError(Exception):
    """Refused: wrong credentials, a reused or revoked token, a taken name."""


@dataclass(frozen=True)
class User:
    username: str
    account: str
    role: Role
    totp_enabled: bool


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    label: str
    created_at: datetime
    revoked: bool


def _user(row: dict[str, Any]) -> User:
    return User(row["username"], row["account"], row["role"], row["totp_enabled"])


class UserStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    @classmethod
    async def open(cls, settings: Settings, min_size: int = 1, max_size: int = 8) -> UserStore:
        pg = settings.postgres
        pool = AsyncConnectionPool(pg.dsn(pg.service_user, pg.service_password),
                                   min_size=min_size, max_size=max_size, open=False,
                                   kwargs={"row_factory": dict_row, "autocommit": False})
        await pool.open(wait=True, timeout=30)
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    # -- users ------------------------------------------------------------------------------
    async def register(self, username: str, password: str, role: Role = "trader",
                       account: str | None = None) -> User:
        if not USERNAME.match(username):
            raise ValueError("a username has 3 to 32 letters, digits, '_', '.' or '-'")
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        account = account or username
        hashed = hash_password(password)
        try:
            async with self.pool.connection() as conn:
                await conn.execute(
                    "INSERT INTO gateway.users (username, account, password_hash, role) "
                    "VALUES (%s, %s, %s, %s)", (username, account, hashed, role))
        except UniqueViolation:
            raise AuthError("that username or account is taken") from None
        return User(username, account, role, False)

    async def get(self, username: str) -> User | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT * FROM gateway.users WHERE username = %s AND disabled_at IS NULL",
                (username,))
            row = await cur.fetchone()
        return _user(row) if row else None

    async def authenticate(self, username: str, password: str, totp: str | None) -> User:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT * FROM gateway.users WHERE username = %s AND disabled_at IS NULL",
                (username,))
            row = await cur.fetchone()
            if not verify_password(row["password_hash"] if row else None, password):
                raise AuthError("wrong username or password")
            assert row is not None
            if row["totp_enabled"] and not (
                    totp and pyotp.TOTP(row["totp_secret"]).verify(totp, valid_window=1)):
                raise AuthError("a valid one-time code (totp) is needed")
            if needs_rehash(row["password_hash"]):
                await conn.execute("UPDATE gateway.users SET password_hash = %s "
                                   "WHERE username = %s", (hash_password(password), username))
        return _user(row)

    async def set_role(self, username: str, role: Role) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        async with self.pool.connection() as conn:
            cur = await conn.execute("UPDATE gateway.users SET role = %s WHERE username = %s",
                                     (role, username))
            if cur.rowcount != 1:
                raise AuthError(f"no user {username!r}")

    async def list_users(self) -> list[User]:
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT * FROM gateway.users ORDER BY username")
            return [_user(row) for row in await cur.fetchall()]

    # -- TOTP -------------------------------------------------------------------------------
    async def totp_setup(self, username: str) -> str:
        """A new secret, not yet required at login: :meth:`totp_enable` with a code does."""
        secret = pyotp.random_base32()
        async with self.pool.connection() as conn:
            await conn.execute("UPDATE gateway.users SET totp_secret = %s, totp_enabled = false "
                               "WHERE username = %s", (secret, username))
        return secret

    async def totp_enable(self, username: str, code: str) -> None:
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT totp_secret FROM gateway.users WHERE username = %s",
                                     (username,))
            row = await cur.fetchone()
            if not row or not row["totp_secret"] or not pyotp.TOTP(row["totp_secret"]).verify(
                    code, valid_window=1):
                raise AuthError("wrong one-time code")
            await conn.execute("UPDATE gateway.users SET totp_enabled = true "
                               "WHERE username = %s", (username,))

    # -- refresh tokens ---------------------------------------------------------------------
    async def record_refresh(self, jti: str, family: str, username: str,
                             expires_at: datetime) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO gateway.refresh_tokens (jti, family, username, expires_at) "
                "VALUES (%s, %s, %s, %s)", (jti, family, username, expires_at))

    async def use_refresh(self, jti: str, username: str) -> str:
        """Mark the refresh token used and return its family. A token already used, revoked
        or unknown revokes its family: whoever holds the newer token must log in again."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE gateway.refresh_tokens SET used_at = now() WHERE jti = %s "
                "AND username = %s AND used_at IS NULL AND revoked_at IS NULL "
                "AND expires_at > now() RETURNING family", (uuid.UUID(jti), username))
            row = await cur.fetchone()
            if row:
                return str(row["family"])
            await conn.execute(
                "UPDATE gateway.refresh_tokens SET revoked_at = now() WHERE family = "
                "(SELECT family FROM gateway.refresh_tokens WHERE jti = %s) "
                "AND revoked_at IS NULL", (uuid.UUID(jti),))
        raise AuthError("refresh token already used, revoked or expired")

    async def revoke_family(self, family: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("UPDATE gateway.refresh_tokens SET revoked_at = now() "
                               "WHERE family = %s AND revoked_at IS NULL", (uuid.UUID(family),))

    # -- API keys ---------------------------------------------------------------------------
    async def create_api_key(self, username: str, label: str) -> str:
        key_id = new_key_id()
        async with self.pool.connection() as conn:
            await conn.execute("INSERT INTO gateway.api_keys (key_id, username, label) "
                               "VALUES (%s, %s, %s)", (key_id, username, label[:64]))
        return key_id

    async def api_key_user(self, key_id: str) -> User | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT u.* FROM gateway.api_keys k JOIN gateway.users u USING (username) "
                "WHERE k.key_id = %s AND k.revoked_at IS NULL AND u.disabled_at IS NULL",
                (key_id,))
            row = await cur.fetchone()
        return _user(row) if row else None

    async def list_api_keys(self, username: str) -> list[ApiKey]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT * FROM gateway.api_keys WHERE username = %s ORDER BY created_at",
                (username,))
            return [ApiKey(r["key_id"], r["label"], r["created_at"], r["revoked_at"] is not None)
                    for r in await cur.fetchall()]

    async def revoke_api_key(self, username: str, key_id: str) -> bool:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE gateway.api_keys SET revoked_at = now() WHERE key_id = %s "
                "AND username = %s AND revoked_at IS NULL", (key_id, username))
            return cur.rowcount == 1
