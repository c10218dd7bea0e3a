"""The short fault drill on the real stack: what CI runs of `strikeflow drill`.

Each fault kind is a real outage (a worker SIGKILLed mid-batch three times, a second worker
joining and leaving under load, the ClickHouse sink SIGKILLed) while orders flow through risk
and matching (a quarter of them by librdkafka's default partitioner) and simplified options
through the counter service; then everything is reconciled end to end.
"""

from __future__ import annotations

import pytest
from rich.console import Console

from infra.settings import Settings
from strikeflow.drill import SHORT, DrillConfig
from strikeflow.drill.runner import Drill

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.connect,
              pytest.mark.elasticsearch, pytest.mark.clickhouse]


def test_the_short_drill_loses_duplicates_and_corrupts_nothing(stack: Settings) -> None:
    console = Console(width=160, record=True)
    outcomes = Drill(stack, console, DrillConfig(kinds=SHORT, orders=150, rate=40,
                                                 options=4)).run()
    assert [o.kind for o in outcomes] == list(SHORT)
    for o in outcomes:
        assert o.injected >= 1, o.kind
        assert (o.lost, o.duplicated, o.corrupted) == (0, 0, 0), (o.kind, o.problems)
        assert o.outcomes == o.published  # every request and option answered
        assert o.trades > 0 and o.clickhouse_rows == o.trades == o.elasticsearch_docs
    assert "fault drill: end-to-end reconciliation" in console.export_text()
