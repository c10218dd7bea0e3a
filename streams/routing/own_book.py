"""StrikeFlow's own book as a routing venue: a child is a real immediate-or-cancel order.

A child routed to :data:`~streams.routing.venues.OWN_VENUE` becomes a ``SubmitOrder``
(limit, ``IOC``) for the parent's account on ``orders.requests`` (keyed by account, as the
gateway sends), so it goes through pre-trade risk and the matching engine like a trader's
order: a trade on ``trades``, fills on ``orders.events``, booked in the ledger. Its limit is
the worst level of our book the split counted on (never beyond the parent's limit), so the
child cannot trade at a price the parent did not accept.

**Idempotency.** The child key ``<parent>:<round>:strikeflow`` is the client order id and the
command id is ``route:<key>``. Risk remembers its decisions by command id and answers a
repeat with the same decision: a rejection is published again (same event id), an accepted
order is forwarded again and matching *ignores* a command id it has seen, publishing nothing.
So a re-send (a worker killed after sending, a call that timed out) never trades twice, but
its outcome may come only from the first send. That is why the adapter reads the outcome
back from ``orders.events`` instead of waiting for an answer to this call: a background
consumer (``read_committed``, every partition, from ``own_book_lookback_s`` ago, as
:mod:`streams.routing.books` reads ``md.book``) indexes the events of our children by
client order id; a call first waits until that reader has caught up with the topic, answers
from what it knows if the child is already final, and only then (re-)publishes the same
command and waits, bounded, for the final event.

**Outcome** (:func:`assemble`, pure): ``filled`` (nothing left) or ``cancelled``/``expired``
(the IOC remainder) closes the child with the sum of its fills — quantity, exact average
price, and the fee booking charges for each fill (:data:`streams.ledger.booking.FEES`; the
events carry none) — possibly a fill of 0; a ``rejected`` with no fill is a
:class:`OwnBookRejected` (a :class:`VenueError`: the child failed, its quantity goes to the
next round) carrying the risk (5xxx) or matching (1xxx) code. A duplicate-client-order-id
rejection is never taken as final: it can only answer a re-send whose first send may have
traded, so the child stays pending (logged) rather than guessing. No final answer within the
timeout raises :class:`TimeoutError`: the agent keeps the child pending and re-sends it.

Blocking (Kafka produce and waits): the agent calls it off the event loop, from threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import structlog
from confluent_kafka import Consumer, Producer, TopicPartition

from infra.settings import Settings
from streams.kafka import make_consumer, make_producer
from streams.ledger.booking import FEES
from streams.ledger.fees import FeeSchedule, to_usdt
from streams.matching.codes import Code
from streams.risk.codes import RiskCode
from streams.routing.venues import OWN_VENUE
from streams.settlement.venue import Book, VenueError, VenueFill
from topics.catalogue import by_name
from topics.contracts import SubmitOrder

__all__ = ["COMMAND_PREFIX", "OwnBookRejected", "OwnBookVenue", "assemble", "command_id",
           "ioc_order", "protective_price"]

log = structlog.get_logger(__name__)

REQUESTS = by_name("orders.requests")
EVENTS = by_name("orders.events")
#: command ids of routing's children on our book: ``route:<child key>``
COMMAND_PREFIX = "route:"
_NEEDLE = b'"' + COMMAND_PREFIX.encode()  # cheap pre-filter before decoding an event
_FILLS = frozenset({"partially_filled", "filled"})
_ENDED = frozenset({"cancelled", "expired"})
#: rejections that answer a repeat, not the order: the first send may have traded
_DUPLICATES = frozenset({int(Code.DUPLICATE_CLIENT_ORDER_ID),
                         int(RiskCode.DUPLICATE_CLIENT_ORDER_ID)})
_PRICE_PLACES = Decimal("1e-18")  # the finest price the contracts carry


class OwnBookRejected(VenueError):
    """Risk or matching refused the child (nothing was created): ``code`` is theirs."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"{code} {reason}" if code is not None else reason)
        self.code = code


def command_id(key: str) -> str:
    return f"{COMMAND_PREFIX}{key}"


def ioc_order(key: str, *, account: str, symbol: str, side: str, qty: Decimal,
              limit_price: Decimal, ts_sent: datetime) -> SubmitOrder:
    """The child as the order contract: a limit IOC, client order id = the child key."""
    return SubmitOrder(command_id=command_id(key), ts_sent=ts_sent, account=account,
                       symbol=symbol, client_order_id=key,
                       side=side,  # type: ignore[arg-type]
                       order_type="limit", qty=qty, price=limit_price, time_in_force="IOC")


def protective_price(book: Book, side: str, qty: Decimal) -> Decimal | None:
    """The worst level an order of ``qty`` takes on ``book`` (the last one if the book is
    thinner): the limit of a child recorded without one. None for an empty side."""
    bids, asks = book
    levels = asks if side == "buy" else bids
    left, last = qty, None
    for price, size in levels:
        last = price
        left -= size
        if left <= 0:
            break
    return last


