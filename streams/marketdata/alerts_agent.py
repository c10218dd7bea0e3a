"""``md.alerts.commands`` + ``md.index`` → price-alert notifications on ``risk.alerts``.

Both inputs are keyed by underlying and have the same partition count, so one agent reads
them together and one table record per underlying holds every alert on it and the last index
(:class:`~streams.marketdata.alerts.AlertBook`). A crossing publishes exactly one
:class:`~topics.contracts.RiskAlert` (``kind="price"``), keyed by account.

Dead letters: ``invalid`` and ``wrong_key`` from either input (on its own ``.dlq``), and on
``md.alerts.commands.dlq`` the commands that changed nothing: ``duplicate`` (a command id
already applied), ``limit`` (too many alerts for the account) and ``unknown_alert``.
"""

from __future__ import annotations

from typing import Any

import mode

from streams.app import app, state_table
from streams.batching import as_current
from streams.deadletters import send_dead_letter
from streams.inbox import Inbox
from streams.marketdata.alerts import AlertBook, CommandVerdict
from streams.marketdata.settings import get_marketdata_settings
from topics.catalogue import by_name
from topics.contracts import IndexPrice

__all__ = ["alert_state", "price_alerts"]

INDEX = by_name("md.index")
COMMANDS = by_name("md.alerts.commands")
ALERTS = by_name("risk.alerts")
LIMIT = get_marketdata_settings().alerts_per_account

inputs = app.topic(INDEX.name, COMMANDS.name, key_serializer="raw", value_serializer="raw")
alerts_topic = app.topic(ALERTS.name, key_serializer="raw", value_serializer="raw")

alert_state = state_table("md-alert-state", COMMANDS.partitions)


inbox = Inbox([INDEX.name, COMMANDS.name], name="alerts")
inbox.connect(app)


@app.agent(inputs, supervisor_strategy=mode.CrashingSupervisor)
async def price_alerts(stream: Any) -> None:
    async for events in inbox.batches(stream, 1000):
        touched: dict[str, tuple[AlertBook, Any]] = {}
        for event in events:
            async with inbox.guard(event):
                message = await inbox.decode(event, lambda m: m.underlying)
                if message is None:
                    continue
                underlying = message.underlying
                if underlying in touched:
                    book = touched[underlying][0]
                else:
                    with as_current(event):
                        state = alert_state.get(underlying)
                    book = (AlertBook.from_state(state, LIMIT) if state
                            else AlertBook(underlying, LIMIT))
                touched[underlying] = (book, event)
                if isinstance(message, IndexPrice):
                    for note in book.on_index(message):
                        await alerts_topic.send(key=note.account.encode(),
                                                value=ALERTS.encode(note))
                    continue
                verdict = book.command(message)
                if verdict is not CommandVerdict.APPLIED:
                    await send_dead_letter(event, verdict.value,
                                           f"{verdict.value}: command {message.command_id}")
        for underlying, (book, event) in touched.items():
            with as_current(event):
                alert_state[underlying] = book.to_state()
