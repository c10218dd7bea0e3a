"""Test driver for the matching engine: short builders and a readable event summary.

Scenario tables read as ``("trade", maker, taker, price, qty)`` instead of raw events;
client order ids double as order names.
"""

from __future__ import annotations

import itertools
from typing import Any

from streams.matching import (
    AdvanceTime,
    AmendOrder,
    CancelOrder,
    CommandRejected,
    EngineConfig,
    ExpireInstrument,
    HaltInstrument,
    InstrumentStatusChanged,
    MassCancel,
    MatchingEngine,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderTriggered,
    ResumeInstrument,
    Side,
    StpMode,
    SubmitOrder,
    TradeExecuted,
    UpdateMark,
)

IID = "BTC-USDT"
BUY, SELL = Side.BUY, Side.SELL


class Harness:
    """An engine plus command builders with automatic command ids and timestamps."""

    def __init__(self, engine: MatchingEngine | None = None, **config: Any) -> None:
        self.engine = engine or MatchingEngine(EngineConfig(IID, **config))
        self._ids = itertools.count(1)
        self.ts = 0
        self.names: dict[int, str] = {}
        self.log: list[Any] = []

    # -- builders -----------------------------------------------------------------------
    def _cid(self) -> str:
        return f"cmd-{next(self._ids)}"

    def submit_cmd(
        self, name: str, side: Side, qty: int, price: int | None = None, **kw: Any
    ) -> SubmitOrder:
        kw.setdefault("account_id", "acct-" + name)
        kw.setdefault("stp", StpMode.NONE)
        kw.setdefault("ts", self.ts)
        return SubmitOrder(
            command_id=kw.pop("command_id", self._cid()),
            instrument_id=kw.pop("instrument_id", IID),
            client_order_id=name,
            side=side,
            qty=qty,
            price=price,
            **kw,
        )

    # -- actions (return the events) -------------------------------------------------------
    def run(self, command: Any) -> list[Any]:
        events = self.engine.process(command)
        for ev in events:
            if isinstance(ev, OrderAccepted):
                self.names[ev.order_id] = ev.client_order_id
        self.log.extend(events)
        return events

    def submit(self, name: str, side: Side, qty: int, price: int | None = None, **kw: Any):
        return self.run(self.submit_cmd(name, side, qty, price, **kw))

    def buy(self, name: str, qty: int, price: int | None = None, **kw: Any):
        return self.submit(name, BUY, qty, price, **kw)

    def sell(self, name: str, qty: int, price: int | None = None, **kw: Any):
        return self.submit(name, SELL, qty, price, **kw)

    def cancel(self, name: str, account: str | None = None, **kw: Any):
        return self.run(
            CancelOrder(
                command_id=self._cid(), instrument_id=IID,
                account_id=account or "acct-" + name, client_order_id=name, ts=self.ts, **kw,
            )
        )  # fmt: skip

    def cancel_id(self, order_id: int, account: str):
        return self.run(
            CancelOrder(command_id=self._cid(), instrument_id=IID, account_id=account,
                        order_id=order_id, ts=self.ts)
        )  # fmt: skip

    def amend(self, name: str, price: int | None = None, qty: int | None = None, **kw: Any):
        return self.run(
            AmendOrder(
                command_id=self._cid(), instrument_id=IID,
                account_id=kw.pop("account", "acct-" + name), client_order_id=name,
                price=price, qty=qty, ts=self.ts,
            )
        )  # fmt: skip

    def mass_cancel(self, account: str | None = None, side: Side | None = None):
        return self.run(
            MassCancel(command_id=self._cid(), instrument_id=IID, account_id=account,
                       side=side, ts=self.ts)
        )  # fmt: skip

    def mark(self, price: int):
        return self.run(
            UpdateMark(command_id=self._cid(), instrument_id=IID, mark_price=price, ts=self.ts)
        )

    def advance(self, ts: int):
        self.ts = ts
        return self.run(AdvanceTime(command_id=self._cid(), instrument_id=IID, ts=ts))

    def halt(self):
        return self.run(HaltInstrument(command_id=self._cid(), instrument_id=IID, ts=self.ts))

    def resume(self):
        return self.run(ResumeInstrument(command_id=self._cid(), instrument_id=IID, ts=self.ts))

    def expire(self):
        return self.run(ExpireInstrument(command_id=self._cid(), instrument_id=IID, ts=self.ts))

    # -- views -------------------------------------------------------------------------
    def name(self, order_id: int) -> str:
        return self.names.get(order_id, f"#{order_id}")

    def summary(self, events: list[Any]) -> list[tuple]:
        return [self.summarize(ev) for ev in events]

    def summarize(self, ev: Any) -> tuple:
        n = self.name
        if isinstance(ev, OrderAccepted):
            return ("accepted", ev.client_order_id, ev.price)
        if isinstance(ev, OrderRejected):
            return ("rejected", ev.client_order_id, ev.code)
        if isinstance(ev, TradeExecuted):
            return ("trade", n(ev.maker_order_id), n(ev.taker_order_id), ev.price, ev.qty)
        if isinstance(ev, OrderPartiallyFilled):
            return ("partial", n(ev.order_id), ev.price, ev.qty, ev.leaves_qty)
        if isinstance(ev, OrderFilled):
            return ("filled", n(ev.order_id), ev.price, ev.qty)
        if isinstance(ev, OrderCancelled):
            return ("cancelled", n(ev.order_id), ev.leaves_qty, ev.code)
        if isinstance(ev, OrderExpired):
            return ("expired", n(ev.order_id), ev.leaves_qty, ev.code)
        if isinstance(ev, OrderAmended):
            return ("amended", n(ev.order_id), ev.price, ev.qty, ev.leaves_qty, ev.priority_kept)
        if isinstance(ev, OrderTriggered):
            return ("triggered", n(ev.order_id), ev.trigger_price)
        if isinstance(ev, CommandRejected):
            return ("command_rejected", ev.command, ev.code)
        if isinstance(ev, InstrumentStatusChanged):
            return ("status", ev.status)
        raise AssertionError(f"unexpected event {ev!r}")

    def trades(self, events: list[Any]) -> list[tuple]:
        """Only the trades, as (maker, taker, price, qty)."""
        return [s[1:] for s in self.summary(events) if s[0] == "trade"]

    def book(self) -> dict[str, list[tuple[str, int, int, int]]]:
        """Live orders per side in priority order: (name, price, leaves, visible)."""
        out: dict[str, list[tuple[str, int, int, int]]] = {"bids": [], "asks": []}
        for o in self.engine.open_orders():
            if o.visible_qty:  # resting (pending stops display nothing)
                side = "bids" if o.side is BUY else "asks"
                out[side].append((o.client_order_id, o.price, o.leaves_qty, o.visible_qty))
        return out