def assemble(key: str, symbol: str, side: str, events: Iterable[Mapping[str, Any]], *,
             reference_price: Decimal | None = None, fees: FeeSchedule = FEES
             ) -> VenueFill | OwnBookRejected | None:
    """The final outcome of child ``key`` from its ``orders.events`` records (any order,
    repeats allowed), or None while it is not final.

    Fills are counted once per trade id; the average is exact (on the 18-decimal grid of
    the contracts) and the fee is what booking charges each fill (spot: contract size 1).
    """
    seen: set[str] = set()
    fills: dict[str, tuple[Decimal, Decimal, bool]] = {}
    ended = False
    rejection: Mapping[str, Any] | None = None
    for e in events:
        event_id = str(e.get("event_id"))
        if event_id in seen or e.get("client_order_id") != key:
            continue
        seen.add(event_id)
        kind = e.get("kind")
        if kind in _FILLS and e.get("trade_id") and e.get("qty") and e.get("price"):
            fills[str(e["trade_id"])] = (Decimal(e["qty"]), Decimal(e["price"]),
                                        bool(e.get("is_maker")))
            if kind == "filled":
                ended = True
        elif kind in _ENDED:
            ended = True
        elif kind == "rejected":
            code = e.get("reason_code")
            if code is not None and int(code) in _DUPLICATES:
                log.error("own book: duplicate refused for a child; left pending", key=key,
                          code=code)
                continue
            rejection = e
    if ended:
        qty = sum((q for q, _, _ in fills.values()), Decimal(0))
        notional = sum((q * p for q, p, _ in fills.values()), Decimal(0))
        fee = sum((fees.fee(to_usdt(q * p), option=False, maker=maker)
                   for q, p, maker in fills.values()), Decimal(0))
        avg = notional / qty if qty else Decimal(0)
        if avg.as_tuple().exponent < _PRICE_PLACES.as_tuple().exponent:  # type: ignore[operator]
            avg = avg.quantize(_PRICE_PLACES)  # a non-terminating average (rare): 1e-18
        ref = reference_price if reference_price is not None else avg
        return VenueFill(OWN_VENUE, key, symbol, side, qty, avg, ref, fee)
    if rejection is not None and not fills:
        code = rejection.get("reason_code")
        return OwnBookRejected(None if code is None else int(code),
                               str(rejection.get("reason") or "rejected"))
    return None


