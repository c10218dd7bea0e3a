"""Property tests: random command streams against one RFQ.

After every command: the same command id again is the same outcome and changes nothing; a
state restored from its JSON record answers the command exactly as the live one did; events
are numbered gap-free; at most one accept ever, never after the RFQ's or the quote's expiry,
and only once risk cleared both sides of it (answers come in any order, stale or refused);
an accept of the best quote takes the best live one of a shadow book built from the events
alone; the legs of a trade net to its price exactly, each leg at a positive price.
"""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import event as note
from hypothesis import strategies as st

from streams.rfq import (
    Leg,
    Outcome,
    Quote,
    QuoteAdded,
    QuoteCancelled,
    QuoteReplaced,
    RfqAccepted,
    RfqCancelled,
    RfqCode,
    RfqExpired,
    RfqState,
    RfqStatus,
    net_price,
)
from streams.rfq.events import RfqNotCleared
from streams.rfq.values import quote_side_for
from tests.unit.streams.rfq.rfq_support import TAKER, apply

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SYMBOLS = ["S1", "S2", "S3", "S4"]
MAKERS = ["m1", "m2", "m3", TAKER]
QUOTE_IDS = [f"q{i}" for i in range(6)]
FINAL = {RfqStatus.ACCEPTED, RfqStatus.EXPIRED, RfqStatus.CANCELLED}

prices = st.integers(-2000, 6000).map(lambda n: D(n) / 4)


@st.composite
def legs(draw: st.DrawFn) -> tuple[Leg, ...]:
    n = draw(st.integers(1, 4))
    symbols = draw(st.permutations(SYMBOLS))[:n]
    return tuple(Leg(s, draw(st.sampled_from(["buy", "sell"])), draw(st.sampled_from([1, 1, 2, 3])))
                 for s in symbols)


@st.composite
def commands(draw: st.DrawFn) -> tuple[list[tuple[str, int, dict[str, Any]]], dict[str, D]]:
    """``(method, time delta, kwargs)`` and the marks; ``replay`` re-sends an earlier command.
    Quote prices sit near the structure's value at the marks (so most accepts can trade),
    with some far off (so leg prices go negative too)."""
    amount = D(draw(st.integers(1, 20)))
    marks = {s: D(draw(st.integers(1, 4000))) / 2 for s in SYMBOLS}
    structure = draw(legs())
    fair = net_price(structure, [marks[leg.symbol] for leg in structure])
    near = st.integers(-40, 40).map(lambda n: fair + D(n) / 4)
    out: list[tuple[str, int, dict[str, Any]]] = [
        ("open", 0, {"legs": structure, "amount": amount,
                     "one_sided": draw(st.sampled_from([None, None, "buy", "sell"]))})]
    delta = st.sampled_from([0, 0, 1, 10, 100, 100, 500, 1000, 2999, 3000, -300])
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["quote"] * 6 + ["cancel_quote", "accept", "accept",
                                                      "accept", "cancel", "expire", "replay",
                                                      "open", "clear", "clear", "clear"]))
        if kind == "quote":
            kwargs: dict[str, Any] = {
                "quote_id": draw(st.sampled_from(QUOTE_IDS)),
                "maker": draw(st.sampled_from(MAKERS)),
                "side": draw(st.sampled_from(["bid", "ask"])),
                "price": draw(st.one_of(near, near, near, prices)),
                "amount": amount + draw(st.sampled_from([0, 0, 0, 1, -1]))}
        elif kind == "cancel_quote":
            kwargs = {"maker": draw(st.sampled_from(MAKERS)),
                      "quote_id": draw(st.sampled_from(QUOTE_IDS))}
        elif kind == "accept":
            kwargs = {"account": draw(st.sampled_from([TAKER, TAKER, "m1"])),
                      "side": draw(st.sampled_from(["buy", "sell"])),
                      "quote_id": draw(st.sampled_from([None, None, *QUOTE_IDS[:4]])),
                      "limit_price": draw(st.one_of(st.none(), st.none(), near))}
        elif kind == "cancel":
            kwargs = {"account": draw(st.sampled_from([TAKER, "m2", "m3"]))}
        elif kind == "clear":
            kwargs = {"who": draw(st.sampled_from(["taker", "maker", "maker", "other"])),
                      "risk_code": draw(st.sampled_from([None, None, None, 5002])),
                      "stale": draw(st.sampled_from([False, False, False, True]))}
        elif kind == "replay":
            kwargs = {"index": draw(st.integers(0, len(out) - 1))}
        else:
            kwargs = {}
        out.append((kind, draw(delta), kwargs))
    return out, marks


