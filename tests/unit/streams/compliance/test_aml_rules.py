"""AML rules, one scenario table each: a rule fires at its threshold and not below, windows
slide, related accounts count, a case is raised once per evidence set."""

from __future__ import annotations

import json

import pytest

from streams.compliance import (
    AmlRules,
    Case,
    ComplianceCode,
    ComplianceError,
    Screener,
    Trade,
    Transfer,
    normalize_address,
)
from tests.unit.streams.compliance.compliance_support import (
    RELATED,
    SMALL,
    T0,
    D,
    dep,
    rules_of,
    trade,
    wd,
)

Events = list[Transfer | Trade]


def screen(events: Events, rules: AmlRules = SMALL, **config: object) -> list[Case]:
    return Screener(rules, **config).screen(events)  # type: ignore[arg-type]


def of_rule(cases: list[Case], rule: str) -> list[Case]:
    return [c for c in cases if c.rule == rule]


# -- velocity: more than 3 transfers within 1 s (SMALL) ----------------------------------
@pytest.mark.parametrize(("events", "case_ids"), [
    pytest.param([dep(i, 10, at=i) for i in range(3)], [], id="3 transfers: at the limit"),
    pytest.param([dep(i, 10, at=i) for i in range(4)], ["velocity_count:a:t0"], id="4 fire"),
    pytest.param([dep(0, 10), wd(1, 10, at=1), dep(2, 10, at=2), wd(3, 10, at=3)],
                 ["velocity_count:a:t0"], id="both directions count"),
    pytest.param([dep(0, 10, at=0), dep(1, 10, at=400), dep(2, 10, at=800),
                  dep(3, 10, at=1000)], [], id="first slid out at exactly one window"),
    pytest.param([dep(0, 10, at=0), dep(1, 10, at=400), dep(2, 10, at=800),
                  dep(3, 10, at=999)], ["velocity_count:a:t0"], id="just inside the window"),
    pytest.param([dep(0, 10, at=0), dep(1, 10, at=1, account="b"), dep(2, 10, at=2),
                  dep(3, 10, at=3, account="b")], [], id="accounts do not pool"),
    pytest.param([dep(i, 10, at=i) for i in range(7)], ["velocity_count:a:t0"],
                 id="evidence consumed: 3 more do not fire again"),
    pytest.param([dep(i, 10, at=i) for i in range(8)],
                 ["velocity_count:a:t0", "velocity_count:a:t4"], id="4 new ones do"),
])
def test_velocity_count(events: Events, case_ids: list[str]) -> None:
    cases = of_rule(screen(events), "velocity_count")
    assert [c.case_id for c in cases] == case_ids
    for case in cases:
        assert len(case.evidence) == 4
        assert case.code == ComplianceCode.AML_VELOCITY_COUNT
        assert case.opened_ts_ms == case.evidence[-1].ts_ms


# -- outflow: more than 1,000 USDT withdrawn within 1 s (SMALL) --------------------------
@pytest.mark.parametrize(("events", "case_ids"), [
    pytest.param([wd(0, 500), wd(1, 500, at=1)], [], id="exactly the limit"),
    pytest.param([wd(0, 500), wd(1, "500.01", at=1)], ["velocity_outflow:a:t0"], id="over"),
    pytest.param([wd(0, "1000.01")], ["velocity_outflow:a:t0"], id="one big withdrawal"),
    pytest.param([dep(0, 5000), wd(1, 600, at=1)], [], id="deposits do not count"),
    pytest.param([wd(0, 600, at=0), wd(1, 600, at=1000)], [], id="slid out"),
    pytest.param([wd(0, 600, at=0), wd(1, 600, at=999)], ["velocity_outflow:a:t0"],
                 id="inside"),
    pytest.param([wd(0, 600), wd(1, 600, at=1, account="b")], [], id="per account"),
])
def test_velocity_outflow(events: Events, case_ids: list[str]) -> None:
    cases = of_rule(screen(events), "velocity_outflow")
    assert [c.case_id for c in cases] == case_ids
    assert all(c.severity == "high" for c in cases)


