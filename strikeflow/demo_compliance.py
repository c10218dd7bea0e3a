"""The main job's compliance step, while its workers run: KYC gates and AML cases end to end.

New accounts each run (``cmp-<tag>-…``), through the real order database and the trading
worker:

1. an account whose verification is pending deposits 500 USDT (allowed: tier 0) and is
   refused a withdrawal (7002) by the counter service — nothing written;
2. a verified tier-1 account sends a BTC-USDT order of about 20,000 USDT through
   ``orders.requests``: its ``KycChanged`` came through Debezium, and risk refuses the order
   (5015: over tier 1's 10,000 per order); the counter refuses it an option of that size too
   (7106);
3. a verified account deposits 9,500, 9,900 and 9,200 USDT — each just under the 10,000
   reporting threshold: a ``structuring`` case;
4. two sub-accounts of one owner (``cmp<tag>:a`` and ``cmp<tag>:b``) trade an option with
   each other: a ``wash_trade`` case;

then waits (bounded) for the cases on ``compliance.cases`` and shows a table. ``run``
returns whether every expected outcome happened.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from cdc.config import get_cdc_config
from cdc.counter import CounterService
from cdc.domain import CounterError
from infra.settings import Settings
from streams.compliance import ComplianceCode
from streams.instruments import InstrumentKind, OptionRight, TradingStatus, listings_at
from streams.kafka import end_offsets, make_producer
from streams.risk import RiskCode
from strikeflow.demo_accounts import read_topic
from topics.catalogue import by_name
from topics.contracts import SubmitOrder

__all__ = ["run"]

D = Decimal
REQUESTS = by_name("orders.requests")
WAIT_S = 60.0


@dataclass
class _Step:
    what: str
    account: str
    expected: str
    got: str = "-"

    @property
    def ok(self) -> bool:
        return self.got == self.expected


def _refusal(call: Callable[[], Any]) -> str:
    try:
        call()
    except CounterError as exc:
        return f"{int(exc.code)} {exc.code.name}"
    return "allowed"


def _until(check: Callable[[], str | None], timeout_s: float = WAIT_S) -> str | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(1)
    return None


def _last(settings: Settings, topic: str, keep: Callable[[dict[str, Any]], bool],
          back: int = 200) -> dict[str, Any] | None:
    """The newest record of ``topic`` that ``keep`` accepts among its last ``back`` a
    partition (a quick look at a compacted or busy topic)."""
    since = {p: max(0, end - back) for p, end in end_offsets(settings, topic).items()}
    found = [r for r in read_topic(settings, topic, since, timeout_s=20) if keep(r)]
    return found[-1] if found else None


def _order(account: str, symbol: str, cid: str, side: str, qty: Decimal,
           price: Decimal) -> SubmitOrder:
    return SubmitOrder(command_id=f"{account}:{cid}", ts_sent=datetime.now(UTC),
                       account=account, symbol=symbol, client_order_id=cid, side=side,
                       order_type="limit", qty=qty, price=price, time_in_force="GTC")


def _send(settings: Settings, *orders: SubmitOrder) -> None:
    producer = make_producer(settings)
    for order in orders:
        producer.produce(REQUESTS.name, key=order.account.encode(),
                         value=REQUESTS.encode(order))
    producer.flush(10)


def _events_of(settings: Settings, since: dict[int, int], accounts: set[str]
               ) -> list[dict[str, Any]]:
    return [r for r in read_topic(settings, "orders.events", since, timeout_s=20)
            if r.get("account") in accounts]


def _activity_seen(settings: Settings, since: dict[int, int], accounts: set[str]) -> bool:
    """Every account's KYC change and funding reached accounts.activity (risk reads it)."""
    seen: dict[str, set[str]] = {a: set() for a in accounts}
    for r in read_topic(settings, "accounts.activity", since, timeout_s=20):
        if r.get("account") in seen:
            seen[r["account"]].add(r["type"])
    return all({"kyc", "transfer"} <= kinds for kinds in seen.values())


def _tick(value: Decimal, step: Decimal, rounding: str = ROUND_FLOOR) -> Decimal:
    return (value / step).to_integral_value(rounding) * step


