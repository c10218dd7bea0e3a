"""Apply the order database's migrations: what ``strikeflow cdc migrate`` calls.

Alembic runs programmatically (no ``alembic.ini`` to keep in step with the settings): the
superuser connects over loopback with trust (:meth:`PostgresSettings.dsn`), the revisions in
``cdc/migrations/versions`` run in one transaction, and the role passwords are re-applied so
they always follow the settings. Upgrading to ``head`` when already there changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from cdc import CdcError
from infra.settings import PostgresSettings, Settings

__all__ = [
    "MigrationError",
    "MigrationResult",
    "current_revision",
    "downgrade",
    "head_revision",
    "migrate",
]

_SCRIPTS = Path(__file__).with_name("migrations")


class MigrationError(CdcError):
    """The database could not be brought to the wanted revision."""


@dataclass(frozen=True)
class MigrationResult:
    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _engine(pg: PostgresSettings) -> Engine:
    dsn = pg.dsn()
    return create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn))


def _config(pg: PostgresSettings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.attributes["postgres"] = pg
    return cfg


def head_revision() -> str | None:
    """The newest revision shipped in ``cdc/migrations/versions``."""
    return ScriptDirectory(str(_SCRIPTS)).get_current_head()


def current_revision(settings: Settings) -> str | None:
    """The revision the database is at (``None``: never migrated)."""
    engine = _engine(settings.postgres)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def _sync_passwords(conn: Connection, pg: PostgresSettings) -> None:
    for role, secret in ((pg.service_user, pg.service_password),
                         (pg.debezium_user, pg.debezium_password)):
        quoted = '"' + role.replace('"', '""') + '"'
        literal = "'" + secret.get_secret_value().replace("'", "''") + "'"
        conn.execute(text(f"ALTER ROLE {quoted} PASSWORD {literal}"))


def _run(settings: Settings, step: str, target: str) -> MigrationResult:
    pg = settings.postgres
    engine = _engine(pg)
    cfg = _config(pg)
    try:
        with engine.connect() as conn:
            before = MigrationContext.configure(conn).get_current_revision()
            cfg.attributes["connection"] = conn
            getattr(command, step)(cfg, target)
            conn.commit()
            after = MigrationContext.configure(conn).get_current_revision()
            if after is not None and after >= "0002":
                _sync_passwords(conn, pg)
            conn.commit()
    except OperationalError as exc:
        raise MigrationError(f"cannot reach PostgreSQL at {pg.host}:{pg.port}: {exc}") from exc
    except Exception as exc:
        raise MigrationError(f"{step} to {target} failed: {type(exc).__name__}: {exc}") \
            from exc
    finally:
        engine.dispose()
    return MigrationResult(before, after)


def migrate(settings: Settings, target: str = "head") -> MigrationResult:
    """Upgrade to ``target`` (the newest revision by default); idempotent."""
    return _run(settings, "upgrade", target)


def downgrade(settings: Settings, target: str) -> MigrationResult:
    """Step back to ``target`` (``base`` drops the schema; the cluster-wide roles stay)."""
    return _run(settings, "downgrade", target)
