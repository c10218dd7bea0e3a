"""routing.orders → the routing agent → children at the venues → routing.reports, through the
real Kafka and one worker running risk, matching, booking and routing:

* our own book is real: a maker rests orders on a spot pair listed for this test only, and a
  parent's child routed to "strikeflow" is an IOC order of the parent's account through risk
  and matching — a trade on ``trades`` and fills on ``orders.events`` under the child key,
  aggregated in the parent's report (quantity, exact average, booking's fee); the same
  command sent again (a re-send after a crash) trades nothing, and the adapter answers the key
  with the original fill; an account without funds is refused by risk (5009) and the parent
  goes on at the other venues;
* the external venues are simulated (latency, partial fills), and the worker is SIGKILLed in
  the middle of routing: every parent finishes, its venue shares sum to 1, and no child is
  filled twice — the simulated venues' ledgers and, for our book, the order events agree with
  the reports key by key (one order per child key). A malformed parent order becomes a dead
  letter and the rest go on.
"""

from __future__ import annotations

import json
import random
import string
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from cdc.offsets import commit_end_offsets
from infra.settings import Settings
from streams.kafka import make_producer
from streams.ledger.booking import FEES
from streams.ledger.fees import to_usdt
from streams.routing.own_book import OwnBookVenue, ioc_order
from streams.routing.venues import OWN_VENUE, RoutingVenue
from streams.worker_process import WorkerProcess
from strikeflow.demo_accounts import read_topic
from topics.catalogue import by_name
from topics.contracts import BookUpdate, FundsTransferred, IndexPrice, SubmitOrder
from topics.contracts.routing import RouteOrder

from ..risk.test_risk_pipeline import _wait_committed
from ..streams_support import collect, end_offsets, value

pytestmark = pytest.mark.kafka

ROUTES = by_name("routing.orders")
REPORTS = by_name("routing.reports")
REQUESTS = by_name("orders.requests")
ACTIVITY = by_name("accounts.activity")
BOOK = by_name("md.book")
D = Decimal
PORT = 16181
N = 24
AGENTS = '["streams.risk", "streams.matching", "streams.ledger", "streams.routing"]'
# Three simulated venues and our own book (real: risk and matching in the worker). The
# simulated ones are slow enough to be killed mid-round; okx and deribit show twice what they
# fill, so parents need several rounds.
VENUES = {
    "binance": {"fee_rate": "0.001", "lot_size": "0.001", "latency_ms": 300},
    "okx": {"fee_rate": "0.0008", "lot_size": "0.01", "latency_ms": 400, "fill_ratio": "0.5"},
    "deribit": {"fee_rate": "0.0005", "lot_size": "0.001", "latency_ms": 500,
                "fill_ratio": "0.5"},
    OWN_VENUE: {"fee_rate": "0.0005", "lot_size": "0.001"},
}
EXTERNAL = ("binance", "okx", "deribit")
FINAL = {"done", "partially_done", "cancelled", "rejected"}
MID = 1000
# (offset from the mid, levels, size per level) of the simulated venues: okx and deribit
# quote the best prices but short ladders, of which only half is really there — their
# children fill partly and the remainder goes to the next round; binance is deeper, dearer.
LADDERS = {"binance": (3, 8, "0.4"), "okx": (1, 2, "0.5"), "deribit": (1, 2, "0.5")}
# our book: the maker's resting orders (offset, levels, size), between okx and binance
OWN_LADDER = (2, 8, "1.5")
WATCHED = ("orders.requests", "orders.events", "trades", "routing.reports",
           "routing.orders.dlq")


def _tag(n: int = 5) -> str:
    rng = random.Random(uuid.uuid4().int)
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(n))


def _book(symbol: str, venue: str) -> BookUpdate:
    offset, levels, size = LADDERS[venue]
    bids = [(D(MID - offset - i), D(size)) for i in range(levels)]
    asks = [(D(MID + offset + i), D(size)) for i in range(levels)]
    return BookUpdate(event_id=f"test-{symbol}-{venue}-{uuid.uuid4().hex[:8]}",
                      ts_event=datetime.now(UTC), symbol=symbol, source=venue,
                      seq=1, bids=bids, asks=asks)


