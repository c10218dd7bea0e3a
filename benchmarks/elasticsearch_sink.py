"""Documents/s into Elasticsearch through the sink, against raw ``helpers.bulk`` in the same run.

Both legs write the same documents (the sink's own actions: order upserts through the stored
script, audit, notifications, trades) into indices of their own, on the same cluster:

* **baseline** — elasticsearch-py ``helpers.bulk`` of the pre-built actions (chunks of 1000):
  the floor of what writing these documents costs here;
* **sink** — :class:`~sinks.search_index.sink.ElasticsearchSink` reading the same events from a
  Kafka backlog: consume, validate against the contracts, build, bulk, commit.

Throughput is documents written / time from the sink's first bulk to the end of its last
(group join excluded); the baseline is documents / ``helpers.bulk`` wall time, run before and
after the sink, the better of the two counting.

    python -m benchmarks.elasticsearch_sink [--orders 1500]

Kafka is a private one-broker cluster of the run's own (:mod:`benchmarks.private_kafka`,
deleted at the end); Elasticsearch is the stack's (``strikeflow infra up``), written under
index prefixes of the run's own, deleted at the end.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from elasticsearch import helpers

from benchmarks.kafka_legs import produce
from benchmarks.private_kafka import private_kafka
from infra.settings import Settings, get_settings
from sinks.search_index.documents import actions_for
from sinks.search_index.indices import KINDS, IndexNames, ensure_indices, open_client
from sinks.search_index.sink import ElasticsearchSink
from topics.catalogue import by_name
from topics.contracts import OrderEvent, Trade

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _events(orders: int) -> list[tuple[str, Any]]:
    """Per order: accepted, a partial fill, the fill (3 order events) and two trades."""
    out: list[tuple[str, Any]] = []
    seqs = {"BTC-USDT": 0, "ETH-USDT": 0}
    for i in range(orders):
        symbol = "BTC-USDT" if i % 2 else "ETH-USDT"
        s = seqs[symbol]
        seqs[symbol] = s + 5
        oid, account = f"{symbol}#{i}", f"acc-{i % 50}"
        common = {"symbol": symbol, "account": account, "order_id": oid,
                  "client_order_id": f"c-{i}", "side": "buy"}
        ts = T0 + timedelta(milliseconds=i)
        out.append(("orders.events", OrderEvent(
            event_id=f"{symbol}:{s}", ts_event=ts, seq=s, kind="accepted", order_type="limit",
            time_in_force="GTC", price=Decimal("1000.5"), qty=Decimal("2"), **common)))
        for n, (kind, leaves) in enumerate((("partially_filled", "1"), ("filled", "0"))):
            trade_seq = s + 1 + 2 * n
            out.append(("trades", Trade(
                event_id=f"{symbol}:{trade_seq}", ts_event=ts, symbol=symbol,
                trade_id=f"{symbol}:{trade_seq}", price=Decimal("1000.5"), qty=Decimal("1"),
                aggressor_side="sell", maker_order_id=oid, taker_order_id=f"{symbol}#t{i}",
                maker_account=account, taker_account="acc-taker", seq=trade_seq)))
            out.append(("orders.events", OrderEvent(
                event_id=f"{symbol}:{trade_seq + 1}", ts_event=ts, seq=trade_seq + 1,
                kind=kind, price=Decimal("1000.5"), qty=Decimal("1"),
                leaves_qty=Decimal(leaves), trade_id=f"{symbol}:{trade_seq}", is_maker=True,
                **common)))
    return out


def _with_prefix(settings: Settings, prefix: str) -> Settings:
    es = settings.elasticsearch.model_copy(update={"index_prefix": prefix,
                                                   "batch_messages": 5000})
    return settings.model_copy(update={"elasticsearch": es})


def _drop(client: Any, names: IndexNames) -> None:
    client.indices.delete(index=f"{names.prefix}*", ignore=[404])
    for kind in KINDS:
        client.indices.delete_index_template(name=names[kind], ignore=[404])
    client.delete_script(id=names.order_script, ignore=[404])


def _drop_all(settings: Settings, tag: str) -> None:
    """Whatever a leg left behind under this run's prefixes (a leg that failed midway)."""
    client = open_client(settings)
    for leg in ("warm", "raw1", "sink", "raw2"):
        _drop(client, IndexNames.of(_with_prefix(settings, f"bench-{leg}-{tag}-")))
    client.close()