# -- structuring: 3+ transfers in [9,000, 10,000) of one direction within 1 s -------------
@pytest.mark.parametrize(("events", "case_ids"), [
    pytest.param([dep(i, 9000, at=i) for i in range(3)], ["structuring:a:t0"],
                 id="exactly 90% counts"),
    pytest.param([dep(i, "8999.99", at=i) for i in range(3)], [], id="below 90%"),
    pytest.param([dep(i, "9999.99", at=i) for i in range(3)], ["structuring:a:t0"],
                 id="just under the threshold"),
    pytest.param([dep(i, 10000, at=i) for i in range(3)], [], id="at the threshold: reported"),
    pytest.param([dep(i, 9500, at=i) for i in range(2)], [], id="2 are not enough"),
    pytest.param([dep(0, 9500), dep(1, 9500, at=1), wd(2, 9500, at=2)], [],
                 id="directions apart"),
    pytest.param([wd(i, 9500, at=i) for i in range(3)], ["structuring:a:t0"],
                 id="withdrawals too"),
    pytest.param([dep(0, 9500, at=0), dep(1, 9500, at=500), dep(2, 9500, at=1000)], [],
                 id="slid out"),
    pytest.param([dep(0, 9500, at=0), dep(1, 9500, at=500), dep(2, 9500, at=999)],
                 ["structuring:a:t0"], id="inside"),
    pytest.param([dep(0, 9500), dep(1, 5000, at=1), dep(2, 9500, at=2), dep(3, 9500, at=3)],
                 ["structuring:a:t0"], id="small ones in between are not evidence"),
    pytest.param([dep(0, 9500), dep(1, 9500, at=1, account="b"), dep(2, 9500, at=2)], [],
                 id="per account"),
])
def test_structuring(events: Events, case_ids: list[str]) -> None:
    cases = of_rule(screen(events, SMALL), "structuring")
    assert [c.case_id for c in cases] == case_ids
    for case in cases:
        assert len(case.evidence) == 3
        assert all(D(9000) <= e.amount < D(10000) for e in case.evidence)


# -- wash trades --------------------------------------------------------------------------
@pytest.mark.parametrize(("buyer", "seller", "accounts", "severity"), [
    ("a", "a", ("a",), "medium"),          # with itself
    ("a", "b", ("a", "b"), "high"),        # same group
    ("x", "y", ("x", "y"), "high"),        # another group
    ("a", "x", None, None),                # different groups
    ("a", "q", None, None),                # q in no group
    ("q", "r", None, None),                # neither in a group
])
def test_wash_trade(buyer: str, seller: str, accounts: tuple[str, ...] | None,
                    severity: str | None) -> None:
    cases = of_rule(screen([trade(1, buyer, seller)], related=RELATED), "wash_trade")
    if accounts is None:
        assert cases == []
        return
    [case] = cases
    assert case.accounts == accounts
    assert case.severity == severity
    assert case.case_id == f"wash_trade:{buyer}:BTC-USDT:1"
    assert case.evidence[0].amount == D(100)


