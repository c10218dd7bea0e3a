"""orders.commands → matching agent → orders.events, trades, md.book through the real Kafka.

The differential test: a recorded command log runs through the live pipeline with a worker
SIGKILLed in the middle, and what comes out (keeping the first of each event id, as every
consumer does) equals, as a set and in per-instrument order, what the pure core makes of the
same log.
"""

from __future__ import annotations

import json
import random
import string
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.settings import Settings
from streams.instruments import spot_instrument
from streams.instruments.catalogue import DEFAULT_SPOT_SPECS
from streams.kafka import make_producer
from streams.matching.engine import MatchingEngine
from streams.matching.orderflow import generate_commands
from streams.matching.translate import Rejection, rejected_before_engine, to_command, to_messages
from streams.worker_process import WorkerProcess
from topics.catalogue import by_name
from topics.contracts import orders as wire

from ..streams_support import collect, end_offsets, value

pytestmark = pytest.mark.kafka

COMMANDS = by_name("orders.commands")
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _bases(n: int) -> list[str]:
    rng = random.Random(uuid.uuid4().int)
    return ["TX" + "".join(rng.choice(string.ascii_uppercase) for _ in range(5)) for _ in range(n)]


def command_log(symbols: list[str], n: int, seed: int) -> list[Any]:
    return list(generate_commands(symbols, n, seed))


def logged_commands(settings: Settings, symbols: list[str], count: int,
                    since: dict[int, int]) -> list[tuple[Any, int]]:
    """The commands as Kafka holds them, with the broker's log-append time (the engine's
    clock), in log order per partition."""
    keys = {s.encode() for s in symbols}
    msgs = collect(settings, COMMANDS.name, keep=lambda m: m.key() in keys,
                   until=lambda got: len(got) >= count, since=since)
    return [(COMMANDS.decode(m.value()), m.timestamp()[1] * 1_000_000) for m in msgs]


def expected_outputs(log: list[tuple[Any, int]], symbols: list[str]
                     ) -> dict[str, list[dict[str, Any]]]:
    """What the pure core makes of the log: per instrument, the messages in order."""
    instruments = {s: spot_instrument(s.split("-")[0], DEFAULT_SPOT_SPECS["BTC"])
                   for s in symbols}
    engines = {s: MatchingEngine.for_instrument(i) for s, i in instruments.items()}
    out: dict[str, list[dict[str, Any]]] = {s: [] for s in symbols}
    for cmd, now_ns in log:
        inst, engine = instruments[cmd.symbol], engines[cmd.symbol]
        try:
            command = to_command(cmd, inst, now_ns)
        except Rejection as rej:
            out[cmd.symbol].append(_plain(rejected_before_engine(cmd, rej, engine.seq,
                                                                 now_ns)))
            continue
        for event in engine.process(command):
            msg = to_messages(event, inst)
            if msg is not None:
                out[cmd.symbol].append(_plain(msg[1]))
    return out


