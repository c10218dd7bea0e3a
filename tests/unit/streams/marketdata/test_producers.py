"""The producer warm-up of the market-data agents: connects early, never fails an agent."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, KafkaException

from streams.marketdata.producers import warm_producer


class _Producer:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.asked: list[tuple[str, float]] = []

    def list_topics(self, topic: str, timeout: float) -> Any:
        self.asked.append((topic, timeout))
        if self.fail:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        return object()


def test_the_warm_up_fetches_the_topics_metadata() -> None:
    producer = _Producer()
    warm_producer(producer, "md.index", timeout_s=3)  # type: ignore[arg-type]
    assert producer.asked == [("md.index", 3)]


def test_a_broker_that_does_not_answer_is_logged_not_raised() -> None:
    producer = _Producer(fail=True)
    warm_producer(producer, "md.marks")  # type: ignore[arg-type]
    assert producer.asked == [("md.marks", 10.0)]
