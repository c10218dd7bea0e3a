"""The venue's listings roll with its clock, on Deribit's schedule, deterministically."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.instruments import (
    DEFAULT_SCHEDULE,
    ListingSchedule,
    RollingCatalogue,
    TradingStatus,
    UnknownInstrumentError,
    fixed_clock,
    listed_expiries,
    listed_expiry_dates,
    listing_session,
    listings_at,
    spot_instrument,
)
from streams.instruments.catalogue import InstrumentError
from streams.ledger import FeeSchedule
from streams.listing import venue_catalogue
from streams.matching import MatchingEngine, orders
from streams.risk import AccountState, RiskCode, RiskLimits
from streams.settlement.expiry import due_expiries
from topics.contracts import FundsTransferred, SubmitOrder

D = Decimal
UTC8 = timedelta(hours=8)
#: "Today" when the pinned catalogue stopped working: a Thursday.
TODAY = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def at(y: int, m: int, d: int, hh: int = 12, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, us, tzinfo=UTC)


def days(*text: str) -> list[date]:
    return [date.fromisoformat(t) for t in text]


# -- today: options are listed and tradable ----------------------------------------------------
def test_on_2026_12_03_options_are_listed_and_tradable() -> None:
    catalogue = venue_catalogue(fixed_clock(TODAY))
    options = catalogue.options()
    trading = [o for o in options if o.status is TradingStatus.TRADING]
    assert {o.base for o in trading} == {"BTC", "ETH"}
    assert all(o.expiry is not None and o.expiry > TODAY for o in trading)
    btc = catalogue.get("BTC-20261204-100000-C")
    assert btc is not None and btc.status is TradingStatus.TRADING
    assert btc.expiry == at(2026, 12, 4, 8)
    # the grids, contract size and id format of the pinned catalogue are kept
    assert (btc.tick_size, btc.lot_size, btc.min_qty, btc.contract_size) == (
        D(5), D("0.01"), D("0.01"), D(1))
    eth = catalogue["ETH-20261225-3500-P"]
    assert (eth.tick_size, eth.strike, eth.status) == (D("0.1"), D(3500), TradingStatus.TRADING)
    assert [o.strike for o in catalogue.options("BTC", date(2026, 12, 25))][::2] == [
        D(90000), D(95000), D(100000), D(105000), D(110000)]
    assert catalogue["BTC-USDT"].status is TradingStatus.TRADING


class _NoPrices:
    def index(self, underlying: str) -> Decimal | None:
        return {"BTC": D(100_000), "ETH": D(3500)}.get(underlying)

    def mark(self, symbol: str) -> Decimal | None:
        return None

    def greeks(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        return None


def _risk_code(catalogue: RollingCatalogue, symbol: str, now: datetime) -> RiskCode | None:
    """What the risk check answers a 0.1-contract buy at 100 USDT (as the risk agent calls it:
    with the rolling catalogue itself)."""
    state = AccountState("acc-1")
    state.apply(FundsTransferred(event_id="t-1", ts_event=now, account="acc-1",
                                 transfer_id="1", amount=D(10_000), reference="deposit"),
                catalogue)  # type: ignore[arg-type]
    order = SubmitOrder(command_id=f"cmd-{symbol}", ts_sent=now, account="acc-1", symbol=symbol,
                        client_order_id="c-1", side="buy", order_type="limit", qty=D("0.1"),
                        price=D(100), time_in_force="GTC")
    decision = state.decide(order, now_ms=int(now.timestamp() * 1000), now=now,
                            catalogue=catalogue,  # type: ignore[arg-type]
                            prices=_NoPrices(), limits=RiskLimits(), fees=FeeSchedule())
    return decision.code


def test_risk_accepts_option_orders_today_and_refuses_them_at_expiry() -> None:
    symbol = "ETH-20261211-3500-C"
    assert _risk_code(venue_catalogue(fixed_clock(TODAY)), symbol, TODAY) is None
    expiry = at(2026, 12, 11, 8)
    expired = venue_catalogue(fixed_clock(expiry))
    assert _risk_code(expired, symbol, expiry) is RiskCode.INSTRUMENT_NOT_TRADING  # 5002
    gone = venue_catalogue(fixed_clock(expiry + timedelta(days=1)))
    assert _risk_code(gone, symbol, expiry + timedelta(days=1)) is RiskCode.UNKNOWN_INSTRUMENT


# -- the schedule at several dates (Deribit's rules) -------------------------------------------
SCHEDULE_CASES = [
    pytest.param(  # dailies 4-6; weeklies 4, 11, 18 and 25 (introduced on Thursday 08:00);
        # monthlies Dec, Jan, Feb; quarterlies Dec, Mar, Jun, Sep
        TODAY,
        days("2026-12-04", "2026-12-05", "2026-12-06", "2026-12-11", "2026-12-18",
             "2026-12-25", "2027-01-29", "2027-02-26", "2027-03-26", "2027-06-25",
             "2027-09-24"),
        id="thursday-2026-12-03"),
    pytest.param(  # a Friday before 08:00: its expiry still trades, the listing is Thursday's
        at(2026, 12, 4, 7, 59, 59, 999_999),
        days("2026-12-04", "2026-12-05", "2026-12-06", "2026-12-11", "2026-12-18",
             "2026-12-25", "2027-01-29", "2027-02-26", "2027-03-26", "2027-06-25",
             "2027-09-24"),
        id="friday-before-0800"),
    pytest.param(  # at 08:00 it expired: a new daily (7th); three weeklies again
        at(2026, 12, 4, 8),
        days("2026-12-05", "2026-12-06", "2026-12-07", "2026-12-11", "2026-12-18",
             "2026-12-25", "2027-01-29", "2027-02-26", "2027-03-26", "2027-06-25",
             "2027-09-24"),
        id="friday-at-0800"),
    pytest.param(  # Wednesday before the month's last Friday: three weeklies, three monthlies
        at(2027, 1, 27, 23),
        days("2027-01-28", "2027-01-29", "2027-01-30", "2027-02-05", "2027-02-12",
             "2027-02-26", "2027-03-26", "2027-06-25", "2027-09-24", "2027-12-31"),
        id="month-end-wednesday"),
    pytest.param(  # Thursday 08:00: the next weekly (Feb 19) and monthly (Apr 30) are added
        at(2027, 1, 28, 8),
        days("2027-01-29", "2027-01-30", "2027-01-31", "2027-02-05", "2027-02-12",
             "2027-02-19", "2027-02-26", "2027-03-26", "2027-04-30", "2027-06-25",
             "2027-09-24", "2027-12-31"),
        id="month-end-thursday"),
    pytest.param(  # the monthly expired: three monthlies (Feb, Mar, Apr) again
        at(2027, 1, 29, 8),
        days("2027-01-30", "2027-01-31", "2027-02-01", "2027-02-05", "2027-02-12",
             "2027-02-19", "2027-02-26", "2027-03-26", "2027-04-30", "2027-06-25",
             "2027-09-24", "2027-12-31"),
        id="month-end-after"),
    pytest.param(  # Thursday before the quarter's last Friday: March 2028 quarterly added
        at(2027, 3, 25, 8),
        days("2027-03-26", "2027-03-27", "2027-03-28", "2027-04-02", "2027-04-09",
             "2027-04-16", "2027-04-30", "2027-05-28", "2027-06-25", "2027-09-24",
             "2027-12-31", "2028-03-31"),
        id="quarter-end-thursday"),
    pytest.param(  # the quarterly expired: four quarterlies Jun, Sep, Dec, Mar
        at(2027, 3, 26, 8),
        days("2027-03-27", "2027-03-28", "2027-03-29", "2027-04-02", "2027-04-09",
             "2027-04-16", "2027-04-30", "2027-05-28", "2027-06-25", "2027-09-24",
             "2027-12-31", "2028-03-31"),
        id="quarter-end-after"),
    pytest.param(  # Friday 31 Dec 2027 07:59: daily, weekly, monthly and quarterly at once
        at(2027, 12, 31, 7, 59),
        days("2027-12-31", "2028-01-01", "2028-01-02", "2028-01-07", "2028-01-14",
             "2028-01-21", "2028-01-28", "2028-02-25", "2028-03-31", "2028-06-30",
             "2028-09-29", "2028-12-29"),
        id="year-end-before"),
    pytest.param(
        at(2027, 12, 31, 8),
        days("2028-01-01", "2028-01-02", "2028-01-03", "2028-01-07", "2028-01-14",
             "2028-01-21", "2028-01-28", "2028-02-25", "2028-03-31", "2028-06-30",
             "2028-09-29", "2028-12-29"),
        id="year-end-after"),
]


@pytest.mark.parametrize(("when", "expected"), SCHEDULE_CASES)
def test_the_schedule_follows_deribits_rules(when: datetime, expected: list[date]) -> None:
    assert list(listed_expiry_dates(listing_session(when))) == expected
    assert listed_expiries(when) == [datetime.combine(d, datetime.min.time(), UTC) + UTC8
                                     for d in expected]
    catalogue = listings_at(when)
    trading = {o.expiry for o in catalogue.options() if o.status is TradingStatus.TRADING}
    assert sorted(trading) == listed_expiries(when)  # type: ignore[type-var]
    for underlying in ("BTC", "ETH"):
        assert len([o for o in catalogue.options(underlying)
                    if o.status is TradingStatus.TRADING]) == len(expected) * 5 * 2


@pytest.mark.parametrize(("when", "session"), [
    (at(2026, 12, 4, 7, 59, 59, 999_999), date(2026, 12, 3)),
    (at(2026, 12, 4, 8), date(2026, 12, 4)),
    (at(2027, 1, 1, 0, 30), date(2026, 12, 31)),
    (datetime(2026, 12, 4, 9, 0, tzinfo=UTC).astimezone(ZoneInfo("Asia/Tokyo")),
     date(2026, 12, 4)),  # 18:00 in Tokyo: any timezone-aware time works
])
def test_the_session_starts_at_0800_utc(when: datetime, session: date) -> None:
    assert listing_session(when) == session


def test_the_series_counts_are_configurable() -> None:
    fridays_only = ListingSchedule(dailies=0, weeklies=2, monthlies=0, quarterlies=0)
    assert listed_expiry_dates(date(2026, 12, 2), fridays_only) == tuple(
        days("2026-12-04", "2026-12-11"))
    assert listed_expiry_dates(date(2026, 12, 3), fridays_only) == tuple(  # Thursday: + one
        days("2026-12-04", "2026-12-11", "2026-12-18"))
    no_lead = ListingSchedule(dailies=0, weeklies=2, monthlies=0, quarterlies=0,
                              introduce_days=0)
    assert listed_expiry_dates(date(2026, 12, 3), no_lead) == tuple(
        days("2026-12-04", "2026-12-11"))


@settings(max_examples=200, deadline=None)
@given(st.dates(date(2026, 1, 1), date(2030, 12, 31)), st.integers(1, 60))
def test_once_listed_an_expiry_stays_listed_until_it_expires(start: date, later: int) -> None:
    first = listed_expiry_dates(start)
    then = start + timedelta(days=later)
    assert {d for d in first if d > then} <= set(listed_expiry_dates(then))
    # and every series is there: the next 3 days, the next 3 Fridays, 3 month ends, 4 quarters
    assert {start + timedelta(days=n) for n in (1, 2, 3)} <= set(first)
    assert sum(1 for d in first if d.weekday() == 4) >= 3
    assert all(d > start for d in first)


# -- expiry: non-trading exactly at it, then gone after the grace ------------------------------
def test_an_option_stops_trading_exactly_at_its_expiry() -> None:
    symbol = "BTC-20261204-95000-P"
    expiry = at(2026, 12, 4, 8)
    assert listings_at(expiry - timedelta(microseconds=1))[symbol].status is TradingStatus.TRADING
    assert listings_at(expiry)[symbol].status is TradingStatus.EXPIRED
    last = listings_at(expiry + DEFAULT_SCHEDULE.grace - timedelta(microseconds=1))
    assert last[symbol].status is TradingStatus.EXPIRED  # settlement and positions resolve it
    gone = listings_at(expiry + DEFAULT_SCHEDULE.grace)
    assert gone.get(symbol) is None
    with pytest.raises(UnknownInstrumentError):
        gone[symbol]


def test_the_matching_engine_expires_a_listed_option_at_the_same_instant() -> None:
    option = listings_at(TODAY)["BTC-20261204-100000-C"]
    engine = MatchingEngine.for_instrument(option)
    expiry_ns = option.expiry_ns or 0

    def submit(cid: str, ts: int) -> list[str]:
        command = orders.SubmitOrder(command_id=cid, instrument_id=option.instrument_id,
                                     account_id="acc-1", client_order_id=cid,
                                     side=orders.Side.BUY, qty=1, price=10, ts=ts)
        return [type(e).__name__ for e in engine.process(command)]

    assert submit("c1", expiry_ns - 1) == ["OrderAccepted"]
    assert submit("c2", expiry_ns)[-1] == "OrderRejected"
    assert engine.status is TradingStatus.EXPIRED


def test_the_rolling_catalogue_follows_its_clock() -> None:
    now = [at(2026, 12, 4, 7, 59, 59)]
    catalogue = RollingCatalogue(clock=lambda: now[0])
    expiring, new = "ETH-20261204-3500-C", "ETH-20261207-3500-C"
    assert catalogue[expiring].status is TradingStatus.TRADING and new not in catalogue
    now[0] = at(2026, 12, 4, 8)
    assert catalogue[expiring].status is TradingStatus.EXPIRED
    assert catalogue[new].status is TradingStatus.TRADING
    now[0] = at(2026, 12, 5, 8)
    assert expiring not in catalogue and catalogue.get(expiring) is None
    now[0] = at(2026, 12, 4, 7)  # a clock that goes back is answered too
    assert catalogue[expiring].status is TradingStatus.TRADING


def test_iterating_uses_one_listing_even_across_0800() -> None:
    times: Iterator[datetime] = iter([at(2026, 12, 4, 7, 59, 59), at(2026, 12, 5, 9)])
    catalogue = RollingCatalogue(clock=lambda: next(times))
    assert list(catalogue.values()) == list(listings_at(at(2026, 12, 4, 7, 59, 59)).values())


def test_settlement_still_finds_the_expiries_of_the_last_day() -> None:
    """The settlement leader's candidates are the expiries of the listed instruments; an
    expiry that passed in the last day is among them until the expiry job's horizon ends."""
    expiry = at(2026, 12, 4, 8)
    for now in (expiry, expiry + timedelta(hours=23, minutes=59)):
        listed = venue_catalogue(fixed_clock(now)).values()
        candidates = {(i.base, i.expiry) for i in listed if i.expiry is not None}
        assert due_expiries(candidates, set(), now) == [("BTC", expiry), ("ETH", expiry)]


