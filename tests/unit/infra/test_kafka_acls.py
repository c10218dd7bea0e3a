"""Applying ACLs returns only once every broker's authorizer holds them (KRaft applies an ACL
on each broker when it replays the metadata log, a moment after the controllers commit it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType

from infra import kafka_acls
from infra.kafka_acls import Grant
from infra.settings import Settings

GRANT = Grant("User:w", ResourceType.TOPIC, "t", ResourcePatternType.LITERAL, AclOperation.WRITE)
STALE = Grant("User:w", ResourceType.TOPIC, "old", ResourcePatternType.LITERAL,
              AclOperation.READ)


def test_waits_until_every_broker_has_the_new_and_lost_the_stale(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    views = iter([
        {1: {GRANT}, 2: set(), 3: {GRANT}},  # broker 2 still behind
        {1: {GRANT}, 2: {GRANT, STALE}, 3: {GRANT}},  # broker 2 has not yet dropped STALE
        {1: {GRANT}, 2: {GRANT}, 3: {GRANT}},
    ])
    asked = []

    def fake(_settings: Settings) -> dict[int, set[Grant]]:
        asked.append(1)
        return next(views)

    monkeypatch.setattr(kafka_acls, "acls_of_each_broker", fake)
    kafka_acls._wait_everywhere(Settings(data_dir=tmp_path), {GRANT}, {STALE}, timeout_s=5)
    assert len(asked) == 3


def test_a_broker_that_never_catches_up_is_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_acls, "acls_of_each_broker",
                        lambda _settings: {1: {GRANT}, 2: set()})
    with pytest.raises(TimeoutError, match=r"\{2: \(1, 0\)\}"):
        kafka_acls._wait_everywhere(Settings(data_dir=tmp_path), {GRANT}, set(), timeout_s=0.3)