def _baseline(settings: Settings, events: list[tuple[str, Any]]) -> tuple[int, float]:
    names = IndexNames.of(settings)
    client = open_client(settings)
    ensure_indices(client, names)
    actions = [a | {"_index": names[kind]} for topic, ev in events
               for kind, a in actions_for(topic, ev, names.order_script)]
    t0 = time.monotonic()
    ok, errors = helpers.bulk(client, actions, chunk_size=1000, stats_only=True)
    elapsed = time.monotonic() - t0
    if errors:
        raise RuntimeError(f"baseline: {errors} documents failed")
    _drop(client, names)
    client.close()
    return ok, elapsed


class _TimedSink(ElasticsearchSink):
    """The sink, noting when its first bulk started and its last one ended."""

    first: float | None = None
    last: float = 0.0
    busy: float = 0.0  # time inside write (the rest is consuming and waiting)

    def write(self, msgs: Any, consumer: Any = None) -> None:
        started = time.monotonic()
        self.first = self.first or started
        super().write(msgs, consumer)
        self.last = time.monotonic()
        self.busy += self.last - started


def _sink_leg(settings: Settings, topics: dict[str, str], messages: int) -> tuple[int, float]:
    sink = _TimedSink(settings, sources={t: c for c, t in topics.items()},
                      group_id=f"bench-es-{uuid.uuid4().hex[:6]}")
    sink.prepare()
    runner = threading.Thread(target=sink.run, kwargs={"max_seconds": 120})
    runner.start()
    deadline = time.monotonic() + 120
    while sink.counts["messages"] < messages and time.monotonic() < deadline:
        time.sleep(0.05)
    sink.stop_event.set()
    runner.join(30)
    if sink.counts["messages"] < messages or sink.first is None:
        raise RuntimeError(f"sink wrote {sink.counts} of {messages} messages")
    _drop(sink.client, sink.names)
    sink.client.close()
    span = sink.last - sink.first
    print(f"sink leg: {sink.counts['batches']} batches, {sink.busy:.2f}s of {span:.2f}s "
          f"inside write (the rest: consuming)")
    return sink.counts["written"], span


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1500)
    args = parser.parse_args()
    with private_kafka(get_settings()) as settings:
        _run(settings, args.orders)


def _run(settings: Settings, orders: int) -> None:
    tag = uuid.uuid4().hex[:6]
    events = _events(orders)
    topics = {c: c for c in ("orders.events", "trades")}  # the private broker's own topics
    try:
        for contract, topic in topics.items():
            spec = by_name(contract)
            produce(settings, topic, ((ev.symbol.encode(), spec.encode(ev), ev.event_id)
                                      for c, ev in events if c == contract))
        _baseline(_with_prefix(settings, f"bench-warm-{tag}-"), events[:3000])  # JIT warm-up
        # The baseline before and after the sink: on a shared machine the better of the two
        # is the fairer floor (and the ratio the more conservative).
        raw = [_baseline(_with_prefix(settings, f"bench-raw1-{tag}-"), events)]
        sink_docs, sink_s = _sink_leg(_with_prefix(settings, f"bench-sink-{tag}-"), topics,
                                      len(events))
        raw.append(_baseline(_with_prefix(settings, f"bench-raw2-{tag}-"), events))
    finally:
        _drop_all(settings, tag)
    raw_rates = [docs / secs for docs, secs in raw]
    sink_rate = sink_docs / sink_s
    print(f"{len(events)} events ({orders} orders) → {raw[0][0]} documents each leg")
    print("baseline helpers.bulk: " + " / ".join(f"{r:,.0f}" for r in raw_rates)
          + " docs/s (before / after the sink)")
    print(f"sink Kafka→ES:         {sink_rate:,.0f} docs/s ({sink_s:.2f}s, "
          f"{sink_docs} written)")
    print(f"ratio sink/baseline:   {sink_rate / max(raw_rates):.2f}")


if __name__ == "__main__":
    main()