# -- unknown symbols, determinism, configuration -----------------------------------------------
@pytest.mark.parametrize("symbol", [
    "BTC-20261204-101000-C",  # not on the strike grid
    "BTC-20261204-150000-C",  # beyond the listed strikes
    "BTC-20261207-100000-C",  # a daily not listed yet (from Friday 08:00)
    "BTC-20271231-100000-C",  # a quarterly not listed yet
    "BTC-20261202-100000-C",  # expired more than a day ago
    "BTC-20261208-100000-C",  # a Tuesday: never a weekly
    "SOL-20261204-100-C",  # an underlying without options
    "DOGE-USDT",
    "not an id",
])
def test_a_symbol_the_schedule_does_not_list_is_unknown(symbol: str) -> None:
    catalogue = venue_catalogue(fixed_clock(TODAY))
    assert catalogue.get(symbol) is None and symbol not in catalogue
    with pytest.raises(UnknownInstrumentError):
        catalogue[symbol]


def test_listings_are_a_pure_function_of_the_time() -> None:
    first = list(listings_at(TODAY).items())
    listed_expiry_dates.cache_clear()
    assert list(listings_at(TODAY).items()) == first
    one, two = RollingCatalogue(clock=fixed_clock(TODAY)), RollingCatalogue(
        clock=fixed_clock(TODAY))
    assert list(one.items()) == list(two.items()) == first
    # anywhere in the same session (08:00 to 08:00) the tradable listing is the same
    later = listings_at(at(2026, 12, 4, 7, 59))
    assert [i for i in later.values() if i.status is TradingStatus.TRADING] == [
        i for _, i in first if i.status is TradingStatus.TRADING]


