"""An agent's events in batches, taken straight from its channel's queue.

Faust's ``Stream.take_events`` moves events into its buffer one at a time — a passive task
that runs each event through the stream iterator, an event-loop turn and a processor call
each — and then waits out its whole ``within`` window before it hands the buffer over. On
the trading worker draining a backlog, that bounded a batch to what the mover could move in
the window: risk asked for 2,000 events and got 360 on average, so it saved nearly every
account once per event, and every batch paid the window's wait on top of its Kafka
acknowledgements (py-spy, 2026-12-06: the mover alone ~7% of the worker's CPU).

:func:`event_batches` hands over everything already queued, up to ``size``, and waits only
for the first event. Events keep queuing while a batch runs and waits for its
acknowledgements, so under load batches grow by themselves, and a lone event is processed
at once instead of after a window.

What Faust's stream iterator does for each event is kept:

* an event fetched before a rebalance (its generation is not the consumer's) or while flow
  control is suspended is dropped, neither processed nor acknowledged: the new assignment
  delivers it again from the committed offset;
* a message of a topic whose offsets are committed is registered as not yet acknowledged,
  so a stop or a rebalance waits for it;
* each event is acknowledged once, when the agent asks for the next batch — after
  :class:`~streams.inbox.Inbox` has flushed the batch's state and output.

Faust's sensors (its monitor's per-event counters) are not called; the workers' own
Prometheus metrics count events and batches (:mod:`infra.metrics`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

__all__ = ["event_batches"]


async def event_batches(stream: Any, size: int) -> AsyncIterator[list[Any]]:
    """Batches of at most ``size`` of ``stream``'s events, each acknowledged when the next
    batch is asked for. ``stream`` is the one Faust gives the agent."""
    app = stream.app
    channel = aiter(stream.channel)  # subscribes, as iterating the stream would
    queue = channel.queue
    consumer = app.consumer
    acking_topics = app.topics.acking_topics
    unacked = consumer._unacked_messages  # what a stop or a rebalance waits for
    while True:
        try:
            taken = [await queue.get()]
        except StopAsyncIteration:  # Faust stops the channel: the agent is stopping
            return
        while len(taken) < size and not queue.empty():
            taken.append(queue.get_nowait())
        active, generation = app.flow_control.is_active(), app.consumer_generation_id
        batch = []
        for event in taken:
            message = event.message
            if not active or message.generation_id != generation:
                continue
            if not message.tracked and message.topic in acking_topics:
                message.tracked = True
                unacked.add(message)
            batch.append(event)
        if not batch:
            continue
        yield batch
        for event in batch:
            event.ack()
