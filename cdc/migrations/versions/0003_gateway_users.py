"""The trading gateway's users, refresh tokens and API keys, in their own schema.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

* ``gateway.users``: one login per account (``account`` is the id the topics carry), an
  argon2 password hash, a role (trader, market_maker, admin) and an optional TOTP secret;
* ``gateway.refresh_tokens``: every refresh token issued, by its JWT id, in families (one per
  login). A token is used once: refreshing marks it ``used_at`` and issues the next one of the
  family; presenting a used token again revokes the whole family (it was stolen);
* ``gateway.api_keys``: bots' keys. The secret is derived from the gateway's master key and
  the key id (HMAC), so the table holds nothing a reader could sign with.

The schema is apart from the captured tables: Debezium does not see it. The service role may
read and write these rows, never delete them (revocation is a timestamp).
"""

from __future__ import annotations

from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _service() -> str:
    pg = context.config.attributes["postgres"]
    return '"' + pg.service_user.replace('"', '""') + '"'


def upgrade() -> None:
    service = _service()
    op.execute(f"""
CREATE SCHEMA gateway;
CREATE TABLE gateway.users (
    username      text PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9_.-]{{3,32}}$'),
    account       text NOT NULL UNIQUE CHECK (account ~ '^[A-Za-z0-9_.:-]{{1,64}}$'),
    password_hash text NOT NULL,
    role          text NOT NULL DEFAULT 'trader'
                  CHECK (role IN ('trader', 'market_maker', 'admin')),
    totp_secret   text,
    totp_enabled  boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz
);
CREATE TABLE gateway.refresh_tokens (
    jti         uuid PRIMARY KEY,
    family      uuid NOT NULL,
    username    text NOT NULL REFERENCES gateway.users (username),
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family ON gateway.refresh_tokens (family);
CREATE TABLE gateway.api_keys (
    key_id      text PRIMARY KEY,
    username    text NOT NULL REFERENCES gateway.users (username),
    label       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_keys_username ON gateway.api_keys (username);
GRANT USAGE ON SCHEMA gateway TO {service};
GRANT SELECT, INSERT, UPDATE ON gateway.users, gateway.refresh_tokens, gateway.api_keys
    TO {service};
""")


def downgrade() -> None:
    op.execute("DROP SCHEMA gateway CASCADE")
