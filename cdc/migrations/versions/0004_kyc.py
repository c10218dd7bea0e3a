"""KYC per account, and the outside wallet of a transfer.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

* ``account_kyc``: one row per account that went through KYC — status (the values of
  ``streams.compliance.kyc.KycStatus``) and tier 0..3. The counter service reads it in the
  transaction that moves money or sells an option (``FOR SHARE``: a change of status waits
  for the payments deciding on the old one, and the other way round). Its primary key is
  named ``id`` as in every captured table (Debezium's key is ``{"id": …}``); it is in the
  publication, so a change reaches pre-trade risk as ``KycChanged`` on accounts.activity.
  ``updated_at`` moves on every change (trigger): it orders the changes downstream.
* ``transfers.address``: the wallet a deposit came from or a withdrawal went to, when
  known — what AML screening compares with the sanctioned addresses.
* ``transfers_account_kind``: the sums the gates need (deposited in total, withdrawn today)
  read one account's transfers, not the table.
"""

from __future__ import annotations

from alembic import context, op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def upgrade() -> None:
    pg = context.config.attributes["postgres"]
    service, debezium = _ident(pg.service_user), _ident(pg.debezium_user)
    op.execute(f"""
CREATE TABLE account_kyc (
    id          text PRIMARY KEY REFERENCES accounts (id),
    status      text NOT NULL DEFAULT 'none'
                CHECK (status IN ('none', 'pending', 'verified', 'rejected', 'suspended')),
    tier        smallint NOT NULL DEFAULT 0 CHECK (tier BETWEEN 0 AND 3),
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION account_kyc_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := greatest(clock_timestamp(), OLD.updated_at + interval '1 microsecond');
    RETURN NEW;
END
$$;
CREATE TRIGGER account_kyc_touch BEFORE UPDATE ON account_kyc
    FOR EACH ROW EXECUTE FUNCTION account_kyc_touch();
ALTER TABLE transfers ADD COLUMN address text
    CHECK (address IS NULL OR length(address) BETWEEN 1 AND 128);
CREATE INDEX transfers_account_kind ON transfers (account_id, kind, created_at);
ALTER PUBLICATION strikeflow_cdc ADD TABLE account_kyc;
GRANT SELECT, INSERT, UPDATE ON account_kyc TO {service};
GRANT SELECT ON account_kyc TO {debezium};
""")


def downgrade() -> None:
    op.execute("""
ALTER PUBLICATION strikeflow_cdc DROP TABLE account_kyc;
DROP INDEX IF EXISTS transfers_account_kind;
ALTER TABLE transfers DROP COLUMN IF EXISTS address;
DROP TABLE IF EXISTS account_kyc;
DROP FUNCTION IF EXISTS account_kyc_touch();
""")