@dataclass
class _Run:
    stack: Settings
    symbol: str
    app_id: str
    env: dict[str, str]
    worker: WorkerProcess
    router: str
    maker: str
    run: str
    since: dict[str, dict[int, int]] = field(default_factory=dict)

    def send(self, spec: Any, key: str, record: Any) -> None:
        producer = make_producer(self.stack)
        producer.produce(spec.name, key=key.encode(), value=spec.encode(record))
        producer.flush(10)

    def events(self, topic: str, keep: Callable[[dict[str, Any]], bool],
               until: Callable[[list[dict[str, Any]]], bool] = lambda got: True,
               timeout_s: float = 30) -> list[dict[str, Any]]:
        found = collect(self.stack, topic, lambda m: keep(value(m)),
                        lambda got: until([value(m) for m in got]),
                        since=self.since[topic], timeout_s=timeout_s)
        return [value(m) for m in found]

    def restart(self) -> None:
        self.worker = WorkerProcess(self.stack, self.app_id, PORT, env=self.env)
        self.worker.start()


@pytest.fixture(scope="module")
def routed(stack: Settings) -> Iterator[_Run]:
    """A spot pair listed for this module only, the simulated venues' books re-published
    every 0.3 s, a funded maker resting a ladder on our book, a funded routing account, and
    the worker (risk, matching, booking, routing) with its own group."""
    base = "RT" + _tag()
    symbol = f"{base}-USDT"
    app_id = f"test-routing-{uuid.uuid4().hex[:8]}"
    env = {"STRIKEFLOW_WORKER__AGENTS": AGENTS,
           "STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES": json.dumps([base]),
           "STRIKEFLOW_ROUTING__VENUES": json.dumps(VENUES),
           "STRIKEFLOW_ROUTING__ROUND_EVERY_S": "0.1"}
    commit_end_offsets(stack, app_id, ("orders.requests", "accounts.activity",
                                       "orders.commands", "orders.events", "routing.orders"))
    stop = threading.Event()

    def feed() -> None:
        producer = make_producer(stack)
        while not stop.is_set():
            for venue in EXTERNAL:
                book = _book(symbol, venue)
                producer.produce(BOOK.name, key=symbol.encode(), value=BOOK.encode(book))
            producer.flush(5)
            stop.wait(0.3)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    since = {t: end_offsets(stack, t) for t in WATCHED}
    book_since = end_offsets(stack, BOOK.name)
    worker = WorkerProcess(stack, app_id, PORT, env=env)
    tag = _tag(6)
    run = _Run(stack, symbol, app_id, env, worker, f"sor-{tag}", f"mm-{tag}",
               f"t{uuid.uuid4().hex[:8]}", since)
    run.send(by_name("md.index"), base, IndexPrice(
        event_id=f"{base}:index:1", ts_event=datetime.now(UTC), underlying=base,
        price=D(MID), venues_used=["test"]))
    for account in (run.router, run.maker):
        run.send(ACTIVITY, account, FundsTransferred(
            event_id=f"transfer:t-{account}", ts_event=datetime.now(UTC), account=account,
            transfer_id=f"t-{account}", amount=D("10000000"), reference="test deposit"))
    worker.start()
    try:
        _wait_committed(stack, app_id, ACTIVITY.name, end_offsets(stack, ACTIVITY.name))
        offset, levels, size = OWN_LADDER
        for i in range(levels):
            for side, price in (("sell", MID + offset + i), ("buy", MID - offset - i)):
                run.send(REQUESTS, run.maker, SubmitOrder(
                    command_id=f"{run.maker}:{side}{i}", ts_sent=datetime.now(UTC),
                    account=run.maker, symbol=symbol, client_order_id=f"{side}{i}",
                    side=side, order_type="limit", qty=D(size),  # type: ignore[arg-type]
                    price=D(price)))
        run.events("orders.events", lambda v: v["account"] == run.maker
                   and v["kind"] == "accepted", lambda got: len(got) >= 2 * levels)
        collect(stack, BOOK.name, lambda m: value(m)["symbol"] == symbol
                and value(m)["source"] == "venue" and len(value(m)["asks"]) >= levels,
                lambda got: len(got) >= 1, since=book_since)
        _wait_for_books(run)
        yield run
    finally:
        stop.set()
        thread.join(5)
        run.worker.stop()


