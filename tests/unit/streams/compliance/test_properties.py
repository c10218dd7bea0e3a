"""Properties of screening over random streams: a replay changes nothing, the state
round-trips through JSON at every step (and the copy goes on exactly like the original),
case ids are a function of the input sequence, and small unrelated traffic opens no case."""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.compliance import AmlRules, Case, Screener, Trade, Transfer
from tests.unit.streams.compliance.compliance_support import T0, D

PROPS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Small windows and caps so that windows fill, slide, fire and get evicted within a stream.
RULES = AmlRules(velocity_window_ms=5_000, velocity_max_transfers=3,
                 outflow_window_ms=5_000, outflow_max_usdt=D(20_000),
                 structuring_min_count=2, structuring_window_ms=5_000,
                 round_trip_window_ms=3_000, max_window_events=4, max_windows=6)
RELATED = {"a": "g1", "b": "g1", "c": "g2", "d": "g2"}
SANCTIONED = frozenset({"0xbad"})

ACCOUNTS = ["a", "b", "c", "d", "e"]
AMOUNTS = [D("0.01"), D(100), D("8999.99"), D(9000), D(9500), D("9999.99"), D(10_000),
           D(25_000)]
PRICES = [D(100), D("100.5"), D(102)]


@st.composite
def events(draw: st.DrawFn, max_size: int = 30) -> list[Transfer | Trade]:
    """A stream of transfers and trades with unique ids; venue time mostly moves forward,
    sometimes jumps back a little (late events) or far ahead (windows expire)."""
    out: list[Transfer | Trade] = []
    ts = T0
    for n in range(draw(st.integers(0, max_size))):
        ts = max(0, ts + draw(st.sampled_from([0, 1, 300, 900, 2_500, 6_000, -400, -7_000])))
        if draw(st.booleans()):
            out.append(Transfer(f"t{n}", draw(st.sampled_from(ACCOUNTS)),
                                draw(st.sampled_from(["deposit", "withdrawal"])),
                                draw(st.sampled_from(AMOUNTS)), ts,
                                draw(st.sampled_from([None, "0xbad", "0xBAD", "addr1"]))))
        else:
            out.append(Trade(f"S:{n}", draw(st.sampled_from(["BTC-USDT", "ETH-USDT"])),
                             draw(st.sampled_from(PRICES)), draw(st.sampled_from([D(1), D(2)])),
                             draw(st.sampled_from(ACCOUNTS)), draw(st.sampled_from(ACCOUNTS)),
                             ts))
    return out


def feed(screener: Screener, event: Transfer | Trade) -> list[Case]:
    if isinstance(event, Transfer):
        return screener.on_transfer(event)
    return screener.on_trade(event)


def fresh() -> Screener:
    return Screener(RULES, RELATED, SANCTIONED)


@PROPS
@given(events())
def test_replaying_any_event_changes_nothing_and_raises_nothing(stream: list) -> None:
    s = fresh()
    for i, event in enumerate(stream):
        feed(s, event)
        record = s.to_record()
        for earlier in stream[: i + 1]:
            assert feed(s, earlier) == []
            assert s.to_record() == record


@PROPS
@given(events())
def test_the_state_round_trips_at_every_step_and_goes_on_the_same(stream: list) -> None:
    original = fresh()
    for event in stream:
        record = json.loads(json.dumps(original.to_record()))
        restored = Screener.from_record(record, RULES, RELATED, SANCTIONED)
        assert restored.to_record() == record
        assert feed(restored, event) == feed(original, event)
        assert restored.to_record() == original.to_record()


@PROPS
@given(events())
def test_cases_are_a_function_of_the_input_sequence(stream: list) -> None:
    first, second = fresh().screen(stream), fresh().screen(stream)
    assert first == second
    ids = [c.case_id for c in first]
    assert not [i for i, n in Counter(ids).items() if n > 1], "a case id raised twice"
    seen_ids = {e.transfer_id if isinstance(e, Transfer) else e.trade_id for e in stream}
    for case in first:
        rule, account, evidence_id = case.case_id.split(":", 2)
        assert (rule, account) == (case.rule, case.accounts[0])
        assert evidence_id == case.evidence[0].event_id
        assert {e.event_id for e in case.evidence} <= seen_ids
        assert case.opened_ts_ms == max(e.ts_ms for e in case.evidence)
        assert Case.from_record(json.loads(json.dumps(case.to_record()))) == case


@st.composite
def small_unrelated(draw: st.DrawFn) -> list[Transfer | Trade]:
    """Transfers under every threshold (each below the structuring band, at most
    ``velocity_max_transfers`` per account so neither count nor outflow can trip), no
    sanctioned address, and trades only between different accounts in no group."""
    rules = AmlRules()
    per_account: Counter[str] = Counter()
    out: list[Transfer | Trade] = []
    ts = T0
    for n in range(draw(st.integers(0, 60))):
        ts += draw(st.integers(0, 120_000))
        if draw(st.booleans()):
            account = draw(st.sampled_from([f"u{i}" for i in range(8)]))
            if per_account[account] >= rules.velocity_max_transfers:
                continue
            per_account[account] += 1
            cents = draw(st.integers(1, int(rules.structuring_low_usdt * 100) - 1))
            out.append(Transfer(f"t{n}", account,
                                draw(st.sampled_from(["deposit", "withdrawal"])),
                                D(cents) / 100, ts, draw(st.sampled_from([None, "addr1"]))))
        else:
            buyer, seller = draw(st.lists(st.sampled_from([f"v{i}" for i in range(6)]),
                                          min_size=2, max_size=2, unique=True))
            out.append(Trade(f"S:{n}", "BTC-USDT", draw(st.sampled_from(PRICES)), D(1),
                             buyer, seller, ts))
    return out


@PROPS
@given(small_unrelated())
def test_small_unrelated_traffic_opens_no_case(stream: list) -> None:
    s = Screener(AmlRules(), related={"a": "g1", "b": "g1"}, sanctioned=SANCTIONED)
    assert s.screen(stream) == []
