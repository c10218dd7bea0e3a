"""Shared helpers of the RFQ tests: a standard config, legs, marks and a step runner."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from streams.rfq import Leg, Outcome, RfqConfig, RfqState
from streams.rfq.state import RfqStatus

CONFIG = RfqConfig(ttl_ms=10_000, quote_ttl_ms=3_000)
C1, C2, C3 = "BTC-27JUN25-60000-C", "BTC-27JUN25-70000-C", "BTC-27JUN25-80000-C"
SPREAD = (Leg(C1, "buy"), Leg(C2, "sell"))
MARKS = {C1: D("5000"), C2: D("2000"), C3: D("800")}
TAKER = "taker"

_DEFAULTS: dict[str, dict[str, Any]] = {
    "open": {"taker": TAKER, "legs": SPREAD, "amount": D("10"), "config": CONFIG},
    "quote": {"amount": D("10")},
    "accept": {"account": TAKER, "marks": MARKS},
    "cancel": {"account": TAKER},
}


def apply(state: RfqState, step: tuple[Any, ...]) -> Outcome:
    """``(method, command id, now_ms, kwargs)``; ``expire`` takes ``(now_ms, command id)``."""
    method, command_id, now_ms, kwargs = step
    if method == "expire":
        return state.expire(now_ms, command_id)
    return getattr(state, method)(command_id, now_ms=now_ms,
                                  **{**_DEFAULTS.get(method, {}), **kwargs})


def opened(**kwargs: Any) -> RfqState:
    state = RfqState("r1")
    assert apply(state, ("open", "open-1", 1_000, kwargs)).ok
    return state


def clear_both(state: RfqState, now_ms: int | None = None) -> list[Outcome]:
    """Risk holds both sides of the trade being cleared (taker first): it is accepted."""
    if state.status is not RfqStatus.CLEARING or state.trade is None:
        return []
    trade, attempt = state.trade, state.attempt
    at = state.clock_ms if now_ms is None else now_ms
    return [state.clear(f"clear-{attempt}-{role}", attempt=attempt or "", account=account,
                        risk_code=None, now_ms=at)
            for role, account in (("t", trade.taker), ("m", trade.maker))]
