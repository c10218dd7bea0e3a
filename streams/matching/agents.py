"""The matching agent: ``orders.commands`` (keyed by instrument) → ``orders.events``, ``trades``,
``md.book``.

State and recovery, and why:

* The engine of each instrument lives in memory. Writing a whole book to the changelog on every
  batch would cost megabytes per batch, so the table ``matching-snapshots`` holds, per
  instrument, a snapshot taken every ``snapshot_every_commands`` commands or
  ``snapshot_every_s`` seconds, with the source offset it includes — and the one before it.
* After a restart or a rebalance, the first command Faust delivers for an instrument tells us
  where the committed offset is. The engine is restored from the newest snapshot *older* than
  that offset (each snapshot is one table value that carries its own offset:
  :mod:`streams.matching.snapshot_slots`), and the commands between the snapshot and that
  offset are read again from ``orders.commands`` and applied silently (their events were
  published and flushed before the offset was committed). Then processing continues, and
  because the engine is a pure function of its input, redelivered commands produce the same
  events with the same ids.
* Every event id is ``{instrument}:{engine seq}``: a consumer that keeps the first of each id
  sees every event exactly once, through SIGKILLs and partition moves.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import mode
import structlog

from infra.settings import get_settings
from streams.app import app, state_table
from streams.batching import as_current
from streams.changelog import flush_changelogs
from streams.deadletters import send_dead_letter
from streams.inbox import Inbox, venue_time_ns
from streams.instruments import Instrument, TradingStatus
from streams.kafka import read_range
from streams.listing import venue_catalogue
from streams.matching.engine import MatchingEngine
from streams.matching.snapshot_slots import (
    SLOTS,
    newest_before,
    slot_key,
    slot_offsets,
    slot_to_replace,
    slot_value,
)
from streams.matching.translate import (
    Rejection,
    encode_event,
    ns_to_datetime,
    rejected_before_engine,
    to_command,
)
from streams.output import BatchOutput
from topics.catalogue import ContractError, by_name
from topics.contracts import BookUpdate
from topics.contracts.base import utc_now

__all__ = ["engines", "match_orders", "snapshot_idle_books", "snapshots"]

log = structlog.get_logger(__name__)

COMMANDS = by_name("orders.commands")
OUTPUTS = {name: by_name(name) for name in ("orders.events", "trades", "md.book")}
BATCH_SIZE = 2000

_settings = get_settings().matching
commands_topic = app.topic(COMMANDS.name, key_serializer="raw", value_serializer="raw")

# book snapshots of busy instruments are large; a segment must hold the largest message.
# Not healed: a snapshot the changelog missed only means a longer replay of commands.
snapshots = state_table("matching-snapshots", COMMANDS.partitions, heal=False, **{
    "max.message.bytes": str(64 * 2**20), "segment.bytes": str(128 * 2**20)})


CATALOGUE = venue_catalogue()
# A replay starts its engine as trading: its own clock expires an option on time, exactly as
# it did the first time (an engine created during the grace day would start expired).
TRADING = TradingStatus.TRADING


@dataclass
class _Live:
    """An instrument's engine in this process, and how far it has read its partition."""

    engine: MatchingEngine
    instrument: Instrument
    partition: int
    applied_offset: int
    last_event: Any = None  # of this instrument's partition: table writes go under it
    slots: dict[int, int] = field(default_factory=dict)  # snapshot slot -> offset it holds
    since_snapshot: int = 0
    snapshot_at: float = field(default_factory=time.monotonic)


engines: dict[str, _Live] = {}


@app.on_partitions_revoked.connect
async def _forget_revoked(sender: Any, revoked: Any, **_: Any) -> None:
    """A partition that moved away may come back later with another worker's progress."""
    gone = {tp.partition for tp in revoked if tp.topic == COMMANDS.name}
    for symbol in [s for s, live in engines.items() if live.partition in gone]:
        del engines[symbol]