def test_the_venue_catalogue_is_one_object_with_extra_spot_pairs() -> None:
    assert venue_catalogue() is venue_catalogue()
    assert abs(venue_catalogue().now() - datetime.now(UTC)) < timedelta(minutes=1)
    extra = RollingCatalogue(clock=fixed_clock(TODAY)).with_instrument(spot_instrument("BTC"))
    assert len(extra) == len(listings_at(TODAY))  # replaced, not duplicated
    assert extra.at(TODAY) == listings_at(TODAY, extra=[spot_instrument("BTC")])


@pytest.mark.parametrize("changes", [
    {"dailies": -1},
    {"dailies": 0, "weeklies": 0, "monthlies": 0, "quarterlies": 0},
    {"strikes_per_expiry": 0},
    {"grace": timedelta(hours=-1)},
    {"references": (("SOL", D(150)),)},
    {"references": (("BTC", D(0)),)},
])
def test_a_bad_schedule_is_refused(changes: dict) -> None:
    with pytest.raises(InstrumentError):
        ListingSchedule(**changes)


def test_venue_time_must_be_timezone_aware() -> None:
    with pytest.raises(InstrumentError):
        listings_at(datetime(2026, 12, 3, 12))
    with pytest.raises(InstrumentError):
        RollingCatalogue(clock=lambda: datetime(2026, 12, 3, 12)).get("BTC-USDT")
    with pytest.raises(InstrumentError):
        fixed_clock(datetime(2026, 12, 3, 12))


def test_a_schedule_with_its_own_references() -> None:
    schedule = ListingSchedule(references={"ETH": D(2000)}, strikes_per_expiry=3)  # type: ignore[arg-type]
    assert schedule.underlyings == ("ETH",) and hash(schedule) == hash(schedule)
    catalogue = listings_at(TODAY, schedule)
    assert [i.instrument_id for i in catalogue.spots()] == ["ETH-USDT"]
    assert catalogue.options("ETH", date(2026, 12, 4))[0].instrument_id == "ETH-20261204-1900-C"
    assert schedule.strikes("BTC") == ()


def test_without_grace_an_expired_option_is_unknown_at_once() -> None:
    schedule = ListingSchedule(grace=timedelta(0))
    assert listings_at(at(2026, 12, 4, 8), schedule).get("BTC-20261204-100000-C") is None
