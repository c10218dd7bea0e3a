"""Least-privilege roles: the counter service and Debezium.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

* the **service** role may read and write the rows the counter needs and nothing more: no DDL,
  no DELETE (orders and transfers are history), no UPDATE of transfers, no replication;
* the **Debezium** role may open a replication connection and SELECT the captured tables
  (for the initial snapshot) — it cannot write anything.

Role names and passwords come from :class:`~infra.settings.PostgresSettings` (handed over by
:func:`cdc.migrate.migrate`). Roles are cluster-wide, so they are created only if missing,
and the downgrade revokes this database's grants but leaves the roles (another database of
the cluster may use them); ``migrate`` re-applies the passwords on every run so a rotated
secret takes effect.
"""

from __future__ import annotations

from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _names() -> tuple[str, str, str, str, str]:
    pg = context.config.attributes["postgres"]
    return (_ident(pg.service_user), _literal(pg.service_password.get_secret_value()),
            _ident(pg.debezium_user), _literal(pg.debezium_password.get_secret_value()),
            _ident(pg.database))


def _create_role(role: str, password: str, attributes: str) -> str:
    plain = role[1:-1].replace('""', '"')
    return f"""
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {_literal(plain)}) THEN
        CREATE ROLE {role} LOGIN {attributes} PASSWORD {password};
    END IF;
END $$;
ALTER ROLE {role} LOGIN {attributes};
"""


def upgrade() -> None:
    service, service_pw, debezium, debezium_pw, database = _names()
    op.execute(_create_role(service, service_pw, "NOSUPERUSER NOCREATEDB NOCREATEROLE "
                                                 "NOREPLICATION"))
    op.execute(_create_role(debezium, debezium_pw, "NOSUPERUSER NOCREATEDB NOCREATEROLE "
                                                   "REPLICATION"))
    op.execute(f"""
REVOKE ALL ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE {database} TO {service}, {debezium};
GRANT USAGE ON SCHEMA public TO {service}, {debezium};
GRANT SELECT, INSERT, UPDATE ON accounts, balances, products, orders TO {service};
GRANT SELECT, INSERT ON transfers TO {service};
GRANT SELECT ON order_status_transitions TO {service};
GRANT SELECT ON orders, transfers, accounts TO {debezium};
""")


def downgrade() -> None:
    service, _, debezium, _, database = _names()
    op.execute(f"""
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {service}, {debezium};
REVOKE ALL ON SCHEMA public FROM {service}, {debezium};
REVOKE ALL ON DATABASE {database} FROM {service}, {debezium};
GRANT USAGE ON SCHEMA public TO PUBLIC;
""")