def _read_commands(partition: int, start: int, end: int, symbol: str
                   ) -> list[tuple[bytes, int]]:
    """``symbol``'s raw commands at offsets ``[start, end)`` of one partition, with the
    venue time (log-append, ns) each one was processed at."""
    key = symbol.encode()
    return [(msg.value(), msg.timestamp()[1] * 1_000_000)
            for msg in read_range(get_settings(), COMMANDS.name, partition, start, end)
            if msg.key() == key]


def _replay(engine: MatchingEngine, instrument: Instrument, payload: bytes, now_ns: int
            ) -> bool:
    """Apply one logged command silently, exactly as :func:`_match_symbol` did the first time
    (what it dead-lettered or rejected before the engine is skipped again)."""
    try:
        cmd = COMMANDS.decode(payload)
        if cmd.symbol != instrument.instrument_id:
            return False
        engine.process(to_command(cmd, instrument, now_ns))
    except Exception:  # rejected, or dead-lettered (invalid, processing_error) the first time
        return False
    return True


async def _restore(symbol: str, instrument: Instrument, event: Any) -> _Live:
    """The engine as of just before ``event``: snapshot, then the commands since it."""
    partition, first = event.message.partition, event.message.offset
    with as_current(event):
        values = {slot: snapshots.get(slot_key(symbol, slot)) for slot in SLOTS}
        # the key an older layout kept its record under: history without a usable slot
        legacy = snapshots.get(symbol.encode()) is not None
    offsets = slot_offsets(values)
    base = newest_before(values, first)
    if base is not None:
        engine = MatchingEngine.from_snapshot(base["snapshot"])
        start = base["offset"] + 1
    elif not offsets and not legacy:
        # Never seen by this group: the book starts empty here. Recording that at once means
        # a restart finds a base even if it comes before the first regular snapshot.
        live = _Live(MatchingEngine.for_instrument(instrument, initial_status=TRADING), instrument,
                     partition, first - 1)
        _write_snapshot(symbol, live, event)
        return live
    else:
        engine = MatchingEngine.for_instrument(instrument, initial_status=TRADING)
        start = 0  # every snapshot is newer than the restart point: the whole history
    raw = await asyncio.to_thread(_read_commands, partition, start, first, symbol)
    replayed = sum(_replay(engine, instrument, payload, ts) for payload, ts in raw)
    log.info("matching engine restored", symbol=symbol, snapshot_offset=start - 1,
             replayed=replayed, resting=len(engine.open_orders()), first_offset=first)
    return _Live(engine, instrument, partition, first - 1, slots=offsets)


def _snapshot_due(live: _Live) -> bool:
    return (live.since_snapshot >= _settings.snapshot_every_commands
            or (live.since_snapshot and
                time.monotonic() - live.snapshot_at >= _settings.snapshot_every_s))


def _write_snapshot(symbol: str, live: _Live, event: Any) -> None:
    """Replace the older of the two slots (:mod:`streams.matching.snapshot_slots`): the newer
    one stays for a restart whose committed offset is behind this snapshot."""
    slot = slot_to_replace(live.slots)
    with as_current(event):
        snapshots[slot_key(symbol, slot)] = slot_value(live.applied_offset,
                                                      live.engine.to_snapshot())
    live.slots[slot] = live.applied_offset
    live.since_snapshot = 0
    live.snapshot_at = time.monotonic()


def _book(symbol: str, live: _Live, causation: str) -> BookUpdate:
    inst, engine = live.instrument, live.engine
    depth = engine.depth(_settings.depth_levels)
    last = engine.last_price
    return BookUpdate(
        event_id=f"{symbol}:book:{engine.seq}", ts_event=ns_to_datetime(engine.clock),
        causation_id=causation, symbol=symbol, source="venue", seq=engine.seq,
        bids=[(inst.ticks_to_price(lv.price), inst.lots_to_qty(lv.qty)) for lv in depth.bids],
        asks=[(inst.ticks_to_price(lv.price), inst.lots_to_qty(lv.qty)) for lv in depth.asks],
        last_price=inst.ticks_to_price(last) if last is not None else None)