def run(settings: Settings, console: Console) -> bool:
    """Run the compliance step; True if every expected outcome happened."""
    tag = uuid.uuid4().hex[:6]
    pending, tier1, structurer = (f"cmp-{tag}-{s}" for s in ("pending", "tier1", "struct"))
    owner = f"cmp{tag}"
    sub_a, sub_b = f"{owner}:a", f"{owner}:b"
    since = {t: end_offsets(settings, t)
             for t in ("orders.events", "accounts.activity", "compliance.cases")}
    steps: list[_Step] = []
    cfg = get_cdc_config()
    with CounterService.connect(settings, cfg, min_size=1, max_size=2) as svc:
        for account, status, tier in ((pending, "pending", 0), (tier1, "verified", 1),
                                      (structurer, "verified", 2), (sub_a, "verified", 2),
                                      (sub_b, "verified", 2)):
            svc.open_account(account)
            svc.set_kyc(account, status, tier)
        svc.deposit(pending, D(500), "demo-deposit")
        steps.append(_Step("withdrawal while KYC is pending", pending,
                           f"{int(ComplianceCode.KYC_PENDING)} KYC_PENDING",
                           _refusal(lambda: svc.withdraw(pending, D(100), "demo-withdraw"))))
        for account in (tier1, sub_a, sub_b):
            svc.deposit(account, D(50_000), "demo-funding")
        product = max((p for p in svc.products() if p.underlying == "BTC"),
                      key=lambda p: (p.expiry, p.id))
        steps.append(_Step("option worth > 10,000 USDT at tier 1 (counter)", tier1,
                           f"{int(ComplianceCode.ORDER_NOTIONAL_LIMIT_EXCEEDED)} "
                           "ORDER_NOTIONAL_LIMIT_EXCEEDED",
                           _refusal(lambda: svc.place_order(tier1, product.id, D(5_000),
                                                            f"demo-{tag}"))))
        for n, amount in enumerate(("9500", "9900", "9200")):
            svc.deposit(structurer, D(amount), f"demo-structuring-{n}",
                        address=f"0xdemo{tag}{n}")
    structuring = _Step("3 deposits just under 10,000 USDT", structurer, "structuring case")
    steps.append(structuring)

    # risk needs each account's KYC change and funds before their orders
    ready = _until(lambda: "yes" if _activity_seen(settings, since["accounts.activity"],
                                                   {tier1, sub_a, sub_b}) else None)
    catalogue = listings_at(datetime.now(UTC))
    spot = catalogue["BTC-USDT"]
    index = _last(settings, "md.index", lambda r: r.get("underlying") == "BTC")
    over = _Step("BTC-USDT order of ~20,000 USDT at tier 1 (risk)", tier1,
                 f"{int(RiskCode.KYC_ORDER_LIMIT)} KYC_ORDER_LIMIT")
    steps.append(over)
    if ready and index is not None:
        price = _tick(D(str(index["price"])), spot.tick_size)
        qty = max(spot.min_qty, _tick(D(20_000) / price, spot.lot_size, ROUND_CEILING))
        _send(settings, _order(tier1, spot.instrument_id, f"over-{tag}", "buy", qty, price))

    # the wash trade: a far out-of-the-money call of the latest BTC expiry, which the main
    # job's order flow (spot books) does not trade; a at the mark, then b takes it
    option = max((i for i in (catalogue[s] for s in catalogue)
                  if i.kind is InstrumentKind.OPTION and i.base == "BTC"
                  and i.right is OptionRight.CALL and i.status is TradingStatus.TRADING),
                 key=lambda i: (i.expiry, i.strike))
    mark = _last(settings, "md.marks", lambda r: r.get("symbol") == option.instrument_id,
                 back=2000)
    price = max(option.tick_size, _tick(D(str(mark["mark_price"])) if mark else
                                        option.tick_size * 10, option.tick_size))
    wash = _Step(f"sub-accounts of {owner} trade {option.instrument_id}", f"{sub_b} ← {sub_a}",
                 "wash_trade case")
    steps.append(wash)
    if ready:
        _send(settings, _order(sub_a, option.instrument_id, f"wash-sell-{tag}", "sell",
                               option.min_qty, price))
        _until(lambda: "on the book" if any(
            e.get("client_order_id") == f"wash-sell-{tag}" and e["kind"] == "accepted"
            for e in _events_of(settings, since["orders.events"], {sub_a})) else None, 30)
        _send(settings, _order(sub_b, option.instrument_id, f"wash-buy-{tag}", "buy",
                               option.min_qty, price))

    def outcomes() -> str | None:
        rejected = {e["client_order_id"]: e.get("reason_code")
                    for e in _events_of(settings, since["orders.events"], {tier1})
                    if e["kind"] == "rejected"}
        code = rejected.get(f"over-{tag}")
        if code is not None:
            over.got = (f"{code} {RiskCode(code).name}" if code in set(RiskCode)
                        else str(code))
        for case in read_topic(settings, "compliance.cases", since["compliance.cases"],
                               timeout_s=20):
            if case["rule"] == "structuring" and case["account"] == structurer \
                    and not structuring.ok:
                structuring.got = "structuring case"
                structuring.what += f" → {case['case_id']}"
            if case["rule"] == "wash_trade" and set(case["accounts"]) == {sub_a, sub_b} \
                    and not wash.ok:
                wash.got = "wash_trade case"
                wash.what += f" → {case['case_id']}"
        return "done" if all(s.ok for s in (over, structuring, wash)) else None

    _until(outcomes)
    table = Table("step", "account", "expected", "got", "ok",
                  title="compliance: KYC gates (counter service, risk) and AML cases")
    for step in steps:
        table.add_row(step.what, step.account, step.expected, step.got,
                      "[green]yes[/]" if step.ok else "[red]no[/]")
    console.print(table)
    if not ready:
        console.print("[yellow]the accounts' KYC changes and funding did not reach "
                      "accounts.activity in time[/]")
    return all(step.ok for step in steps)