# -- round trips (related a, b, c; 1 s window; 1%) ----------------------------------------
@pytest.mark.parametrize(("events", "case_ids"), [
    pytest.param([trade(1, "a", "b", 100), trade(2, "b", "a", 100, at=500)],
                 ["round_trip:b:BTC-USDT:1"], id="buy then sell back"),
    pytest.param([trade(1, "b", "a", 100), trade(2, "a", "b", 100, at=500)],
                 ["round_trip:a:BTC-USDT:1"], id="sell then buy back"),
    pytest.param([trade(1, "a", "b", 100), trade(2, "b", "a", 101, at=500)],
                 ["round_trip:b:BTC-USDT:1"], id="price exactly 1% away"),
    pytest.param([trade(1, "a", "b", 100), trade(2, "b", "a", 99, at=500)],
                 ["round_trip:b:BTC-USDT:1"], id="1% lower"),
    pytest.param([trade(1, "a", "b", 100), trade(2, "b", "a", "101.01", at=500)], [],
                 id="price more than 1% away"),
    pytest.param([trade(1, "a", "b", 100), trade(2, "b", "a", 100, at=1000)], [],
                 id="slid out"),
    pytest.param([trade(1, "a", "b", 100), trade(2, "b", "a", 100, at=999)],
                 ["round_trip:b:BTC-USDT:1"], id="inside"),
    pytest.param([trade(1, "a", "b", 100), trade(2, "b", "a", 100, at=1, symbol="ETH-USDT")],
                 [], id="another symbol"),
    pytest.param([trade(1, "a", "b", 100), trade(2, "a", "b", 100, at=1)], [],
                 id="same side twice"),
    pytest.param([trade(1, "a", "b", 100), trade(2, "c", "a", 100, at=1)],
                 ["round_trip:a:BTC-USDT:1"], id="sold to another related account"),
    pytest.param([trade(1, "a", "q", 100), trade(2, "q", "a", 100, at=1)], [],
                 id="unrelated counterparty"),
    pytest.param([trade(1, "a", "b", 100), trade(2, "q", "a", 100, at=1)], [],
                 id="closed with an unrelated account"),
    pytest.param([trade(1, "a", "a", 100), trade(2, "a", "a", 100, at=1)], [],
                 id="self trades are wash trades only"),
    pytest.param([trade(1, "a", "b", 100), trade(2, "b", "a", 100, at=1),
                  trade(3, "a", "b", 100, at=2), trade(4, "b", "a", 100, at=3)],
                 ["round_trip:b:BTC-USDT:1", "round_trip:b:BTC-USDT:3"],
                 id="each leg closes one trip"),
])
def test_round_trip(events: Events, case_ids: list[str]) -> None:
    cases = screen(events, related=RELATED)
    assert [c.case_id for c in of_rule(cases, "round_trip")] == case_ids
    for case in of_rule(cases, "round_trip"):
        first, then = case.evidence
        assert first.side != then.side
        assert first.event_id != then.event_id
        assert case.opened_ts_ms == then.ts_ms


def test_a_round_trip_names_every_account_once() -> None:
    cases = screen([trade(1, "a", "b", 100), trade(2, "c", "a", 100, at=1)], related=RELATED)
    [trip] = of_rule(cases, "round_trip")
    assert trip.accounts == ("a", "b", "c")
    assert [e.side for e in trip.evidence] == ["buy", "sell"]
    assert rules_of(cases) == ["wash_trade", "wash_trade", "round_trip"]