class OwnBookVenue:
    """A :class:`~streams.settlement.venue.VenueAdapter` that sends children into our own
    matching engine (through risk) and reads their outcome back from ``orders.events``."""

    def __init__(self, settings: Settings, book: Callable[[str], Book | None], *,
                 name: str = OWN_VENUE, timeout_s: float = 5.0, lookback_s: float = 21600.0,
                 group: str | None = None, producer: Producer | None = None) -> None:
        self.name = name
        self.settings = settings
        self.book = book
        self.timeout_s = timeout_s
        self.lookback_s = lookback_s
        self.group = group or f"{settings.worker.app_id}-routing-own-book"
        self._producer = producer
        self._events: dict[str, dict[str, Mapping[str, Any]]] = {}  # key -> event id -> record
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed: BaseException | None = None
        self.ready = threading.Event()

    # -- the reader -------------------------------------------------------------------------
    def start(self) -> OwnBookVenue:
        """Start (or restart, after a failure) the background reader of orders.events."""
        if self._stop.is_set():
            return self
        if self._thread is None or not self._thread.is_alive():
            self._failed = None
            self.ready.clear()
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f"routing-{self.name}-events")
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _assign(self, consumer: Consumer) -> list[TopicPartition]:
        meta = consumer.list_topics(EVENTS.name, timeout=10).topics[EVENTS.name]
        since_ms = int((time.time() - self.lookback_s) * 1000)
        wanted = [TopicPartition(EVENTS.name, p, since_ms) for p in meta.partitions]
        starts = consumer.offsets_for_times(wanted, timeout=10)
        parts = []
        for tp in starts:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(EVENTS.name, tp.partition), timeout=10)
            parts.append(TopicPartition(EVENTS.name, tp.partition,
                                        high if tp.offset < 0 else max(low, tp.offset)))
        return parts

    def _run(self) -> None:
        conf: dict[str, Any] = {"enable.partition.eof": True,
                                "isolation.level": "read_committed", "fetch.wait.max.ms": 10}
        consumer = make_consumer(self.settings, self.group, **conf)
        try:
            parts = self._assign(consumer)
            consumer.assign(parts)
            ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=10)[1]
                    for tp in parts}
            behind = {tp.partition for tp in parts if tp.offset < ends[tp.partition]}
            if not behind:
                self.ready.set()
            while not self._stop.is_set():
                batch = consumer.consume(1000, 0.05)
                records = []
                for msg in batch:
                    partition, offset = msg.partition() or 0, msg.offset() or 0
                    if msg.error():  # end of a partition (or a transient error)
                        behind.discard(partition)
                        continue
                    if offset + 1 >= ends.get(partition, 0):
                        behind.discard(partition)
                    raw = msg.value()
                    if raw and _NEEDLE in raw:
                        records.append(raw)
                if records:
                    self._apply(records)
                if not behind and not self.ready.is_set():
                    self.ready.set()
        except Exception as exc:  # the calls raise (no answer) and the children stay pending
            self._failed = exc
            log.exception("own book: orders.events reader stopped")
        finally:
            consumer.close()
            with self._cond:
                self._cond.notify_all()

    def _apply(self, raws: list[bytes]) -> None:
        with self._cond:
            for raw in raws:
                try:
                    e = orjson.loads(raw)
                    if not str(e.get("causation_id") or "").startswith(COMMAND_PREFIX):
                        continue
                    key = e.get("client_order_id")
                    if key and e.get("causation_id") == command_id(key):
                        self._events.setdefault(key, {})[str(e["event_id"])] = e
                except (orjson.JSONDecodeError, TypeError, AttributeError, KeyError):
                    continue  # matching and risk validate what they publish
            self._cond.notify_all()

    # -- VenueAdapter -----------------------------------------------------------------------
    def _outcome(self, key: str, symbol: str, side: str, account: str | None,
                 reference: Decimal | None) -> VenueFill | OwnBookRejected | None:
        events = list(self._events.get(key, {}).values())
        if account is not None:
            events = [e for e in events if e.get("account") == account]
        return assemble(key, symbol, side, events, reference_price=reference)

    def find_order(self, client_order_id: str) -> VenueFill | None:
        """The child's fill once final (None: unknown, not final, or refused)."""
        with self._cond:
            events = list(self._events.get(client_order_id, {}).values())
        first = next(iter(events), None)
        if first is None:
            return None
        symbol = str(first.get("symbol"))
        book = self.book(symbol)
        found = assemble(client_order_id, symbol, str(first.get("side")), events,
                         reference_price=_mid(book) if book is not None else None)
        return found if isinstance(found, VenueFill) else None

    def place_market_order(self, *, client_order_id: str, symbol: str, side: str,
                           qty: Decimal, account: str | None = None,
                           limit_price: Decimal | None = None) -> VenueFill:
        """Send the child as an IOC on our book (or find it sent) and return its fill.

        Raises :class:`OwnBookRejected` if risk or matching refused it, :class:`VenueError`
        if it cannot be sent at all (no account, no book to price it), and
        :class:`TimeoutError` while its final outcome is not known (re-send it later).
        """
        if account is None:
            raise VenueError(f"{self.name}: a child on our own book needs the parent's account")
        self.start()
        deadline = time.monotonic() + self.timeout_s
        if not self.ready.wait(self.timeout_s):
            raise TimeoutError(f"{self.name}: orders.events not read to its end yet")
        book = self.book(symbol)
        reference = _mid(book) if book is not None else None
        with self._cond:
            known = self._outcome(client_order_id, symbol, side, account, reference)
        if known is not None:
            return _answer(known)  # sent before (maybe by a worker since killed)
        if limit_price is None:
            limit_price = protective_price(book, side, qty) if book is not None else None
            if limit_price is None:
                raise VenueError(f"{self.name} has no {symbol} book to price the order")
        order = ioc_order(client_order_id, account=account, symbol=symbol, side=side, qty=qty,
                          limit_price=limit_price, ts_sent=datetime.now(UTC))
        self._publish(order)
        with self._cond:
            while True:
                found = self._outcome(client_order_id, symbol, side, account, reference)
                if found is not None:
                    return _answer(found)
                left = deadline - time.monotonic()
                if left <= 0 or self._failed is not None:
                    raise TimeoutError(f"{self.name}: no final answer for {client_order_id} "
                                       f"within {self.timeout_s} s")
                self._cond.wait(left)

    def _publish(self, order: SubmitOrder) -> None:
        """On ``orders.requests`` keyed by account (as the gateway sends); raises unless
        Kafka acknowledged it (the caller then treats the child as not answered)."""
        with self._cond:
            if self._producer is None:
                conf: dict[str, Any] = {"linger.ms": 1}
                self._producer = make_producer(self.settings, **conf)
            producer = self._producer
        errors: list[Any] = []
        delivered = threading.Event()

        def on_delivery(err: Any, _msg: Any) -> None:  # served by whichever thread flushes
            errors.append(err)
            delivered.set()

        producer.produce(REQUESTS.name, key=order.account.encode(),
                         value=REQUESTS.encode(order), on_delivery=on_delivery)
        producer.flush(self.timeout_s)
        if not delivered.wait(1.0):
            raise TimeoutError(f"orders.requests did not take {order.client_order_id}")
        if errors[0] is not None:
            raise RuntimeError(f"orders.requests refused {order.client_order_id}: {errors[0]}")


def _mid(book: Book) -> Decimal | None:
    bids, asks = book
    tops = [levels[0][0] for levels in (bids, asks) if levels]
    return sum(tops, Decimal(0)) / len(tops) if tops else None


def _answer(outcome: VenueFill | OwnBookRejected) -> VenueFill:
    if isinstance(outcome, OwnBookRejected):
        raise outcome
    return outcome