def _expected_counts(expected: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """How many distinct messages each output topic must carry."""
    rows = [d for items in expected.values() for d in items]
    return {"orders.events": sum(1 for d in rows if "kind" in d),
            "trades": sum(1 for d in rows if "aggressor_side" in d)}


def _plain(message: Any) -> dict[str, Any]:
    data = json.loads(message.model_dump_json())
    data.pop("ts_init")
    return data


def _produce(settings: Settings, log: list[Any]) -> None:
    producer = make_producer(settings)
    for cmd in log:
        producer.produce(COMMANDS.name, key=cmd.symbol.encode(), value=COMMANDS.encode(cmd))
        producer.poll(0)
    producer.flush(30)


def _first_of_each(msgs: list[Any]) -> dict[str, list[dict[str, Any]]]:
    """Per instrument, in topic order, the first message of each event id."""
    seen: set[str] = set()
    out: dict[str, list[dict[str, Any]]] = {}
    for msg in msgs:
        data = value(msg)
        if data["event_id"] in seen:
            continue
        seen.add(data["event_id"])
        data.pop("ts_init")
        out.setdefault(data["symbol"], []).append(data)
    return out


def _outputs(settings: Settings, symbols: list[str], expected_count: dict[str, int],
             timeout_s: float, since: dict[str, dict[int, int]]) -> dict[str, list[dict[str, Any]]]:
    keys = {s.encode() for s in symbols}
    events = collect(settings, "orders.events", keep=lambda m: m.key() in keys,
                     until=lambda got: len({value(m)["event_id"] for m in got})
                     >= expected_count["orders.events"], timeout_s=timeout_s,
                     since=since["orders.events"])
    trades = collect(settings, "trades", keep=lambda m: m.key() in keys,
                     until=lambda got: len({value(m)["event_id"] for m in got})
                     >= expected_count["trades"], timeout_s=timeout_s, since=since["trades"])
    merged: dict[str, list[dict[str, Any]]] = {}
    for per_symbol in (_first_of_each(events), _first_of_each(trades)):
        for symbol, items in per_symbol.items():
            merged.setdefault(symbol, []).extend(items)
    for items in merged.values():
        items.sort(key=lambda d: (d["seq"], d["event_id"]))
    return merged


def _sorted(expected: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {s: sorted(items, key=lambda d: (d["seq"], d["event_id"]))
            for s, items in expected.items()}


def test_sigkill_mid_stream_loses_and_duplicates_nothing(stack: Settings) -> None:
    bases = _bases(3)
    symbols = [f"{b}-USDT" for b in bases]
    log = command_log(symbols, 3000, seed=11)

    env = {"STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES": json.dumps(bases),
           "STRIKEFLOW_WORKER__AGENTS": '["streams.matching"]',
           "STRIKEFLOW_MATCHING__SNAPSHOT_EVERY_COMMANDS": "150",
           "STRIKEFLOW_MATCHING__SNAPSHOT_EVERY_S": "0.5"}
    since = {t: end_offsets(stack, t) for t in ("orders.events", "trades", COMMANDS.name)}
    # From the earliest offsets, so a partition the crash catches before its first commit is
    # read again from its start; the wait below lets commits and snapshots happen first.
    worker = WorkerProcess(stack, f"test-match-{uuid.uuid4().hex[:8]}", 16172, env=env)
    worker.start()
    try:
        _produce(stack, log[:1500])
        keys = {s.encode() for s in symbols}
        collect(stack, "trades", keep=lambda m: m.key() in keys, until=lambda got: len(got) > 20,
                since=since["trades"])
        time.sleep(4.0)  # past Faust's commit interval (2.8 s): snapshots and commits exist
        _produce(stack, log[1500:])
        worker.kill()  # under load: the second half is being matched
        worker.start()
        expected = expected_outputs(
            logged_commands(stack, symbols, len(log), since[COMMANDS.name]), symbols)
        counts = _expected_counts(expected)
        assert counts["trades"] > 100 and counts["orders.events"] > 3000  # a meaningful mix
        got = _outputs(stack, symbols, counts, timeout_s=180, since=since)
    finally:
        worker.stop()
    want = _sorted(expected)
    for symbol in symbols:
        assert [d["event_id"] for d in got.get(symbol, [])] == \
            [d["event_id"] for d in want[symbol]], symbol
        assert got[symbol] == want[symbol], symbol


def test_unknown_instrument_and_invalid_command_become_dead_letters(stack: Settings) -> None:
    producer = make_producer(stack)
    marker = uuid.uuid4().hex[:8].upper()
    unknown = wire.CancelOrder(command_id=f"c-{marker}", ts_sent=T0, account="acc-a",
                               symbol=f"NOPE{marker}-USDT", client_order_id="o1")
    producer.produce(COMMANDS.name, key=unknown.symbol.encode(), value=COMMANDS.encode(unknown))
    bad_key = f"BAD{marker}-USDT".encode()
    producer.produce(COMMANDS.name, key=bad_key, value=b'{"type": "submit", "qty": "-1"}')
    producer.flush(10)
    worker = WorkerProcess(stack, f"test-match-dlq-{uuid.uuid4().hex[:8]}", 16173,
                           env={"STRIKEFLOW_WORKER__AGENTS": '["streams.matching"]'})
    worker.start()
    try:
        letters = collect(stack, "orders.commands.dlq",
                          keep=lambda m: m.key() in {unknown.symbol.encode(), bad_key},
                          until=lambda got: len(got) >= 2, timeout_s=120)
    finally:
        worker.stop()
    reasons = {value(m)["reason"] for m in letters}
    assert reasons == {"unknown_instrument"}  # an unknown key is judged before its payload


def test_partitions_moving_between_two_workers_lose_and_duplicate_nothing(
    stack: Settings,
) -> None:
    """A second worker joins mid-stream (partitions move to it), then the first leaves
    (they move back): the outputs still equal the pure core's, event for event."""
    bases = _bases(4)
    symbols = [f"{b}-USDT" for b in bases]
    log = command_log(symbols, 2400, seed=13)
    env = {"STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES": json.dumps(bases),
           "STRIKEFLOW_WORKER__AGENTS": '["streams.matching"]',
           "STRIKEFLOW_MATCHING__SNAPSHOT_EVERY_COMMANDS": "100"}
    app_id = f"test-rebalance-{uuid.uuid4().hex[:8]}"
    # From the earliest offsets: a partition that moves before its first commit must be read
    # from its start by the new owner ("latest" would skip it). Older history on the topic is
    # other tests' instruments, dead-lettered as unknown here.
    first = WorkerProcess(stack, app_id, 16174, env=env)
    # Same group, its own RocksDB directory (and logs), as on a second machine.
    second_settings = stack.model_copy(update={"data_dir": stack.data_dir / "tests" / app_id})
    second = WorkerProcess(second_settings, app_id, 16175, env=env)
    keys = {s.encode() for s in symbols}
    since = {t: end_offsets(stack, t) for t in ("orders.events", "trades", COMMANDS.name)}
    first.start()
    try:
        _produce(stack, log[:800])
        collect(stack, "trades", keep=lambda m: m.key() in keys, until=lambda got: len(got) > 5,
                since=since["trades"])
        second.start()  # rebalance: some partitions move to the second worker
        _produce(stack, log[800:1600])
        time.sleep(3)
        first.stop()  # graceful leave: its partitions move to the second worker
        _produce(stack, log[1600:])
        expected = expected_outputs(
            logged_commands(stack, symbols, len(log), since[COMMANDS.name]), symbols)
        got = _outputs(stack, symbols, _expected_counts(expected), timeout_s=180, since=since)
    finally:
        first.stop()
        second.stop()
    want = _sorted(expected)
    for symbol in symbols:
        assert got.get(symbol) == want[symbol], symbol


def test_a_worker_killed_after_another_joined_loses_and_repeats_nothing(
    stack: Settings,
) -> None:
    """The drill that corrupted a book: orders flowing, a second worker joins, then the first
    is SIGKILLed and restarted. Every event id once, with the pure core's contents."""
    bases = _bases(3)
    symbols = [f"{b}-USDT" for b in bases]
    log = command_log(symbols, 3000, seed=17)
    env = {"STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES": json.dumps(bases),
           "STRIKEFLOW_WORKER__AGENTS": '["streams.matching"]',
           "STRIKEFLOW_MATCHING__SNAPSHOT_EVERY_COMMANDS": "100",
           "STRIKEFLOW_MATCHING__SNAPSHOT_EVERY_S": "0.5"}
    app_id = f"test-handover-{uuid.uuid4().hex[:8]}"
    first = WorkerProcess(stack, app_id, 16178, env=env)
    second_settings = stack.model_copy(update={"data_dir": stack.data_dir / "tests" / app_id})
    second = WorkerProcess(second_settings, app_id, 16179, env=env)
    keys = {s.encode() for s in symbols}
    since = {t: end_offsets(stack, t) for t in ("orders.events", "trades", COMMANDS.name)}
    first.start()
    try:
        _produce(stack, log[:1000])
        collect(stack, "trades", keep=lambda m: m.key() in keys, until=lambda got: len(got) > 5,
                since=since["trades"])
        second.start()
        _produce(stack, log[1000:2000])
        first.kill()  # mid-stream, right after the handover
        first.start()
        _produce(stack, log[2000:])
        expected = expected_outputs(
            logged_commands(stack, symbols, len(log), since[COMMANDS.name]), symbols)
        counts = _expected_counts(expected)
        events = collect(stack, "orders.events", keep=lambda m: m.key() in keys,
                         until=lambda got: len({value(m)["event_id"] for m in got})
                         >= counts["orders.events"], timeout_s=180,
                         since=since["orders.events"])
        got = _outputs(stack, symbols, counts, timeout_s=60, since=since)
    finally:
        first.stop()
        second.stop()
    # No id was ever published with two different contents.
    contents: dict[str, str] = {}
    for msg in events:
        data = value(msg)
        data.pop("ts_init")
        text = json.dumps(data, sort_keys=True)
        assert contents.setdefault(data["event_id"], text) == text, data["event_id"]
    want = _sorted(expected)
    for symbol in symbols:
        assert got.get(symbol) == want[symbol], symbol