# -- sanctioned addresses -----------------------------------------------------------------
SANCTIONED = frozenset({"0xAbCdEf0123", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"})


@pytest.mark.parametrize(("transfer", "fires"), [
    (dep(1, 5, address="0xAbCdEf0123"), True),
    (wd(1, 5, address="0xAbCdEf0123"), True),
    (dep(1, 5, address="0xabcdef0123"), True),        # hex: case-insensitive
    (wd(1, 5, address=" 0XABCDEF0123 "), True),       # trimmed
    (dep(1, 5, address="1BoatSLRHtKNngkdXEeobR76b53LETtpyT"), True),
    (dep(1, 5, address="1boatslrhtknngkdxeeobr76b53lettpyt"), False),  # base58: exact case
    (dep(1, 5, address="0xabcdef0124"), False),
    (dep(1, 5, address=None), False),
])
def test_sanctioned_address_in_either_direction(transfer: Transfer, fires: bool) -> None:
    cases = of_rule(screen([transfer], sanctioned=SANCTIONED), "sanctioned_address")
    assert bool(cases) is fires
    if fires:
        assert cases[0].case_id == "sanctioned_address:a:t1"
        assert cases[0].severity == "critical"
        assert cases[0].evidence[0].address == transfer.address


def test_normalize_address() -> None:
    assert normalize_address(" 0xAB ") == "0xab"
    assert normalize_address("bc1QAB") == "bc1QAB"


# -- once per evidence: replays, late events ----------------------------------------------
def test_a_replayed_event_raises_nothing_and_changes_nothing() -> None:
    s = Screener(SMALL, RELATED, frozenset({"0xbad"}))
    t = dep(1, 9500, address="0xbad")
    assert rules_of(s.on_transfer(t)) == ["sanctioned_address"]
    before = s.to_record()
    assert s.on_transfer(t) == []
    assert s.to_record() == before
    w = trade(1, "a", "b")
    assert rules_of(s.on_trade(w)) == ["wash_trade"]
    assert s.on_trade(w) == []


def test_a_late_event_cannot_open_a_case() -> None:
    s = Screener(SMALL)
    for i in range(3):
        s.on_transfer(dep(i, 10, at=2000 + i))
    assert s.on_transfer(dep(9, 10, at=500)) == []  # older than the window: not counted
    assert rules_of(s.on_transfer(dep(4, 10, at=2004))) == ["velocity_count"]


def test_an_out_of_order_event_inside_the_window_counts_in_time_order() -> None:
    s = Screener(SMALL)
    s.screen([dep(0, 10, at=100), dep(1, 10, at=300), dep(2, 10, at=400)])
    [case] = s.on_transfer(dep(3, 10, at=50))
    assert case.case_id == "velocity_count:a:t3"  # the earliest evidence names it
    assert [e.event_id for e in case.evidence] == ["t3", "t0", "t1", "t2"]
    assert case.opened_ts_ms == T0 + 400


# -- the defaults -------------------------------------------------------------------------
def test_the_default_rules_fire_at_their_documented_thresholds() -> None:
    rules = AmlRules()
    hour = 3_600_000
    many = [dep(i, 10, at=i * 1000) for i in range(10)]
    assert screen(many, rules) == []
    assert rules_of(screen([*many, dep(10, 10, at=10_000)], rules)) == ["velocity_count"]
    out = [wd(0, 50_000), wd(1, 50_000, at=23 * hour)]
    assert screen(out, rules) == []
    assert rules_of(screen([*out, wd(2, "0.01", at=23 * hour + 1)], rules)) == [
        "velocity_outflow"]
    spaced = [dep(i, 9_000, at=i * 35 * hour) for i in range(3)]  # 70 h apart in all
    assert rules_of(screen(spaced, rules)) == ["structuring"]
    assert screen([dep(i, 9_000, at=i * 36 * hour) for i in range(3)], rules) == []
    trip = [trade(1, "a", "b", 100), trade(2, "b", "a", 100, at=599_999)]
    assert "round_trip" in rules_of(screen(trip, rules, related=RELATED))
    late = [trade(1, "a", "b", 100), trade(2, "b", "a", 100, at=600_000)]
    assert "round_trip" not in rules_of(screen(late, rules, related=RELATED))


@pytest.mark.parametrize("bad", [
    {"velocity_window_ms": 0}, {"velocity_max_transfers": 1.5},
    {"outflow_max_usdt": 1000}, {"outflow_max_usdt": D(0)},
    {"structuring_floor": D(1)}, {"structuring_floor": D(0)},
    {"round_trip_price_tolerance": D(-1)}, {"round_trip_price_tolerance": 0.01},
    {"max_window_events": 3}, {"max_seen_ids": 0},
])
def test_rules_refuse_what_cannot_work(bad: dict[str, object]) -> None:
    with pytest.raises(ComplianceError):
        AmlRules(**bad)  # type: ignore[arg-type]


# -- inputs -------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: Transfer("t", "a", "deposit", 1.0, 0),  # type: ignore[arg-type]
    lambda: Transfer("t", "a", "deposit", D(0), 0),
    lambda: Transfer("t", "a", "refund", D(1), 0),  # type: ignore[arg-type]
    lambda: Transfer("t", "a", "deposit", D(1), -1),
    lambda: Transfer("t", "a", "deposit", D(1), True),  # type: ignore[arg-type]
    lambda: Transfer("", "a", "deposit", D(1), 0),
    lambda: Transfer("t", "a", "deposit", D(1), 0, ""),
    lambda: Trade("x", "BTC-USDT", D(0), D(1), "a", "b", 0),
    lambda: Trade("x", "BTC-USDT", D(1), D("NaN"), "a", "b", 0),
    lambda: Trade("x", "BTC-USDT", D(1), D(1), "", "b", 0),
    lambda: Transfer.from_signed("t", "a", D(0), 0),
    lambda: Trade.from_aggressor("x", "S", D(1), D(1), "hold", "m", "t", 0),
])
def test_malformed_inputs_are_refused(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ComplianceError):
        make()


