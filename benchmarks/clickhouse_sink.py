"""Rows per second into ClickHouse through the sink, against a raw clickhouse-connect insert.

Both legs write the same trades into the same embedded chDB (a scratch directory) in one run:

* **baseline** — the rows, already decoded, inserted with ``client.insert`` in batches of the
  sink's batch size: the floor of what writing them costs;
* **sink** — the same trades as JSON on the real ``trades`` topic, consumed by a
  :class:`~sinks.clickhouse.ClickHouseSink` (fresh group starting at the offsets captured
  before producing): decode and validate every message, batch, insert, commit.

Rate = rows of the batches after the first / (end of the last write - end of the first):
the first batch also waits for the new consumer's group join.

    python -m benchmarks.clickhouse_sink [--rows 50000]

Kafka is a private one-broker cluster of the run's own (:mod:`benchmarks.private_kafka`,
the catalogue's topics created, deleted at the end): the stack's Kafka is not touched.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from analytics.clickhouse import open_client
from analytics.migrate import migrate
from benchmarks.kafka_legs import end_offsets, produce
from benchmarks.private_kafka import private_kafka
from infra.settings import Settings, get_settings
from sinks.clickhouse import MAPPINGS, ClickHouseSink
from streams.kafka import make_consumer
from topics.catalogue import by_name
from topics.contracts import Trade

TRADES = by_name("trades")
MAPPING = next(m for m in MAPPINGS if m.topic == "trades")
T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _trades(n: int, tag: str) -> list[Trade]:
    symbols = [f"B{tag}{i}-USDT" for i in range(4)]
    return [Trade(event_id=f"{symbols[i % 4]}:{i}", ts_event=T0 + timedelta(milliseconds=i),
                  symbol=symbols[i % 4], trade_id=f"{tag}-{i}",
                  price=Decimal(90000) + Decimal(i % 1000) / 100,
                  qty=Decimal("0.001") * (1 + i % 7),
                  aggressor_side="buy" if i % 2 else "sell", maker_order_id=f"m{i}",
                  taker_order_id=f"k{i}", maker_account=f"acct-{i % 50}",
                  taker_account=f"acct-{(i + 7) % 50}", seq=i) for i in range(n)]


class _TimedSink(ClickHouseSink):
    """The sink, noting when each write ended and how many rows it wrote."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes: list[tuple[float, int, float]] = []  # (end, rows, seconds inside)

    def write(self, msgs: list[Any], consumer: Any = None) -> None:
        before, started = self.counts["rows"], time.monotonic()
        super().write(msgs, consumer)
        end = time.monotonic()
        self.writes.append((end, self.counts["rows"] - before, end - started))


def _group_at(settings: Settings) -> str:
    group = f"bench-sink-{uuid.uuid4().hex[:8]}"
    consumer = make_consumer(settings, group)
    consumer.commit(offsets=[tp for m in MAPPINGS for tp in end_offsets(settings, m.topic)],
                    asynchronous=False)
    consumer.close()
    return group


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    with private_kafka(get_settings()) as base:
        _run(base, args.rows)


def _run(base: Settings, n: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-ch-"))
    settings = base.model_copy(update={"clickhouse": base.clickhouse.model_copy(
        update={"dsn": f"chdb://{tmp}", "flush_interval_s": 0.5})})
    batch = settings.clickhouse.batch_rows
    tag = uuid.uuid4().hex[:5].upper()
    trades = _trades(n, tag)
    client = open_client(settings)
    migrate(client, "strikeflow")
    migrate(client, "bench_raw")

    rows = [MAPPING.to_row(t) for t in trades]
    t = time.perf_counter()
    for i in range(0, len(rows), batch):
        client.insert("bench_raw.trades", rows[i:i + batch], column_names=list(MAPPING.columns))
    raw_s = time.perf_counter() - t
    raw_rate = len(rows) / raw_s
    print(f"baseline  raw clickhouse-connect insert, batches of {batch}: "
          f"{len(rows)} rows in {raw_s:.2f}s = {raw_rate:,.0f} rows/s")

    group = _group_at(settings)
    sink = _TimedSink(settings, group_id=group, client=client)
    # warm-up: a few trades through the same sink and group, so one-off costs (imports,
    # first connection, group join) are not counted as throughput
    warm = _trades(200, tag + "W")
    produce(settings, TRADES.name, ((t.symbol.encode(), TRADES.encode(t), t.event_id)
                                    for t in warm))
    sink.run(idle_stop_s=2, max_seconds=40)
    before = sink.counts["rows"]
    produce(settings, TRADES.name, ((t.symbol.encode(), TRADES.encode(t), t.event_id)
                                    for t in trades))
    sink.writes.clear()
    started = time.monotonic()
    sink.run(idle_stop_s=3, max_seconds=45)
    written = sink.counts["rows"] - before
    # Steady state: the batches after the first, from the end of the first write to the end
    # of the last. The first batch also waits for the group join of the new consumer (up to
    # the broker's initial rebalance delay), which is not throughput.
    first_end, last_end = sink.writes[0][0], sink.writes[-1][0]
    steady_rows = sum(n for _, n, _ in sink.writes[1:])
    sink_s = last_end - first_end
    inside = sum(s for _, _, s in sink.writes[1:])
    stored = client.query(f"SELECT count() FROM strikeflow.trades FINAL "
                          f"WHERE match(symbol, '^B{tag}[0-9]')").result_rows[0][0]
    sink_rate = steady_rows / sink_s if sink_s > 0 else 0.0
    print(f"sink      Kafka → decode/validate/screen → chDB, batches of {batch}: {written} "
          f"rows ({stored} stored, {sink.counts['batches']} batches; first batch, with the "
          f"group join, written {first_end - started:.2f}s after the start); the "
          f"{steady_rows} rows after it in {sink_s:.2f}s ({inside:.2f}s inside write) = "
          f"{sink_rate:,.0f} rows/s "
          f"(table batches the cheap screen passed to GX: {sink.counts['gx_tables']})")
    print(f"ratio     sink / raw insert = {sink_rate / raw_rate:.3f}")
    client.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