def _shadow(book: dict[tuple[str, str], Quote], outcome: Outcome) -> None:
    """A quote book kept from the events only."""
    for event in outcome.events:
        if isinstance(event, QuoteAdded | QuoteReplaced):
            book[(event.quote.maker, event.quote.side)] = event.quote
        elif isinstance(event, QuoteCancelled):
            del book[(event.maker, event.side)]
        elif isinstance(event, RfqNotCleared) and event.code is RfqCode.MAKER_NOT_CLEARED:
            book.pop((event.trade.maker, quote_side_for(event.trade.side)), None)
        elif isinstance(event, RfqAccepted | RfqExpired | RfqCancelled):
            book.clear()


def _best(book: dict[tuple[str, str], Quote], side: str, now: int) -> Quote | None:
    live = [q for q in book.values() if q.live_at(now) and q.side == ("ask" if side == "buy"
                                                                       else "bid")]
    if not live:
        return None
    sign = 1 if side == "buy" else -1
    return min(live, key=lambda q: (sign * q.price, q.seq))


@PROPS
@given(stream=commands())
def test_random_command_streams(
        stream: tuple[list[tuple[str, int, dict[str, Any]]], dict[str, D]]) -> None:
    cmds, mark_of = stream
    state = RfqState("r1")
    book: dict[tuple[str, str], Quote] = {}
    sent: list[tuple[Any, ...]] = []
    now = 1_000
    accepts = 0
    clearing: set[str] = set()  # sides risk held of the trade being cleared
    for n, (kind, delta, kwargs) in enumerate(cmds):
        now = max(0, now + delta)
        if kind == "replay":
            step = sent[min(kwargs["index"], len(sent) - 1)]
        else:
            args = dict(kwargs)
            if kind == "accept":
                args["marks"] = mark_of
            if kind == "clear":
                trade = state.trade
                who = args.pop("who")
                args["account"] = ("m1" if trade is None or who == "other"
                                   else trade.taker if who == "taker" else trade.maker)
                args["attempt"] = "old" if args.pop("stale") else (state.attempt or "none")
            step = (kind, f"c{n}", now, args)
            sent.append(step)
        status_before, attempt_before, trade_before = state.status, state.attempt, state.trade
        before = json.dumps(state.to_record())
        restored = RfqState.from_record(json.loads(before))
        out = apply(state, step)
        assert apply(restored, step) == out  # the stored record answers like the live state
        assert restored.to_record() == state.to_record()
        if out.replayed:
            assert json.dumps(state.to_record()) == before
        # the same command id again: the same outcome, nothing changes
        # (an expire that found nothing due is not remembered: later it may be due)
        if out.events:
            after = json.dumps(state.to_record())
            again = apply(state, (step[0], step[1], step[2] + 777, step[3]))
            assert again.replayed and again.code == out.code and again.events == out.events
            assert json.dumps(state.to_record()) == after
        # events: numbered gap-free, ids deterministic
        assert [e.seq for e in state.log] == list(range(1, state.seq + 1))
        assert all(e.event_id == f"r1:{e.seq}" for e in state.log)
        if status_before in FINAL:
            assert state.status is status_before
        if out.replayed:
            continue
        if kind == "accept" and out.code is RfqCode.NO_ELIGIBLE_QUOTE:
            assert _best(book, kwargs["side"], out.events[-1].ts_ms) is None
        if kind == "clear" and status_before is RfqStatus.CLEARING and trade_before \
                and step[3]["account"] in (trade_before.taker, trade_before.maker) \
                and step[3]["attempt"] == attempt_before and step[3]["risk_code"] is None:
            clearing.add(step[3]["account"])  # risk held this side (the answer that
            # completes the pair counts too: it was counted after the check, so a trade
            # always looked one side short — found once in ~30 runs)
        if out.trade is not None:
            accepts += 1
            assert state.status is RfqStatus.ACCEPTED and kind == "clear"
            assert set(clearing) == {out.trade.taker, out.trade.maker}  # both sides held
        if out.to_release is not None:
            assert state.status is RfqStatus.OPEN and kind == "clear"
        to_clear = out.to_clear
        if to_clear is not None:
            clearing = set()
            trade = to_clear.trade
            spec = state.spec
            assert spec is not None and state.status is RfqStatus.CLEARING
            assert trade.ts_ms < spec.expires_ms  # nothing accepted after expiry
            quote = next(q for q in book.values() if q.quote_id == trade.quote_id)
            assert quote.live_at(trade.ts_ms) and quote.price == trade.price
            if kwargs["quote_id"] is None:
                assert _best(book, kwargs["side"], trade.ts_ms) == quote
            limit = kwargs["limit_price"]
            if limit is not None:
                assert trade.price <= limit if trade.side == "buy" else trade.price >= limit
            assert net_price(spec.legs, [f.price for f in trade.legs]) == trade.price
            assert all(f.price > 0 for f in trade.legs)
            assert [f.qty for f in trade.legs] == [spec.amount * leg.ratio for leg in spec.legs]
            assert trade.maker != trade.taker == TAKER
        _shadow(book, out)
    note(f"final status {state.status}")
    assert accepts <= 1
    assert sum(isinstance(e, RfqAccepted) for e in state.log) == accepts
