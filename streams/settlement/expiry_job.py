"""Run an expiry against the topics: index samples from ``md.index``, the positions as they
stood at expiry from ``positions`` (exchange options, against clearing) and the simplified
options sold by the house from ``settlement.orders`` (against ``house:options``); publish the
ledger postings, the closed positions (``accounts.activity``) and ``settlement.expiries``.

Inputs are read by record time up to the expiry, so running it again later reads the same
inputs (``positions`` keeps its history for its compaction lag) and re-emits the same ids.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from infra.settings import Settings
from streams.instruments import (
    InstrumentIdError,
    InstrumentKind,
    OptionRight,
    parse_instrument_id,
)
from streams.instruments.catalogue import OPTION_EXPIRY_TIME
from streams.kafka import make_consumer, make_producer
from streams.ledger.postings import CLEARING, HOUSE_OPTIONS
from streams.ledger.records import ledger_entries
from streams.listing import venue_catalogue
from streams.settlement.expiry import ExpiryPosition, Payout, settle_positions, twap, window
from topics.catalogue import by_name
from topics.contracts import ExpirySettled, PositionExpired

__all__ = ["ExpiryReport", "run_expiry"]


@dataclass
class ExpiryReport:
    underlying: str
    expiry: datetime
    price: Decimal
    samples: int
    payouts: list[Payout] = field(default_factory=list)
    published: int = 0

    @property
    def total(self) -> Decimal:
        return sum((p.amount for p in self.payouts), Decimal(0))


def _read(settings: Settings, topic: str, since_ms: int | None, until_ms: int
          ) -> Iterator[tuple[int, dict[str, Any]]]:
    """(record time ms, payload) of ``topic`` from ``since_ms`` (or the start) to the end."""
    consumer = make_consumer(settings, f"expiry-{uuid.uuid4().hex[:8]}",
                             **{"enable.partition.eof": True})
    try:
        parts = [TopicPartition(topic, p, since_ms if since_ms is not None else OFFSET_BEGINNING)
                 for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions]
        if since_ms is not None:
            parts = consumer.offsets_for_times(parts, timeout=10)
        ends = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts}
        start = [p for p in parts if 0 <= p.offset < ends[p.partition] or since_ms is None]
        consumer.assign(start)
        done = {p.partition for p in parts if p not in start}
        deadline = time.monotonic() + 120
        while len(done) < len(parts) and time.monotonic() < deadline:
            for msg in consumer.consume(2000, 0.5):
                if msg.error():
                    done.add(msg.partition())
                    continue
                if msg.offset() + 1 >= ends[msg.partition()]:
                    done.add(msg.partition())
                ts = msg.timestamp()[1]
                if ts <= until_ms and msg.value():
                    yield ts, orjson.loads(msg.value())
    finally:
        consumer.close()


def _exchange_positions(settings: Settings, underlying: str, expiry: datetime,
                        until_ms: int) -> list[ExpiryPosition]:
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for _, pos in _read(settings, "positions", None, until_ms):
        key = (pos["account"], pos["symbol"])
        if key not in latest or pos["seq"] >= latest[key]["seq"]:
            latest[key] = pos
    # the listing just before the expiry lists every option of it, however late this runs
    catalogue = venue_catalogue().at(expiry - timedelta(microseconds=1))
    out = []
    for (account, symbol), pos in latest.items():
        try:
            parts = parse_instrument_id(symbol)
        except InstrumentIdError:
            continue
        if (parts.kind is not InstrumentKind.OPTION or parts.base != underlying
                or parts.expiry_date is None or Decimal(pos["qty"]) == 0
                or datetime.combine(parts.expiry_date, OPTION_EXPIRY_TIME) != expiry):
            continue
        inst = catalogue.get(symbol)
        size = (inst.contract_size if inst is not None else None) or Decimal(1)
        right = "call" if parts.right is OptionRight.CALL else "put"
        out.append(ExpiryPosition(account, symbol, Decimal(pos["qty"]), parts.strike or
                                  Decimal(0), right, size, CLEARING))
    return out


def _house_options(settings: Settings, underlying: str, expiry: datetime,
                   until_ms: int) -> list[ExpiryPosition]:
    qty: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    terms: dict[str, tuple[Decimal, str, Decimal]] = {}
    seen: set[str] = set()
    for _, order in _read(settings, "settlement.orders", None, until_ms):
        if (order["status"] != "open" or order["underlying"] != underlying
                or datetime.fromisoformat(order["expiry"]) != expiry
                or order["order_id"] in seen):
            continue
        seen.add(order["order_id"])
        qty[(order["account"], order["product"])] += Decimal(order["contracts"])
        terms[order["product"]] = (Decimal(order["strike"]), order["option_type"],
                                   Decimal(order["contract_size"]))
    return [ExpiryPosition(account, product, q, *terms[product], HOUSE_OPTIONS)
            for (account, product), q in qty.items()]


def run_expiry(settings: Settings, underlying: str, expiry: datetime, *,
               publish: bool = True, now: Callable[[], datetime] | None = None
               ) -> ExpiryReport:
    """Settle ``underlying``'s options expiring at ``expiry``; ``publish=False`` previews."""
    if expiry.tzinfo is None:
        raise ValueError("expiry must be timezone-aware (UTC)")
    current = (now or (lambda: datetime.now(UTC)))()
    if publish and expiry > current:
        raise ValueError(f"{expiry.isoformat()} has not come yet: preview it instead")
    start, end = window(expiry, settings.settlement.twap_window_s)
    until_ms = int(expiry.timestamp() * 1000)
    since_ms = int((start - timedelta(minutes=10)).timestamp() * 1000)
    samples = [(datetime.fromisoformat(p["ts_event"]), Decimal(p["price"]))
               for _, p in _read(settings, "md.index", since_ms, until_ms)
               if p["underlying"] == underlying]
    price, used = twap(samples, start, end)
    positions = (_exchange_positions(settings, underlying, expiry, until_ms)
                 + _house_options(settings, underlying, expiry, until_ms))
    report = ExpiryReport(underlying, expiry, price, used,
                          settle_positions(underlying, expiry, price, positions))
    if publish:
        report.published = _publish(settings, report, start)
    return report


def _publish(settings: Settings, report: ExpiryReport, window_start: datetime) -> int:
    producer = make_producer(settings)
    sent = 0

    def send(topic: str, key: str, record: Any) -> None:
        nonlocal sent
        producer.produce(topic, key=key.encode(), value=by_name(topic).encode(record))
        sent += 1

    ts = report.expiry
    for payout in report.payouts:
        pos = payout.position
        for entry in ledger_entries(payout.posting, ts, f"expiry:{report.underlying}"):
            send("ledger", entry.account, entry)
        if pos.counterparty == CLEARING:  # exchange positions live in the risk agent
            send("accounts.activity", pos.account, PositionExpired(
                event_id=payout.posting.posting_id, ts_event=ts, account=pos.account,
                symbol=pos.symbol, qty=pos.qty, settlement_price=report.price,
                payout=payout.amount))
    label = report.expiry.strftime("%Y%m%dT%H%MZ")
    to_accounts = sum((p.amount for p in report.payouts if p.amount > 0), Decimal(0))
    send("settlement.expiries", report.underlying, ExpirySettled(
        event_id=f"expiry:{report.underlying}:{label}", ts_event=ts,
        underlying=report.underlying, expiry=report.expiry, settlement_price=report.price,
        twap_window_start=window_start, samples=report.samples,
        positions=len(report.payouts), total_payout=report.total,
        payout_to_accounts=to_accounts))
    producer.flush(30)
    return sent
