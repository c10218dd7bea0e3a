"""Smart order routing as a Faust agent: ``routing.orders`` (keyed by parent id) → children at
the venues through :class:`~streams.settlement.venue.VenueAdapter` → ``routing.reports``.

One record per parent in the RocksDB table ``routing-parents``
(:class:`~streams.routing.working.WorkingParent`). The order of writes is what makes a crash
harmless: a round's children are recorded *placed* and the record is flushed to its changelog
**before** any child is sent, under keys ``<parent>:<round>:<venue>`` that are the venues'
client order ids; after a restart the timer finds the parent unfinished, re-sends its pending
children with the same keys and quantities, and each venue answers a key it has seen with the
original fill. Nothing trades twice, nothing is forgotten.

A timer runs the next round of every working parent every ``routing.round_every_s``: the
unfilled remainder is split again against the books of that moment (they move; children fill
partly), until filled or ``max_rounds`` are used. Venue calls block (SQLite, a simulated round
trip, a real exchange's HTTP) and run off the event loop, all children of a step at once.

The external venues are :class:`~streams.routing.venues.RoutingVenue` (simulated, one
SQLite file each under ``<data dir>/venue/routing/``), each filling against its own
``md.book`` ladder. StrikeFlow's own book ("strikeflow") is real:
:class:`~streams.routing.own_book.OwnBookVenue` sends the child as an immediate-or-cancel
limit order for the parent's account on ``orders.requests`` (through risk and matching, so it
trades, is booked and shows on ``trades``) and reads its outcome back from ``orders.events``;
risk's remembered decisions and matching's ignoring a repeated command id make the re-send
after a crash harmless, the same as a venue answering a client order id it has seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import mode
import structlog

from infra.settings import get_settings
from streams.app import app, state_table
from streams.batching import as_current, as_partition
from streams.changelog import flush_changelogs
from streams.inbox import Inbox, venue_time_ns
from streams.routing.books import VenueBooks
from streams.routing.own_book import OwnBookVenue
from streams.routing.parent import ChildOrder
from streams.routing.split import RoutingError, consolidated_mid
from streams.routing.venues import OWN_VENUE, RoutingVenue
from streams.routing.working import Answer, WorkingParent, apply_answer, rejected_report
from streams.settlement.venue import Book, VenueAdapter, VenueError
from topics.catalogue import by_name
from topics.contracts.routing import ParentOrderReport, RouteOrder

__all__ = ["next_rounds", "route_orders", "routing_table"]

log = structlog.get_logger(__name__)

ROUTES = by_name("routing.orders")
REPORTS = by_name("routing.reports")
BATCH_SIZE = 200
BOOKS_WAIT_S = 30.0  # at most this long for the book reader to catch up after a start

_settings = get_settings()
_conf = _settings.routing
FEES = {name: v.fee_rate for name, v in _conf.venues.items()}
LOTS = {name: v.lot_size for name, v in _conf.venues.items()}

orders_topic = app.topic(ROUTES.name, key_serializer="raw", value_serializer="raw")
routing_table = state_table("routing-parents", ROUTES.partitions)
books = VenueBooks(_settings, f"{_settings.worker.app_id}-routing", _conf.venues)
inbox = Inbox([ROUTES.name], name="routing")
inbox.connect(app)
#: parents not finished yet (rebuilt from the table by the timer's first run)
working: dict[str, WorkingParent] = {}
_scanned = False
#: one step at a time: the agent and the timer must not work one parent concurrently
_busy = asyncio.Lock()
_venues: dict[str, VenueAdapter] | None = None


def _book_reader(venue: str) -> Callable[[str], Book | None]:
    return lambda symbol: books.venue_book(symbol, venue)


def venues() -> dict[str, VenueAdapter]:
    """The venue adapters, made in the worker (not at import): our own book through risk
    and matching, the external ones simulated (one SQLite file each)."""
    global _venues
    if _venues is None:
        root = _settings.data_dir / "venue" / "routing"
        _venues = {
            name: OwnBookVenue(_settings, _book_reader(name), name=name,
                               timeout_s=_conf.own_book_timeout_s,
                               lookback_s=_conf.own_book_lookback_s)
            if name == OWN_VENUE else
            RoutingVenue(root / f"{name}.sqlite", _book_reader(name), name=name,
                         fee_rate=v.fee_rate, lot_size=v.lot_size,
                         latency_s=v.latency_ms / 1000, fill_ratio=v.fill_ratio)
            for name, v in _conf.venues.items()}
    return _venues


@app.task
async def _start_books() -> None:
    books.start()
    for venue in venues().values():
        if isinstance(venue, OwnBookVenue):
            venue.start()  # read orders.events back before the first child needs it


def _publish(w: WorkingParent, ts: datetime) -> None:
    report: ParentOrderReport = w.report(ts)
    inbox.output.send(REPORTS.name, w.parent_id.encode(), REPORTS.encode(report))


def _store(w: WorkingParent) -> None:
    with as_partition(ROUTES.name, w.partition):
        routing_table[w.parent_id.encode()] = w.to_record()
    if w.parent.is_terminal:
        working.pop(w.parent_id, None)
    else:
        working[w.parent_id] = w


async def _place(w: WorkingParent, child: ChildOrder) -> Answer | None:
    """The venue's answer, or None when there is none yet (the child stays pending and is
    re-sent with the same key at the next step)."""
    venue = venues().get(child.venue)
    if venue is None:
        log.error("child for a venue not configured", key=child.key, venue=child.venue)
        return None
    # our own book takes a real order: for the parent's account, limited to the worst level
    # the split counted on
    extra: dict[str, Any] = ({"account": w.account, "limit_price": child.limit_price}
                             if isinstance(venue, OwnBookVenue) else {})
    try:
        return await asyncio.to_thread(venue.place_market_order, client_order_id=child.key,
                                       symbol=child.symbol, side=child.side, qty=child.qty,
                                       **extra)
    except VenueError as exc:
        return exc
    except Exception as exc:  # a timeout, a broken connection: maybe taken, so not failed
        log.warning("no answer from the venue; re-sent later", key=child.key, error=repr(exc))
        return None


async def _work(parents: list[WorkingParent]) -> None:
    """Send every pending child of ``parents`` (all at once), record the answers, publish a
    report and store each parent that changed. Their records must be durable already."""
    pending = [(w, c) for w in parents for c in w.parent.pending_children()]
    if not pending:
        return
    answers = await asyncio.gather(*(_place(w, c) for w, c in pending))
    changed: dict[str, WorkingParent] = {}
    for (w, child), answer in zip(pending, answers, strict=True):
        if answer is None:
            continue
        try:
            if apply_answer(w.parent, child.key, answer):
                changed[w.parent_id] = w
        except RoutingError as exc:  # the venue and our record disagree: never guess
            log.error("venue answer refused; child left pending", key=child.key,
                      error=str(exc))
    now = datetime.now(UTC)  # the agent's own clock: no message caused this step
    for w in changed.values():
        _publish(w, now)
        _store(w)


async def _start(event: Any, seen: set[str]) -> WorkingParent | None:
    """A new parent from a RouteOrder: arrival price, first round recorded, report queued."""
    order: RouteOrder | None = await inbox.decode(event, key_of=lambda o: o.parent_id)
    if order is None or order.parent_id in seen or order.parent_id in working:
        return None
    seen.add(order.parent_id)
    key = order.parent_id.encode()
    with as_current(event):
        if routing_table.get(key) is not None:
            return None  # a repeat (or a replay after a crash): the parent exists
    ts = datetime.fromtimestamp(venue_time_ns(event.message) / 1e9, UTC)
    market = {v: b for v, b in books.books(order.symbol).items() if v in FEES}
    arrival = consolidated_mid(market)
    if arrival is None:
        reason = f"no two-sided book for {order.symbol} at any routing venue"
        inbox.output.send(REPORTS.name, key, REPORTS.encode(rejected_report(order, reason, ts)))
        with as_current(event):
            routing_table[key] = {"rejected": reason}
        return None
    w = WorkingParent.start(order, arrival, event.message.partition)
    try:
        w.parent.route(market, FEES, LOTS)
    except RoutingError as exc:  # a book we cannot use now: the timer tries the next round
        log.warning("first round not routed", parent=order.parent_id, error=str(exc))
    _publish(w, ts)
    with as_current(event):
        routing_table[key] = w.to_record()
    if w.parent.is_terminal:  # nothing to route at all within max_rounds
        return None
    working[w.parent_id] = w
    return w


async def _books_ready() -> bool:
    """Whether the book reader has caught up with md.book: before that, a missing book
    means "not read yet", not "no market" (a restarted worker would reject good parents
    and route rounds against nothing)."""
    if not books.ready.is_set():
        await asyncio.to_thread(books.ready.wait, BOOKS_WAIT_S)
    return books.ready.is_set()


@app.agent(orders_topic, supervisor_strategy=mode.CrashingSupervisor)
async def route_orders(stream: Any) -> None:
    async for batch in inbox.batches(stream, BATCH_SIZE):
        if not await _books_ready():
            log.warning("md.book not read to its end yet; routing on what is known")
        async with _busy:
            started: list[WorkingParent] = []
            seen: set[str] = set()
            for event in batch:
                async with inbox.guard(event):
                    w = await _start(event, seen)
                    if w is not None:
                        started.append(w)
            if started:
                await flush_changelogs(app)  # the placed children are durable before sent
                await _work(started)
        # inbox.batches flushes the table changelog, then reports and dead letters


def _scan() -> None:
    """After a (re)start: every parent of this worker's partitions not finished."""
    for value in routing_table.values():
        if value is None or "rejected" in value:
            continue
        w = WorkingParent.from_record(value)
        if not w.parent.is_terminal:
            working.setdefault(w.parent_id, w)
    if working:
        log.info("resuming routed parents", parents=len(working),
                 pending=sum(len(w.parent.pending_children()) for w in working.values()))


@app.timer(interval=_conf.round_every_s)
async def next_rounds() -> None:
    """The next round of every working parent against the books of now; after a restart,
    first the re-send of the children recorded but never answered (same keys)."""
    global _scanned
    if not books.ready.is_set():
        return  # rounds wait for the books (see _books_ready)
    async with _busy:
        if not _scanned:
            _scanned = True
            _scan()
        if not working:
            return
        now = datetime.now(UTC)
        step: list[WorkingParent] = []
        for w in list(working.values()):
            if w.parent.pending_children():
                step.append(w)  # resumed after a crash, or a venue that did not answer
                continue
            market = {v: b for v, b in books.books(w.parent.symbol).items() if v in FEES}
            before = (w.parent.status, w.parent.round)
            try:
                w.parent.route(market, FEES, LOTS)
            except RoutingError as exc:
                log.warning("round not routed", parent=w.parent_id, error=str(exc))
                continue
            if (w.parent.status, w.parent.round) != before:
                _publish(w, now)
                _store(w)
                step.append(w)
        await flush_changelogs(app)  # the new rounds' records before their children
        await _work(step)
        await inbox.flush()
