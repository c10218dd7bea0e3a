"""The Elasticsearch sink as a process: set up the indices, consume until told to stop."""

from __future__ import annotations

import signal
from typing import Any

import structlog

from infra.settings import Settings
from sinks.search_index.sink import ElasticsearchSink, Interrupted

__all__ = ["READY_MARK", "run_elasticsearch_sink"]

log = structlog.get_logger(__name__)

READY_MARK = "elasticsearch sink running"  # what ElasticsearchSinkProcess waits for


def run_elasticsearch_sink(settings: Settings, max_seconds: float | None = None,
                           idle_stop_s: float | None = None) -> dict[str, int]:
    sink = ElasticsearchSink(settings)

    def _stop(*_: Any) -> None:
        sink.stop_event.set()

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        created = sink.prepare()
        if created:
            log.info("elasticsearch indices created", indices=created)
        log.info(READY_MARK, topics=sorted(sink.sources), prefix=sink.names.prefix,
                 url=settings.elasticsearch.url, group=sink.group_id)
        sink.run(max_seconds=max_seconds, idle_stop_s=idle_stop_s)
    except Interrupted:  # stopped before Elasticsearch came up: nothing was read
        log.warning("stopped while elasticsearch was unavailable")
    finally:
        signal.signal(signal.SIGTERM, previous)
        sink.client.close()
    log.info("elasticsearch sink stopped", **sink.counts)
    return sink.counts