def test_inputs_from_the_contracts_shape() -> None:
    assert Transfer.from_signed("t", "a", D(-5), 1) == Transfer("t", "a", "withdrawal", D(5), 1)
    assert Transfer.from_signed("t", "a", D(5), 1).direction == "deposit"
    bought = Trade.from_aggressor("x", "S", D(2), D(3), "buy", "maker", "taker", 1)
    sold = Trade.from_aggressor("x", "S", D(2), D(3), "sell", "maker", "taker", 1)
    assert (bought.buyer, bought.seller) == ("taker", "maker")
    assert (sold.buyer, sold.seller) == ("maker", "taker")
    assert bought.notional == D(6)


# -- bounds -------------------------------------------------------------------------------
def test_state_is_bounded() -> None:
    rules = AmlRules(velocity_max_transfers=3, structuring_min_count=3, max_window_events=4,
                     max_windows=3, max_seen_ids=5, max_raised_cases=2,
                     velocity_window_ms=10**9)
    s = Screener(rules, sanctioned=frozenset({"0xbad"}))
    for i in range(20):  # small withdrawals: the outflow window only ever grows
        s.on_transfer(wd(i, 1, at=i, account="a", address="0xbad"))
    [outflow] = [items for key, items in s.to_record()["windows"] if key[0] ==
                 "velocity_outflow"]
    assert [e["event_id"] for e in outflow] == ["t16", "t17", "t18", "t19"]
    for i in range(20, 30):  # many accounts: the least recently used windows go
        s.on_transfer(dep(i, 10, at=i, account=f"acc{i}"))
    record = s.to_record()
    assert [key for key, _ in record["windows"]] == [
        ["velocity_count", "acc27"], ["velocity_count", "acc28"], ["velocity_count", "acc29"]]
    assert record["seen"] == [f"transfer:t{i}" for i in range(25, 30)]
    # the 4th transfer of every 4 also fired velocity: the last two case ids raised
    assert record["raised"] == ["sanctioned_address:a:t19", "velocity_count:a:t16"]


def test_expired_windows_are_dropped_when_time_moves_on() -> None:
    s = Screener(SMALL)
    s.on_transfer(dep(0, 10, at=0, account="old"))
    s.on_transfer(dep(1, 10, at=5_000, account="new"))
    assert [key for key, _ in s.to_record()["windows"]] == [["velocity_count", "new"]]


def test_cases_and_state_are_json_records() -> None:
    s = Screener(SMALL, RELATED, frozenset({"0xbad"}))
    cases = s.screen([dep(0, 9500, address="0xbad"), dep(1, 9500, at=1), dep(2, 9500, at=2),
                      trade(1, "a", "b", "100.5", qty="0.25", at=3),
                      trade(2, "b", "a", "100.25", qty="0.25", at=4)])
    assert rules_of(cases) == ["sanctioned_address", "structuring", "wash_trade",
                               "wash_trade", "round_trip"]
    for case in cases:
        assert Case.from_record(json.loads(json.dumps(case.to_record()))) == case
    record = json.loads(json.dumps(s.to_record()))
    again = Screener.from_record(record, SMALL, RELATED, frozenset({"0xbad"}))
    assert again.to_record() == record
    assert again == s
    with pytest.raises(ComplianceError):
        Screener.from_record({**record, "version": 99})
