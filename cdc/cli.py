"""``strikeflow cdc …``: the order database, the counter service and Debezium from the shell.

Mounted on the one console script by ``streams/cli.py``; heavy imports happen inside each
command so ``strikeflow --help`` stays instant. A refusal by the counter prints its numbered
code and exits 2; an infrastructure failure exits 1.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

__all__ = ["cdc"]

console = Console(width=None if sys.stdout.isatty() else 140)
F = TypeVar("F", bound=Callable[..., Any])


def _decimal(_ctx: Any, _param: Any, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a decimal number") from None


@contextmanager
def _refusals() -> Iterator[None]:
    from cdc import CdcError
    from cdc.domain import CounterError

    try:
        yield
    except CounterError as exc:
        console.print(f"[red]refused[/] {exc}")
        sys.exit(2)
    except CdcError as exc:
        console.print(f"[red]failed[/] {exc}")
        sys.exit(1)


@contextmanager
def _service() -> Iterator[Any]:
    from cdc.config import get_cdc_config
    from cdc.counter import CounterService
    from infra.settings import get_settings

    with _refusals(), CounterService.connect(get_settings(), get_cdc_config(), min_size=1,
                                             max_size=2) as svc:
        yield svc


@click.group()
def cdc() -> None:
    """The order database, the counter service, Debezium and reconciliation.

    \b
    Set up:      strikeflow cdc migrate && strikeflow topics apply && strikeflow cdc register
    Products:    strikeflow cdc seed-products ; strikeflow cdc products
    Money:       strikeflow cdc open-account A ; strikeflow cdc deposit A 1000 --reference r1
    Buy:         strikeflow cdc place-order A BTC-20261225-100000-C 2 --client-order-id o1
    Check:       strikeflow cdc status ; strikeflow cdc reconcile
    """


@cdc.command("migrate")
@click.option("--to", "target", default="head", show_default=True, help="revision to upgrade to")
@click.option("--downgrade", "down_to", default=None, help="step back to this revision")
def migrate_cmd(target: str, down_to: str | None) -> None:
    """Apply the schema, roles and publication (idempotent: head twice changes nothing)."""
    from cdc.migrate import downgrade, migrate
    from infra.settings import get_settings

    with _refusals():
        result = (downgrade(get_settings(), down_to) if down_to
                  else migrate(get_settings(), target))
    note = "changed" if result.changed else "already there"
    console.print(f"order database at revision [bold]{result.after}[/] "
                  f"(was {result.before}; {note})")


@cdc.command("register")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="wait until the connector's task runs")
def register_cmd(wait: bool) -> None:
    """Create or update the Debezium connector in Kafka Connect (idempotent)."""
    from cdc.config import get_cdc_config
    from cdc.connector import register, wait_running
    from infra.settings import get_settings

    settings, cfg = get_settings(), get_cdc_config()
    with _refusals():
        created = register(settings, cfg)
        console.print(f"connector {cfg.connector_name} {'created' if created else 'updated'}")
        if wait:
            status = wait_running(settings, cfg)
            console.print(f"  {status.connector_state}, tasks {', '.join(status.task_states)}")


@cdc.command("status")
def status_cmd() -> None:
    """The schema revision, the connector and its replication slot."""
    import psycopg

    from cdc.config import get_cdc_config
    from cdc.connector import connector_status
    from cdc.migrate import current_revision, head_revision
    from infra.settings import get_settings

    settings, cfg = get_settings(), get_cdc_config()
    with _refusals():
        console.print(f"schema revision {current_revision(settings)} (head {head_revision()})")
        status = connector_status(settings, cfg)
        console.print(f"connector {cfg.connector_name}: "
                      + ("not registered" if status is None else
                         f"{status.connector_state}, tasks {', '.join(status.task_states)}"))
        with psycopg.connect(settings.postgres.dsn()) as conn:
            row = conn.execute(
                "SELECT active, pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), "
                "confirmed_flush_lsn)) FROM pg_replication_slots WHERE slot_name = %s",
                (cfg.slot,)).fetchone()
        console.print(f"slot {cfg.slot}: " + ("missing" if row is None else
                                             f"active={row[0]}, unconfirmed WAL {row[1]}"))


@cdc.command("seed-products")
def seed_products_cmd() -> None:
    """List the standard chain (BTC and ETH, 4 expiries, 5 strikes, calls and puts)."""
    from datetime import UTC, datetime

    from cdc.config import get_cdc_config
    from cdc.products import standard_chain

    cfg = get_cdc_config()
    chain = standard_chain(datetime.now(UTC), {"BTC": cfg.spot_btc, "ETH": cfg.spot_eth})
    with _service() as svc:
        made = svc.list_products(chain)
    console.print(f"{made} new products ({len(chain) - made} already listed)")


@cdc.command("products")
def products_cmd() -> None:
    """Products on sale now."""
    table = Table("product", "underlying", "strike", "expiry (UTC)", "type", "contract")
    with _service() as svc:
        for p in svc.products():
            table.add_row(p.id, p.underlying, str(p.strike), f"{p.expiry:%Y-%m-%d %H:%M}",
                          p.option_type.value, str(p.contract_size))
    console.print(table)


@cdc.command("open-account")
@click.argument("account")
def open_account_cmd(account: str) -> None:
    """Create ACCOUNT with a zero USDT balance (idempotent)."""
    with _service() as svc:
        made = svc.open_account(account)
    console.print(f"account {account} {'opened' if made else 'already open'}")


def _transfer(kind: str) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        fn = click.option("--reference", default=None,
                          help="idempotency key (default: a new uuid)")(fn)
        fn = click.option("--address", default=None,
                          help="the outside wallet (AML screens it)")(fn)
        fn = click.argument("amount", callback=_decimal)(fn)
        fn = click.argument("account")(fn)
        return cdc.command(kind, help=f"{kind.capitalize()} AMOUNT USDT "
                                      f"{'to' if kind == 'deposit' else 'from'} ACCOUNT, once "
                                      "per reference.")(fn)  # type: ignore[return-value]
    return decorate


@_transfer("deposit")
def deposit_cmd(account: str, amount: Decimal, address: str | None,
                reference: str | None) -> None:
    with _service() as svc:
        done = svc.deposit(account, amount, reference or uuid.uuid4().hex, address)
    _print_transfer(done)


@_transfer("withdraw")
def withdraw_cmd(account: str, amount: Decimal, address: str | None,
                 reference: str | None) -> None:
    with _service() as svc:
        done = svc.withdraw(account, amount, reference or uuid.uuid4().hex, address)
    _print_transfer(done)


def _print_transfer(done: Any) -> None:
    extra = " (replayed: already done)" if done.replayed else f"; balance {done.balance_after}"
    console.print(f"{done.kind.value} {done.amount} USDT {done.account} "
                  f"ref {done.reference}{extra}")


@cdc.group("kyc")
def kyc() -> None:
    """Accounts' KYC status and tier (what gates deposits, withdrawals and orders)."""