def _send(stack: Settings, orders: list[RouteOrder],
          raw: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    producer = make_producer(stack)
    for key, payload in raw:
        producer.produce(ROUTES.name, key=key, value=payload)
    for o in orders:
        producer.produce(ROUTES.name, key=o.parent_id.encode(), value=ROUTES.encode(o))
    producer.flush(10)


def _latest(messages: list[Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for m in messages:
        v = value(m)
        if v["parent_id"] not in out or v["version"] >= out[v["parent_id"]]["version"]:
            out[v["parent_id"]] = v
    return out


def _of_parent(pid: str) -> Callable[[Any], bool]:
    return lambda m: value(m)["parent_id"] == pid


def _wait_for_books(run: _Run) -> None:
    """Probe parents until one is routed, not rejected: the worker has the venues' books
    (our book's md.book came before the simulated ones it routed on: one partition)."""
    stack = run.stack
    for attempt in range(40):
        since = end_offsets(stack, REPORTS.name)
        probe = f"{run.run}-probe{attempt}"
        _send(stack, [RouteOrder(command_id=probe, ts_sent=datetime.now(UTC),
                                 account=run.router, parent_id=probe, symbol=run.symbol,
                                 side="buy", qty=D("0.01"))])
        got = collect(stack, REPORTS.name, _of_parent(probe),
                      lambda got: any(value(m)["final"] for m in got), since=since)
        if all(value(m)["status"] != "rejected" for m in got):
            return
    raise AssertionError("the worker never saw the test's venue books")


def _final(run: _Run, ids: set[str], timeout_s: float = 90) -> dict[str, dict[str, Any]]:
    got = collect(run.stack, REPORTS.name, lambda m: value(m)["parent_id"] in ids,
                  lambda got: set(_latest(got)) == ids
                  and all(v["final"] for v in _latest(got).values()),
                  timeout_s=timeout_s, since=run.since[REPORTS.name])
    return _latest(got)


def _own_fills(run: _Run, account: str) -> dict[str, list[dict[str, Any]]]:
    """Every fill event of ``account`` on our book since the module started, by client
    order id (the topic read to its end)."""
    fills: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in read_topic(run.stack, "orders.events", since=run.since["orders.events"]):
        if v.get("account") == account and v.get("kind") in ("partially_filled", "filled"):
            fills[v["client_order_id"]].append(v)
    return fills


def _check_own_children(report: dict[str, Any], fills: dict[str, list[dict[str, Any]]]
                        ) -> int:
    """Our book's children of one parent agree with matching's fills: one order per key,
    the reported quantity, exact average and fee; returns how many traded."""
    own = {c["key"]: c for c in report["children"] if c["venue"] == OWN_VENUE}
    traded = 0
    for key, child in own.items():
        events = list({v["event_id"]: v for v in fills.get(key, [])}.values())
        by_trade = {v["trade_id"]: v for v in events}
        assert len(by_trade) == len(events), f"{key}: a trade reported twice"
        assert len({v["order_id"] for v in events}) <= 1, f"{key}: traded as two orders"
        qty = sum((D(v["qty"]) for v in by_trade.values()), D(0))
        if child["status"] != "filled":
            assert qty == 0, f"{key}: {child['status']} yet filled {qty} on our book"
            continue
        assert qty == D(child["filled_qty"]) <= D(child["qty"]), key
        if qty:
            traded += 1
            notional = sum((D(v["qty"]) * D(v["price"]) for v in by_trade.values()), D(0))
            assert D(child["avg_price"]) == notional / qty, key
            assert D(child["fee"]) == sum(
                (FEES.fee(to_usdt(D(v["qty"]) * D(v["price"])), option=False,
                          maker=bool(v["is_maker"])) for v in by_trade.values()), D(0)), key
    return traded


def test_a_child_on_our_book_is_a_real_ioc_order_and_trades(routed: _Run) -> None:
    run = routed
    pid, poor = f"{run.run}-own", f"{run.run}-poor"
    broke = f"sor-broke-{_tag(6)}"  # never funded: risk refuses its orders
    orders = [RouteOrder(command_id=f"cmd-{p}", ts_sent=datetime.now(UTC), account=acct,
                         parent_id=p, symbol=run.symbol, side="buy", qty=D(4), max_rounds=3)
              for p, acct in ((pid, run.router), (poor, broke))]
    _send(run.stack, orders)
    final = _final(run, {pid, poor})

    report = final[pid]
    assert report["status"] in ("done", "partially_done")
    assert D(report["venue_shares"].get(OWN_VENUE, "0")) > 0, report["venue_shares"]
    own = [c for c in report["children"] if c["venue"] == OWN_VENUE]
    assert own and all(c["key"] == f"{pid}:{c['round']}:{OWN_VENUE}" for c in own)
    by_key = _own_fills(run, run.router)
    assert _check_own_children(report, by_key) >= 1
    # the trades happened in our matching engine, the routing account taking the maker
    keys = {c["key"] for c in own if D(c["filled_qty"]) > 0}
    fills = [v for k in keys for v in by_key[k]]
    orders_ids = {v["order_id"] for v in fills}
    trades = run.events("trades", lambda v: v["taker_order_id"] in orders_ids,
                        lambda got: len(got) >= len({v["trade_id"] for v in fills}))
    assert {t["taker_account"] for t in trades} == {run.router}
    assert {t["maker_account"] for t in trades} == {run.maker}
    assert sum((D(t["qty"]) for t in trades), D(0)) == sum(
        (D(c["filled_qty"]) for c in own), D(0))
    # each child was a limit IOC of the parent's account on orders.requests, priced at the
    # worst level the split counted on: nothing traded above it
    sent = {v["client_order_id"]: v for v in run.events(
        "orders.requests", lambda v: v.get("command_id", "").startswith(f"route:{pid}:"),
        lambda got: len({v["client_order_id"] for v in got}) >= len(own))}
    assert set(sent) == {c["key"] for c in own}
    for key, order in sent.items():
        assert (order["type"], order["order_type"], order["time_in_force"],
                order["account"]) == ("submit", "limit", "IOC", run.router)
        assert order["command_id"] == f"route:{key}"
        assert D(order["qty"]) == D(next(c["qty"] for c in own if c["key"] == key))
        assert all(D(v["price"]) <= D(order["price"]) for v in by_key[key])

    # a re-send after a crash: the same command again on orders.requests, then a marker order
    # of the account behind it (risk and matching keep the order): nothing trades again, and
    # the adapter answers the key with the original fill, from orders.events
    child = next(c for c in own if D(c["filled_qty"]) > 0)
    order = sent[child["key"]]
    again = ioc_order(child["key"], account=run.router, symbol=run.symbol, side="buy",
                      qty=D(order["qty"]), limit_price=D(order["price"]),
                      ts_sent=datetime.now(UTC))
    run.send(REQUESTS, run.router, again)
    marker = ioc_order(f"{pid}-marker", account=run.router, symbol=run.symbol, side="buy",
                       qty=D("0.1"), limit_price=D(MID - 50), ts_sent=datetime.now(UTC))
    run.send(REQUESTS, run.router, marker)
    run.events("orders.events", lambda v: v["client_order_id"] == marker.client_order_id
               and v["kind"] in ("cancelled", "rejected"), lambda got: len(got) >= 1)
    assert _own_fills(run, run.router)[child["key"]] == by_key[child["key"]]
    adapter = OwnBookVenue(run.stack, lambda _s: None, timeout_s=30,
                           group=f"test-own-book-{uuid.uuid4().hex[:8]}")
    try:
        answer = adapter.place_market_order(
            client_order_id=child["key"], symbol=run.symbol, side="buy",
            qty=D(order["qty"]), account=run.router, limit_price=D(order["price"]))
    finally:
        adapter.stop()
    assert (answer.qty, answer.avg_price, answer.fee) == (
        D(child["filled_qty"]), D(child["avg_price"]), D(child["fee"]))

    refused = final[poor]
    own_refused = [c for c in refused["children"] if c["venue"] == OWN_VENUE]
    assert own_refused and all(c["status"] == "failed" and "5009" in (c["reason"] or "")
                               for c in own_refused)
    assert refused["status"] in ("done", "partially_done")
    assert OWN_VENUE not in refused["venue_shares"]
    rejected = run.events("orders.events", lambda v: v["account"] == broke
                          and v["kind"] == "rejected",
                          lambda got: len(got) >= len(own_refused))
    assert {v["reason_code"] for v in rejected} == {5009}


def _parent(run: _Run, pid: str, i: int) -> RouteOrder:
    return RouteOrder(command_id=f"cmd-{pid}", ts_sent=datetime.now(UTC), account=run.router,
                      parent_id=pid, symbol=run.symbol, side="buy" if i % 2 else "sell",
                      qty=D("1.5") + D(i % 3) / 2, max_rounds=4)


def test_parents_finish_once_each_through_a_worker_kill(routed: _Run) -> None:
    run = routed
    stack = run.stack
    since = end_offsets(stack, REPORTS.name)
    dlq_since = end_offsets(stack, ROUTES.dead_letter or "")
    orders = [_parent(run, f"{run.run}-{i}", i) for i in range(N)]
    ids = {o.parent_id for o in orders}
    bad_key = f"{run.run}-bad".encode()
    _send(stack, orders[: N // 2], raw=((bad_key, b'{"type": "route", "qty": "-1"}'),))
    _send(stack, orders[N // 2:] + orders[:4])  # a repeat of four: changes nothing

    # SIGKILL once some children have answered and most parents are still working
    collect(stack, REPORTS.name,
            lambda m: value(m)["parent_id"] in ids and value(m)["version"] >= 2,
            lambda got: len(got) >= 3, since=since)
    run.worker.kill()
    mid = _latest(collect(stack, REPORTS.name, lambda m: value(m)["parent_id"] in ids,
                          lambda got: True, timeout_s=3, since=since))
    unfinished_at_kill = sum(1 for v in mid.values() if not v["final"]) + len(ids - set(mid))
    run.restart()
    reports = collect(stack, REPORTS.name, lambda m: value(m)["parent_id"] in ids,
                      lambda got: all(v["final"] for v in _latest(got).values())
                      and set(_latest(got)) == ids,
                      timeout_s=180, since=since)
    dead = collect(stack, ROUTES.dead_letter or "",
                   lambda m: value(m)["key"] == bad_key.decode(), lambda got: len(got) >= 1,
                   since=dlq_since)

    assert unfinished_at_kill > 0, "the kill came after everything had finished"
    final = _latest(reports)
    assert {v["status"] for v in final.values()} <= {"done", "partially_done"}
    venues = {name: RoutingVenue(stack.data_dir / "venue" / "routing" / f"{name}.sqlite",
                                 lambda _s: None, name=name, fee_rate=D(0), lot_size=D(1))
              for name in EXTERNAL}
    multi_round = own_traded = 0
    own_fills = _own_fills(run, run.router)
    for pid, report in final.items():
        filled = D(report["filled_qty"])
        assert filled + D(report["remainder"]) == D(report["qty"])
        if filled > 0:
            assert sum(D(s) for s in report["venue_shares"].values()) == 1, pid
        multi_round += report["rounds"] > 1
        # what the simulated venues did for this parent is exactly what the report says:
        # every child key traded at most once, none unrecorded, none counted twice
        at_venues = {f.client_order_id: f for v in venues.values()
                     for f in v.orders() if f.client_order_id.startswith(f"{pid}:")}
        for key in at_venues:
            assert venues[key.rsplit(":", 1)[1]].count(key) == 1
        children = {c["key"]: c for c in report["children"]}
        assert set(at_venues) == {k for k, c in children.items()
                                  if c["status"] == "filled" and c["venue"] != OWN_VENUE}
        for key, fill in at_venues.items():
            assert fill.qty == D(children[key]["filled_qty"]), key
            assert fill.qty <= D(children[key]["qty"]), key
        # our book: matching's fills, one order per child key, as reported
        own_traded += _check_own_children(report, own_fills)
        assert {k for k in own_fills if k.startswith(f"{pid}:")} <= set(children)
        assert sum((f.qty for f in at_venues.values()), D(0)) + sum(
            (D(c["filled_qty"]) for c in children.values() if c["venue"] == OWN_VENUE),
            D(0)) == filled, pid
    assert multi_round > 0, "partial fills should have needed more rounds"
    assert own_traded > 0, "no child traded on our book"
    (letter,) = {value(m)["source_offset"]: value(m) for m in dead}.values()
    assert letter["reason"] == "invalid" and letter["source_topic"] == ROUTES.name
    assert "qty" in letter["error"] and letter["source_offset"] >= 0
    # the repeats of four parents started nothing new: one report sequence each
    for o in orders[:4]:
        versions = [value(m)["version"] for m in reports if value(m)["parent_id"] == o.parent_id]
        assert versions.count(1) >= 1 and max(versions) == final[o.parent_id]["version"]
