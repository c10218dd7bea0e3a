"""An inbox that leaves re-routing to another agent of the worker reading the same topic
(compliance beside risk on accounts.activity): it skips, and sends nothing twice."""

from __future__ import annotations

import asyncio

import pytest

import streams.deadletters as deadletters
from streams.inbox import Inbox
from streams.output import BatchOutput
from tests.unit.streams.test_inbox import TOPIC, Event, Msg, RecordingProducer, _key_on


def test_misrouted_and_keyless_messages_are_skipped_without_output(
        monkeypatch: pytest.MonkeyPatch) -> None:
    producer = RecordingProducer()
    monkeypatch.setattr(deadletters, "_output", BatchOutput(producer))
    box = Inbox([TOPIC], name="test", reroute=False)
    box.output = BatchOutput(producer)
    key = _key_on(2)
    right = Event(Msg(TOPIC, 2, 7, key, b"{}"))
    out = asyncio.run(box.screen([Event(Msg(TOPIC, 4, 10, key, b"{}")), right,
                                  Event(Msg(TOPIC, 0, 3, None, b"{}"))]))
    assert out == [right]
    assert producer.sent == []  # the other agent re-routes and dead-letters them