@kyc.command("set")
@click.argument("account")
@click.option("--status", required=True,
              type=click.Choice(["none", "pending", "verified", "rejected", "suspended"]))
@click.option("--tier", type=click.IntRange(0, 3), default=0, show_default=True)
def kyc_set_cmd(account: str, status: str, tier: int) -> None:
    """Record ACCOUNT's KYC status and tier (Debezium carries it on to pre-trade risk)."""
    with _service() as svc:
        changed = svc.set_kyc(account, status, tier)
    console.print(f"kyc {account}: {status}, tier {tier}"
                  + ("" if changed else " (unchanged)"))


@kyc.command("show")
@click.argument("account")
def kyc_show_cmd(account: str) -> None:
    """ACCOUNT's KYC record (none: the account has no row)."""
    with _service() as svc:
        state = svc.kyc(account)
    console.print(f"kyc {account}: " + ("no record" if state is None
                                       else f"{state.status.value}, tier {state.tier}"))


@cdc.command("place-order")
@click.argument("account")
@click.argument("product")
@click.argument("contracts", callback=_decimal)
@click.option("--client-order-id", default=None, help="idempotency key (default: a new uuid)")
def place_order_cmd(account: str, product: str, contracts: Decimal,
                    client_order_id: str | None) -> None:
    """Buy CONTRACTS of PRODUCT for ACCOUNT: premium + fee debited in one transaction."""
    with _service() as svc:
        order = svc.place_order(account, product, contracts, client_order_id or
                                uuid.uuid4().hex)
    table = Table("field", "value", title="replayed: the first result" if order.replayed
                  else "order placed")
    for name in ("order_id", "account", "client_order_id", "product_id", "contracts",
                 "underlying_price", "iv", "price", "premium", "fee", "total", "status",
                 "created_at", "balance_after"):
        table.add_row(name, str(getattr(order, name)))
    console.print(table)


@cdc.command("reconcile")
@click.option("--grace", "grace_s", type=float, default=None,
              help="seconds an order may take to reach the stream (default: configured)")
@click.option("--lookback", "lookback_s", type=float, default=None,
              help="seconds back to compare (default: configured)")
@click.option("--dry-run", is_flag=True, help="report the drift, re-emit nothing")
def reconcile_cmd(grace_s: float | None, lookback_s: float | None, dry_run: bool) -> None:
    """Orders committed but not on settlement.orders: report them and re-emit them."""
    from cdc.config import get_cdc_config
    from cdc.reconcile import reconcile
    from infra.settings import get_settings

    with _refusals():
        report = reconcile(get_settings(), get_cdc_config(), grace_s=grace_s,
                           lookback_s=lookback_s, repair=not dry_run)
    console.print(f"window {report.window_start:%H:%M:%S} to {report.window_end:%H:%M:%S} UTC: "
                  f"{report.committed} committed (order, status), {report.acknowledged} on "
                  f"settlement.orders, drift {report.drift}, re-emitted {report.reemitted} "
                  f"({report.stream_messages_read} messages read in {report.elapsed_s:.1f}s)")
    for m in report.missing[:20]:
        console.print(f"  missing {m.order_id} {m.status} since {m.age_s:.0f}s")
    for note in report.notes:
        console.print(f"  note: {note}")
    if report.drift and dry_run:
        sys.exit(3)


@cdc.command("demo")
@click.option("--orders", default=200, show_default=True)
def demo_cmd(orders: int) -> None:
    """Migrate, register, fund accounts, place orders, count them on settlement.orders."""
    from cdc.demo import run
    from infra.settings import get_settings

    with _refusals():
        result = run(get_settings(), console, orders=orders)
    sys.exit(0 if result.ok else 1)
