"""md.ticks → candle agent → md.candles, through the real Kafka and a real worker."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from infra.settings import Settings
from streams.kafka import make_producer
from topics.catalogue import by_name
from topics.contracts import Tick

from .streams_support import collect, running_worker, value

pytestmark = pytest.mark.kafka

TICKS = by_name("md.ticks")


def _symbol() -> str:
    return f"T{uuid.uuid4().hex[:6].upper()}-USDT"


def _ticks(symbol: str, start: datetime, n: int, seed: int) -> list[Tick]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        venue = ("binance", "okx")[i % 2]
        out.append(Tick(event_id=f"{venue}:{symbol}:{i}", ts_event=start + timedelta(seconds=i),
                        venue=venue, symbol=symbol, trade_id=i,
                        price=Decimal(rng.randint(900, 1100)),
                        qty=Decimal(rng.randint(1, 50)) / 10, side="buy"))
    return out


def _expected(ticks: list[Tick]) -> dict[str, dict[str, Any]]:
    windows: dict[datetime, list[Tick]] = {}
    for t in ticks:
        windows.setdefault(t.ts_event.replace(second=0, microsecond=0), []).append(t)
    out = {}
    for start, ts in windows.items():
        volume = sum(t.qty for t in ts)
        notional = sum(t.price * t.qty for t in ts)
        out[f"{ts[0].symbol}:1m:{start.isoformat().replace('+00:00', 'Z')}"] = {
            "open": ts[0].price, "high": max(t.price for t in ts), "low": min(t.price for t in ts),
            "close": ts[-1].price, "volume": volume, "notional": notional, "trades": len(ts),
        }
    return out


def _produce(settings: Settings, symbol: str, payloads: list[bytes]) -> list[int]:
    producer = make_producer(settings)
    offsets: list[int] = []
    for payload in payloads:
        producer.produce(TICKS.name, key=symbol.encode(), value=payload,
                         on_delivery=lambda err, msg: offsets.append(msg.offset()))
    producer.flush(30)
    assert len(offsets) == len(payloads)
    return offsets


def test_candles_from_ticks_with_duplicates_invalid_and_late(stack: Settings) -> None:
    symbol = _symbol()
    start = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    ticks = _ticks(symbol, start, 150, seed=1)  # 2.5 minutes of event time
    closer = Tick(event_id=f"binance:{symbol}:1000", ts_event=start + timedelta(minutes=4),
                  venue="binance", symbol=symbol, trade_id=1000, price=Decimal(1000),
                  qty=Decimal(1), side="sell")
    late = ticks[10].model_copy(update={"trade_id": 5000, "event_id": f"okx:{symbol}:5000",
                                        "venue": "okx"})
    payloads = ([TICKS.encode(t) for t in ticks[:60]] + [TICKS.encode(ticks[5])]  # duplicate
                + [b'{"symbol": "' + symbol.encode() + b'", "price": "abc"}']   # invalid
                + [TICKS.encode(t) for t in ticks[60:]] + [TICKS.encode(closer)]
                + [TICKS.encode(late)])                                          # late
    with running_worker(stack):
        offsets = _produce(stack, symbol, payloads)
        finals = collect(
            stack, "md.candles",
            keep=lambda m: m.key() == symbol.encode() and value(m)["final"],
            until=lambda got: len(got) >= 3)
        letters = collect(stack, "md.ticks.dlq", keep=lambda m: m.key() == symbol.encode(),
                          until=lambda got: len(got) >= 3)

    got = {value(m)["event_id"]: value(m) for m in finals}
    expected = _expected(ticks)
    assert set(got) == set(expected)
    for event_id, want in expected.items():
        candle = got[event_id]
        for field, number in want.items():
            assert Decimal(str(candle[field])) == number, (event_id, field)

    by_reason = {value(m)["reason"]: value(m) for m in letters}
    assert set(by_reason) == {"duplicate", "invalid", "late"}
    assert by_reason["duplicate"]["source_offset"] == offsets[60]
    assert by_reason["invalid"]["source_offset"] == offsets[61]
    assert "price: Value error, Input should be a valid decimal" in by_reason["invalid"]["error"]
    assert by_reason["late"]["source_offset"] == offsets[-1]
    assert all(v["source_topic"] == "md.ticks" for v in by_reason.values())


def test_sigkilled_worker_resumes_without_losing_or_double_counting(stack: Settings) -> None:
    """Kill -9 mid-stream, restart: every final candle equals the one computed offline.

    The duplicate filter lives in the same table record as the open windows, so ticks
    replayed after the crash (offsets not yet committed) are recognised and not counted twice.
    """
    from .streams_support import WorkerProcess

    symbol = _symbol()
    start = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    ticks = _ticks(symbol, start, 600, seed=2)  # ten minutes of event time
    closer = Tick(event_id=f"binance:{symbol}:9999", ts_event=start + timedelta(minutes=12),
                  venue="binance", symbol=symbol, trade_id=9999, price=Decimal(1000),
                  qty=Decimal(1), side="sell")
    worker = WorkerProcess(stack, f"test-crash-{uuid.uuid4().hex[:8]}", 16171,
                           env={"STRIKEFLOW_WORKER__AGENTS": '["streams.marketdata.agents"]'})
    worker.start()
    try:
        _produce(stack, symbol, [TICKS.encode(t) for t in ticks[:350]])
        collect(stack, "md.candles", keep=lambda m: m.key() == symbol.encode()
                and value(m)["final"], until=lambda got: len(got) >= 3)
        worker.kill()
        _produce(stack, symbol, [TICKS.encode(t) for t in ticks[350:]] + [TICKS.encode(closer)])
        worker.start()
        finals = collect(stack, "md.candles",
                         keep=lambda m: m.key() == symbol.encode() and value(m)["final"],
                         until=lambda got: len({value(m)["event_id"] for m in got}) >= 10,
                         timeout_s=90)
    finally:
        worker.stop()

    expected = _expected(ticks)
    copies: dict[str, list[dict[str, Any]]] = {}
    for m in finals:
        copies.setdefault(value(m)["event_id"], []).append(value(m))
    assert set(copies) == set(expected)
    for event_id, want in expected.items():
        for candle in copies[event_id]:  # a re-published final must be the same final
            for field, number in want.items():
                assert Decimal(str(candle[field])) == number, (event_id, field)