@app.timer(interval=1.0)
async def snapshot_idle_books() -> None:
    """A book that stopped receiving commands still gets its snapshot, so a restart after a
    quiet spell replays (almost) nothing."""
    for symbol, live in list(engines.items()):
        if live.last_event is not None and _snapshot_due(live):
            _write_snapshot(symbol, live, live.last_event)
    await flush_changelogs()  # a timer waits for what it wrote, as a batch does


inbox = Inbox([COMMANDS.name], name="matching")
inbox.connect(app)
output = BatchOutput()


@app.agent(commands_topic, supervisor_strategy=mode.CrashingSupervisor)
async def match_orders(stream: Any) -> None:
    # the inbox flushes the output before Faust acknowledges (and later commits) each batch
    async for batch in inbox.batches(stream, BATCH_SIZE):
        by_symbol: dict[str, list[Any]] = defaultdict(list)
        for event in batch:
            by_symbol[event.message.key.decode("utf-8", "replace")].append(event)
        ts_init = utc_now().isoformat(timespec="microseconds").replace("+00:00", "Z")
        await _restore_missing(by_symbol)
        for symbol, symbol_events in by_symbol.items():
            await _match_symbol(symbol, symbol_events, ts_init)


async def _send(topic: str, key: bytes, message: Any) -> None:
    output.send(topic, key, OUTPUTS[topic].encode(message))


def _listed(symbol: str, first: Any) -> Instrument | None:
    """What was listed when the venue logged the batch's first command of ``symbol``:
    replays decide the same."""
    return CATALOGUE.at(ns_to_datetime(venue_time_ns(first.message))).get(symbol)


async def _restore_missing(by_symbol: dict[str, list[Any]]) -> None:
    """Restore every book of the batch this process does not hold yet, all at once: each
    reads its commands since its snapshot from Kafka, and one after the other a worker that
    took over ten books spent most of its recovery waiting on those reads in turn."""
    missing = [(symbol, instrument, events[0]) for symbol, events in by_symbol.items()
               if symbol not in engines and (instrument := _listed(symbol, events[0]))]
    restored = await asyncio.gather(*(_restore(*item) for item in missing))
    for (symbol, _, _), live in zip(missing, restored, strict=True):
        engines[symbol] = live


async def _match_symbol(symbol: str, batch: list[Any], ts_init: str) -> None:
    instrument = _listed(symbol, batch[0])
    if instrument is None:
        for event in batch:
            await send_dead_letter(event, "unknown_instrument",
                                   f"{symbol!r} is not a listed instrument")
        return
    live = engines.get(symbol)
    if live is None:
        live = engines[symbol] = await _restore(symbol, instrument, batch[0])
    last_event, causation = batch[-1], ""
    live.last_event = last_event
    for event in batch:
        if event.message.offset <= live.applied_offset:
            continue  # applied already (by the replay of this same process)
        live.applied_offset = event.message.offset
        live.since_snapshot += 1
        async with inbox.guard(event):
            causation = await _match_one(symbol, live, event, ts_init) or causation
    if causation:
        await _send("md.book", symbol.encode(), _book(symbol, live, causation))
    if _snapshot_due(live):
        _write_snapshot(symbol, live, last_event)


async def _match_one(symbol: str, live: _Live, event: Any, ts_init: str) -> str | None:
    """One command through the engine; its command id, or None if it never reached it."""
    key = symbol.encode()
    try:
        wire_cmd = COMMANDS.decode(event.message.value)
    except ContractError as exc:
        await send_dead_letter(event, "invalid", str(exc))
        return None
    if wire_cmd.symbol != symbol:
        await send_dead_letter(event, "wrong_key",
                               f"key {symbol!r} but command for {wire_cmd.symbol!r}")
        return None
    now_ns = venue_time_ns(event.message)
    try:
        command = to_command(wire_cmd, live.instrument, now_ns)
    except Rejection as rej:
        await _send("orders.events", key,
                    rejected_before_engine(wire_cmd, rej, live.engine.seq, now_ns))
        return wire_cmd.command_id
    for engine_event in live.engine.process(command):
        encoded = encode_event(engine_event, live.instrument, ts_init)
        if encoded is not None:
            output.send(encoded[0], key, encoded[1])
    return wire_cmd.command_id
