"""routing.orders → the routing agent → children at simulated venues (latency, partial fills)
→ routing.reports, with the worker SIGKILLed in the middle of routing: every parent finishes,
its venue shares sum to 1, and no child is filled twice (the venues' own ledgers agree with
the reports, key by key). A malformed parent order becomes a dead letter and the rest go on.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from infra.settings import Settings
from streams.kafka import make_producer
from streams.routing.venues import RoutingVenue
from streams.worker_process import WorkerProcess
from topics.catalogue import by_name
from topics.contracts import BookUpdate
from topics.contracts.routing import RouteOrder

from ..streams_support import collect, end_offsets, value

pytestmark = pytest.mark.kafka

ROUTES = by_name("routing.orders")
REPORTS = by_name("routing.reports")
BOOK = by_name("md.book")
D = Decimal
PORT = 16181
N = 24
# Three external venues and our own book ("venue" on md.book). Slow enough to be killed
# mid-round; okx and deribit show twice what they fill, so parents need several rounds.
VENUES = {
    "binance": {"fee_rate": "0.001", "lot_size": "0.001", "latency_ms": 300},
    "okx": {"fee_rate": "0.0008", "lot_size": "0.01", "latency_ms": 400, "fill_ratio": "0.5"},
    "deribit": {"fee_rate": "0.0005", "lot_size": "0.001", "latency_ms": 500,
                "fill_ratio": "0.5"},
    "strikeflow": {"fee_rate": "0.0005", "lot_size": "0.001", "latency_ms": 100},
}
SOURCES = {"binance": "binance", "okx": "okx", "deribit": "deribit", "strikeflow": "venue"}
FINAL = {"done", "partially_done", "cancelled", "rejected"}


# (offset from the mid, levels, size per level): okx and deribit quote the best prices but
# short ladders, of which only half is really there (fill_ratio 0.5) — their children fill
# partly and the remainder goes to the next round; binance and our book are deeper, dearer.
LADDERS = {"binance": (3, 8, "0.4"), "okx": (1, 2, "0.5"), "deribit": (1, 2, "0.5"),
           "strikeflow": (2, 4, "0.3")}


def _book(symbol: str, venue: str, mid: int) -> BookUpdate:
    offset, levels, size = LADDERS[venue]
    bids = [(D(mid - offset - i), D(size)) for i in range(levels)]
    asks = [(D(mid + offset + i), D(size)) for i in range(levels)]
    return BookUpdate(event_id=f"test-{symbol}-{venue}-{uuid.uuid4().hex[:8]}",
                      ts_event=datetime.now(UTC), symbol=symbol, source=SOURCES[venue],
                      seq=1, bids=bids, asks=asks)


@pytest.fixture
def books_feed(stack: Settings) -> Iterator[str]:
    """A symbol of this test only, whose venue books are re-published every 0.3 s (the
    worker's book reader starts near the end of md.book, which others write too)."""
    symbol = f"T{uuid.uuid4().hex[:6].upper()}-USDT"
    stop = threading.Event()

    def feed() -> None:
        producer = make_producer(stack)
        while not stop.is_set():
            for venue in VENUES:
                book = _book(symbol, venue, 1000)
                producer.produce(BOOK.name, key=symbol.encode(), value=BOOK.encode(book))
            producer.flush(5)
            stop.wait(0.3)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    try:
        yield symbol
    finally:
        stop.set()
        thread.join(5)


def _parent(symbol: str, pid: str, i: int) -> RouteOrder:
    return RouteOrder(command_id=f"cmd-{pid}", ts_sent=datetime.now(UTC), account="acct-sor",
                      parent_id=pid, symbol=symbol, side="buy" if i % 2 else "sell",
                      qty=D("1.5") + D(i % 3) / 2, max_rounds=4)


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


def _wait_for_books(stack: Settings, symbol: str, run: str) -> None:
    """Probe parents until one is routed, not rejected: the worker has the venues' books."""
    for attempt in range(40):
        since = end_offsets(stack, REPORTS.name)
        probe = f"{run}-probe{attempt}"
        _send(stack, [RouteOrder(command_id=probe, ts_sent=datetime.now(UTC), account="acct-sor",
                                 parent_id=probe, symbol=symbol, side="buy", qty=D("0.01"))])
        got = collect(stack, REPORTS.name, _of_parent(probe),
                      lambda got: any(value(m)["final"] for m in got), since=since)
        if all(value(m)["status"] != "rejected" for m in got):
            return
    raise AssertionError("the worker never saw the test's venue books")


def test_parents_finish_once_each_through_a_worker_kill(stack: Settings,
                                                        books_feed: str) -> None:
    symbol, run = books_feed, f"t{uuid.uuid4().hex[:8]}"
    app_id = f"test-routing-{uuid.uuid4().hex[:8]}"
    env = {"STRIKEFLOW_WORKER__AGENTS": '["streams.routing"]',
           "STRIKEFLOW_ROUTING__VENUES": json.dumps(VENUES),
           "STRIKEFLOW_ROUTING__ROUND_EVERY_S": "0.1"}
    worker = WorkerProcess(stack, app_id, PORT, env=env)
    worker.start()
    try:
        _wait_for_books(stack, symbol, run)
        since = end_offsets(stack, REPORTS.name)
        dlq_since = end_offsets(stack, ROUTES.dead_letter or "")
        orders = [_parent(symbol, f"{run}-{i}", i) for i in range(N)]
        ids = {o.parent_id for o in orders}
        bad_key = f"{run}-bad".encode()
        _send(stack, orders[: N // 2], raw=((bad_key, b'{"type": "route", "qty": "-1"}'),))
        _send(stack, orders[N // 2:] + orders[:4])  # a repeat of four: changes nothing

        # SIGKILL once some children have answered and most parents are still working
        collect(stack, REPORTS.name,
                lambda m: value(m)["parent_id"] in ids and value(m)["version"] >= 2,
                lambda got: len(got) >= 3, since=since)
        worker.kill()
        mid = _latest(collect(stack, REPORTS.name, lambda m: value(m)["parent_id"] in ids,
                              lambda got: True, timeout_s=3, since=since))
        unfinished_at_kill = sum(1 for v in mid.values() if not v["final"]) + len(ids - set(mid))
        worker = WorkerProcess(stack, app_id, PORT, env=env)
        worker.start()
        reports = collect(stack, REPORTS.name, lambda m: value(m)["parent_id"] in ids,
                          lambda got: all(v["final"] for v in _latest(got).values())
                          and set(_latest(got)) == ids,
                          timeout_s=180, since=since)
        dead = collect(stack, ROUTES.dead_letter or "",
                       lambda m: value(m)["key"] == bad_key.decode(), lambda got: len(got) >= 1,
                       since=dlq_since)
    finally:
        worker.stop()

    assert unfinished_at_kill > 0, "the kill came after everything had finished"
    final = _latest(reports)
    assert {v["status"] for v in final.values()} <= {"done", "partially_done"}
    venues = {name: RoutingVenue(stack.data_dir / "venue" / "routing" / f"{name}.sqlite",
                                 lambda _s: None, name=name, fee_rate=D(0), lot_size=D(1))
              for name in VENUES}
    multi_round = 0
    for pid, report in final.items():
        filled = D(report["filled_qty"])
        assert filled + D(report["remainder"]) == D(report["qty"])
        if filled > 0:
            assert sum(D(s) for s in report["venue_shares"].values()) == 1, pid
        multi_round += report["rounds"] > 1
        # what the venues did for this parent is exactly what the report says: every child
        # key traded at most once, none unrecorded, none counted twice
        at_venues = {f.client_order_id: f for v in venues.values()
                     for f in v.orders() if f.client_order_id.startswith(f"{pid}:")}
        for key in at_venues:
            assert venues[key.rsplit(":", 1)[1]].count(key) == 1
        children = {c["key"]: c for c in report["children"]}
        assert set(at_venues) == {k for k, c in children.items() if c["status"] == "filled"}
        for key, fill in at_venues.items():
            assert fill.qty == D(children[key]["filled_qty"]), key
            assert fill.qty <= D(children[key]["qty"]), key
        assert sum((f.qty for f in at_venues.values()), D(0)) == filled, pid
    assert multi_round > 0, "partial fills should have needed more rounds"
    (letter,) = {value(m)["source_offset"]: value(m) for m in dead}.values()
    assert letter["reason"] == "invalid" and letter["source_topic"] == ROUTES.name
    assert "qty" in letter["error"] and letter["source_offset"] >= 0
    # the repeats of four parents started nothing new: one report sequence each
    for o in orders[:4]:
        versions = [value(m)["version"] for m in reports if value(m)["parent_id"] == o.parent_id]
        assert versions.count(1) >= 1 and max(versions) == final[o.parent_id]["version"]
