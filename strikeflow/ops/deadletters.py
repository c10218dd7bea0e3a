"""Dead letters for operators: list them (by topic, reason, time), show one, replay them.

A replay re-publishes the original key and payload to the source topic, after the cause was
fixed (an instrument listed, a bug deployed). It is idempotent by source offset: each replay is
recorded on the compacted ``ops.replays`` topic, keyed ``<topic>/<partition>/<offset>``, in the
same Kafka transaction as the message itself, so running the same replay twice (or again after a
crash) publishes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from infra.kafka_security import Role
from infra.settings import Settings
from streams.kafka import make_producer, read_range, read_since
from strikeflow.ops.kafka_admin import wait_stable
from topics.catalogue import CATALOGUE, ContractError, by_name
from topics.contracts import DeadLetter, DeadLetterReplayed

__all__ = ["Letter", "ReplayReport", "dead_letter_topics", "find", "list_letters", "replay",
           "replayed_refs"]

REPLAYS = by_name("ops.replays")
REPLAY_HEADER = "strikeflow-replay-of"


@dataclass(frozen=True, slots=True)
class Letter:
    """A dead letter and where it sits in its dead-letter topic."""

    topic: str  # the .dlq topic
    partition: int
    offset: int
    letter: DeadLetter

    @property
    def source_ref(self) -> str:
        return (f"{self.letter.source_topic}/{self.letter.source_partition}/"
                f"{self.letter.source_offset}")


@dataclass(frozen=True, slots=True)
class ReplayReport:
    replayed: list[Letter]
    already: list[Letter]  # replayed before: nothing published


def dead_letter_topics() -> list[str]:
    return [spec.dead_letter for spec in CATALOGUE if spec.dead_letter]


def _letters(topic: str, messages: Iterable) -> list[Letter]:
    spec = by_name(topic)
    out = []
    for msg in messages:
        try:
            out.append(Letter(topic, msg.partition(), msg.offset(), spec.decode(msg.value())))
        except ContractError:
            continue  # not ours to judge here: a foreign write to a .dlq topic
    return out


def list_letters(settings: Settings, topics: Iterable[str] | None = None,
                 reason: str | None = None, since: datetime | None = None,
                 source: str | None = None) -> list[Letter]:
    """Every dead letter matching the filters, oldest first per topic."""
    wanted = list(topics) if topics else dead_letter_topics()
    out: list[Letter] = []
    for topic in wanted:
        for letter in _letters(topic, read_since(settings, topic, {})):
            d = letter.letter
            if reason and d.reason != reason:
                continue
            if since and d.ts_failed < since:
                continue
            if source and d.source_topic != source:
                continue
            out.append(letter)
    return out


def find(settings: Settings, topic: str, partition: int, offset: int) -> Letter | None:
    found = _letters(topic, read_range(settings, topic, partition, offset, offset + 1))
    return found[0] if found else None


def replayed_refs(settings: Settings) -> set[str]:
    """The source messages already replayed (the keys of ``ops.replays``), once any replay's
    transaction in flight has settled."""
    wait_stable(settings, REPLAYS.name)
    return {msg.key().decode() for msg in read_since(settings, REPLAYS.name, {})
            if msg.key() is not None and msg.value() is not None}


def replay(settings: Settings, letters: Iterable[Letter], dry_run: bool = False
           ) -> ReplayReport:
    """Re-publish each letter's key and payload to its source topic, once per source offset."""
    done = replayed_refs(settings)
    replayed: list[Letter] = []
    already: list[Letter] = []
    pending: list[Letter] = []
    for letter in letters:
        if letter.source_ref in done:
            already.append(letter)
        else:
            done.add(letter.source_ref)  # the same letter twice in one call: once
            pending.append(letter)
    if dry_run or not pending:
        return ReplayReport(pending, already)
    # One Kafka transaction holds the replayed messages and their records: both or neither,
    # so a crash halfway leaves nothing that a second run would publish again.
    producer = make_producer(settings, Role.ADMIN, **{"transactional.id": "strikeflow-ops-replay"})
    producer.init_transactions(30)
    producer.begin_transaction()
    try:
        for letter in pending:
            d = letter.letter
            producer.produce(d.source_topic, value=d.payload.encode(),
                             key=None if d.key is None else d.key.encode(),
                             headers=[(REPLAY_HEADER, letter.source_ref.encode())])
            record = DeadLetterReplayed(
                source_topic=d.source_topic, source_partition=d.source_partition,
                source_offset=d.source_offset, dead_letter_topic=letter.topic,
                dead_letter_offset=letter.offset, reason=d.reason)
            producer.produce(REPLAYS.name, key=letter.source_ref.encode(),
                             value=REPLAYS.encode(record))
            replayed.append(letter)
        producer.commit_transaction(30)
    except BaseException:
        producer.abort_transaction(30)
        raise
    return ReplayReport(replayed, already)
