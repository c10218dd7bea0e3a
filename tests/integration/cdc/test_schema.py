"""The order database: migrations, least privilege, and the rules PostgreSQL enforces itself."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal

import psycopg
import pytest

from cdc.codes import CounterCode
from cdc.counter import CounterService
from cdc.domain import CAPTURED_TABLES, ORDER_TRANSITIONS, PUBLICATION, CounterError, OrderStatus
from cdc.migrate import current_revision, downgrade, head_revision, migrate
from infra.settings import Settings

pytestmark = pytest.mark.postgres

TABLES = {"accounts", "balances", "products", "orders", "transfers", "order_status_transitions",
          "account_kyc"}


def _tables(settings: Settings) -> set[str]:
    with psycopg.connect(settings.postgres.dsn()) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r[0] for r in rows} - {"alembic_version"}


@pytest.fixture
def scratch_db(cdc_stack: Settings) -> Iterator[Settings]:
    """A throw-away database in the same cluster, so up/down/up never touches the real one."""
    name = f"sf_mig_{uuid.uuid4().hex[:8]}"
    admin = cdc_stack.postgres.dsn().replace(f"dbname={cdc_stack.postgres.database}",
                                             "dbname=postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield cdc_stack.model_copy(update={"postgres": cdc_stack.postgres.model_copy(
            update={"database": name})})
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_migrate_is_idempotent_and_reaches_head(cdc_stack: Settings) -> None:
    again = migrate(cdc_stack)
    assert again.after == head_revision() == current_revision(cdc_stack)
    assert not again.changed


def test_migrations_go_up_down_and_up_again(scratch_db: Settings) -> None:
    assert current_revision(scratch_db) is None
    assert migrate(scratch_db).after == head_revision()
    assert _tables(scratch_db) == TABLES
    assert downgrade(scratch_db, "base").after is None
    assert _tables(scratch_db) == set()
    assert migrate(scratch_db).after == head_revision()
    assert _tables(scratch_db) == TABLES


def test_the_publication_captures_exactly_the_streamed_tables(cdc_stack: Settings) -> None:
    with psycopg.connect(cdc_stack.postgres.dsn()) as conn:
        rows = conn.execute("SELECT tablename FROM pg_publication_tables WHERE pubname = %s",
                            (PUBLICATION,)).fetchall()
    assert {r[0] for r in rows} == set(CAPTURED_TABLES)


def _as(settings: Settings, role: str) -> psycopg.Connection:
    pg = settings.postgres
    password = pg.service_password if role == "service" else pg.debezium_password
    user = pg.service_user if role == "service" else pg.debezium_user
    return psycopg.connect(pg.dsn(user, password), autocommit=True)


@pytest.mark.parametrize(
    ("role", "sql", "allowed"),
    [
        ("service", "SELECT count(*) FROM orders", True),
        ("service", "DELETE FROM orders WHERE false", False),
        ("service", "DELETE FROM transfers WHERE false", False),
        ("service", "UPDATE transfers SET amount = amount WHERE false", False),
        ("service", "CREATE TABLE sneaky (x int)", False),
        ("service", "TRUNCATE orders", False),
        ("service", "ALTER PUBLICATION strikeflow_cdc ADD TABLE balances", False),
        ("debezium", "SELECT count(*) FROM orders", True),
        ("debezium", "SELECT count(*) FROM transfers", True),
        ("debezium", "SELECT count(*) FROM accounts", True),
        ("debezium", "SELECT count(*) FROM balances", False),
        ("debezium", "SELECT count(*) FROM products", False),
        ("debezium", "INSERT INTO accounts (id) VALUES ('x')", False),
        ("debezium", "UPDATE orders SET status = status WHERE false", False),
    ],
)
def test_roles_have_least_privilege(cdc_stack: Settings, role: str, sql: str,
                                    allowed: bool) -> None:
    with _as(cdc_stack, role) as conn:
        if allowed:
            conn.execute(sql)
        else:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)


def test_only_debezium_may_replicate_and_no_role_is_superuser(cdc_stack: Settings) -> None:
    pg = cdc_stack.postgres
    with psycopg.connect(pg.dsn()) as conn:
        attrs = {r[0]: tuple(r[1:]) for r in conn.execute(
            "SELECT rolname, rolreplication, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
            "WHERE rolname IN (%s, %s)", (pg.service_user, pg.debezium_user))}
    assert attrs[pg.service_user] == (False, False, False, False)
    assert attrs[pg.debezium_user] == (True, False, False, False)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg.dsn(pg.service_user, pg.service_password) + " replication=database")


def test_a_balance_can_never_go_negative(cdc_stack: Settings,
                                         funded: Callable[..., str]) -> None:
    account = funded(Decimal(10))
    with _as(cdc_stack, "service") as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE balances SET balance = balance - 10.000000000000000001 "
                     "WHERE account_id = %s", (account,))


def _order_in(counter: CounterService, funded: Callable[..., str],
              status: OrderStatus) -> uuid.UUID:
    account = funded()
    product = counter.products()[0].id
    order = counter.place_order(account, product, 1, "o1").order_id
    path = {OrderStatus.OPEN: [], OrderStatus.SETTLING: [OrderStatus.SETTLING],
            OrderStatus.SETTLED: [OrderStatus.SETTLING, OrderStatus.SETTLED],
            OrderStatus.CANCELLED: [OrderStatus.CANCELLED]}[status]
    for step in path:
        counter.set_order_status(order, step)
    return order


@pytest.mark.parametrize("old", list(OrderStatus))
def test_the_database_enforces_the_transition_table(counter: CounterService,
                                                    funded: Callable[..., str],
                                                    old: OrderStatus) -> None:
    for new in OrderStatus:
        if new is old:
            continue
        order = _order_in(counter, funded, old)
        if (old, new) in ORDER_TRANSITIONS:
            counter.set_order_status(order, new)
        else:
            with pytest.raises(CounterError) as info:
                counter.set_order_status(order, new)
            assert info.value.code is CounterCode.INVALID_STATUS_TRANSITION


def test_an_orders_terms_are_immutable_and_it_is_born_open(cdc_stack: Settings,
                                                           counter: CounterService,
                                                           funded: Callable[..., str]) -> None:
    order = _order_in(counter, funded, OrderStatus.OPEN)
    with _as(cdc_stack, "service") as conn:
        with pytest.raises(psycopg.errors.CheckViolation, match="only the status"):
            conn.execute("UPDATE orders SET fee = fee + 1, total = total + 1 WHERE id = %s",
                         (order,))
        with pytest.raises(psycopg.errors.CheckViolation, match="orders_total"):
            conn.execute(
                "INSERT INTO orders SELECT gen_random_uuid(), account_id, 'bad-total', "
                "product_id, underlying, strike, expiry, option_type, contract_size, side, "
                "contracts, underlying_price, iv, price, premium, fee, total + 1, 'open' "
                "FROM orders WHERE id = %s", (order,))
        with pytest.raises(psycopg.errors.CheckViolation, match="must be created open"):
            conn.execute(
                "INSERT INTO orders SELECT gen_random_uuid(), account_id, 'born-settled', "
                "product_id, underlying, strike, expiry, option_type, contract_size, side, "
                "contracts, underlying_price, iv, price, premium, fee, total, 'settled' "
                "FROM orders WHERE id = %s", (order,))
