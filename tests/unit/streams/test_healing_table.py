"""The healing table: a key's first read by a process sends the stored value to the changelog
again, so a replayed batch that changes nothing still brings the changelog up to the store.

Faust's own ``Table`` on an in-memory store; only the send to Kafka is replaced (recorded).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import faust
import pytest

from streams.batching import as_partition
from streams.healing_table import HealingTable

TOPIC = "heal-test-input"


def _table(local: dict[bytes, Any]) -> tuple[HealingTable, list[tuple[int | None, bytes, Any]]]:
    app = faust.App("heal-test", store="memory://", autodiscover=False)
    table = HealingTable(app, name="t", default=None, partitions=4, key_type=bytes,
                         schema=faust.Schema(key_serializer="raw", value_serializer="json"))
    table.data.update(local)  # what the worker's own store kept through the kill
    sent: list[tuple[int | None, bytes, Any]] = []

    def send_changelog(partition: int | None, key: bytes, value: Any, **_: Any) -> Any:
        sent.append((partition, key, value))
        return SimpleNamespace(message=SimpleNamespace(partition=partition))

    table.send_changelog = send_changelog  # type: ignore[method-assign]
    table._verify_source_topic_partitions = lambda topic: None  # type: ignore[method-assign]
    return table, sent


def test_the_first_read_sends_the_stored_value_once() -> None:
    table, sent = _table({b"rfq-1": {"status": "accepted"}})
    with as_partition(TOPIC, 2):
        assert table.get(b"rfq-1") == {"status": "accepted"}
        assert table.get(b"rfq-1") == {"status": "accepted"}
    assert sent == [(2, b"rfq-1", {"status": "accepted"})]


def test_a_key_written_or_deleted_by_this_process_is_not_sent_again() -> None:
    table, sent = _table({b"a": {"n": 1}, b"b": {"n": 2}})
    with as_partition(TOPIC, 1):
        table[b"a"] = {"n": 3}
        del table[b"b"]
        assert table.get(b"a") == {"n": 3}
        assert table.get(b"b") is None
    assert sent == [(1, b"a", {"n": 3}), (1, b"b", None)]


def test_a_missing_key_sends_nothing() -> None:
    table, sent = _table({})
    with as_partition(TOPIC, 0):
        assert table.get(b"new") is None
    assert sent == []


def test_a_read_outside_a_stream_event_waits_for_one() -> None:
    table, sent = _table({b"k": [1]})
    assert table.get(b"k") == [1]  # a web view or a timer without a partition: no send
    assert sent == []
    with as_partition(TOPIC, 3):
        assert table.get(b"k") == [1]
    assert sent == [(3, b"k", [1])]


def test_the_replay_after_a_kill_brings_the_changelog_up_to_the_store() -> None:
    """The drill's scenario for any table: the store has the batch, the changelog lost it;
    the replayed batch finds its work done and writes nothing — the read heals it."""
    changelog: dict[bytes, Any] = {b"order-7": {"state": "routed"}}  # one batch behind
    table, sent = _table({b"order-7": {"state": "settled"}})
    with as_partition(TOPIC, 1):
        if table.get(b"order-7") == {"state": "settled"}:
            pass  # the replay: settled already, nothing to write
    changelog.update({key: value for _, key, value in sent})
    assert changelog == {b"order-7": {"state": "settled"}}


@pytest.mark.parametrize("value", [{"x": 1}, [1, 2], "s"])
def test_values_go_out_as_stored(value: Any) -> None:
    table, sent = _table({b"k": value})
    with as_partition(TOPIC, 0):
        table.get(b"k")
    assert sent == [(0, b"k", value)]


def test_what_it_remembers_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("streams.healing_table.REMEMBERED", 3)
    table, sent = _table({b"k0": 0})
    with as_partition(TOPIC, 0):
        table.get(b"k0")
        for n in range(1, 5):
            table[f"k{n}".encode()] = n
        assert len(table._current) == 3
        table.get(b"k0")  # forgotten: sent once more, harmless
    assert sent.count((0, b"k0", 0)) == 2
