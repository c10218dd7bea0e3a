"""Option chains and marks: the same numbers as the pricing functions, on the right schedule."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from streams.instruments import (
    DEFAULT_SCHEDULE,
    TradingStatus,
    listed_expiry_dates,
    listing_session,
    listings_at,
    parse_instrument_id,
    strike_grid,
)
from streams.marketdata.marks import ChainParams, OptionChain, UnderlyingMarks, surface_for
from streams.marketdata.pricing import black76_scalar, mark_to_decimal, year_fraction
from streams.marketdata.volsurface import default_surface
from topics.catalogue import by_name
from topics.contracts import IndexPrice

NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def index(price: str, at: datetime = NOW, n: int = 1, underlying: str = "BTC") -> IndexPrice:
    return IndexPrice(event_id=f"{underlying}:index:{n}", ts_event=at, underlying=underlying,
                      price=Decimal(price), venues_used=["okx", "binance"])


@pytest.mark.parametrize(("underlying", "price", "r", "q"),
                         [("BTC", "91000.25", 0.0, 0.0), ("ETH", "3201.17", 0.05, 0.01)])
def test_every_mark_equals_black76_on_the_forward_with_the_surface_vol(
        underlying: str, price: str, r: float, q: float) -> None:
    params = ChainParams(usdt_rate=r, coin_yield=q)
    ix = index(price, underlying=underlying)
    chain = OptionChain.build(underlying, NOW.date(), ix.price, params)
    marks = chain.marks(ix, default_surface(underlying), r, q)
    strikes = {*strike_grid(ix.price, 11), *DEFAULT_SCHEDULE.strikes(underlying)}
    assert len(marks) == chain.size == len(strikes) * len(listed_expiry_dates(NOW.date())) * 2
    spot = float(ix.price)
    for m in marks:
        parts = parse_instrument_id(m.symbol)
        strike, is_call = float(parts.strike), parts.right.value == "C"  # type: ignore[union-attr]
        t = year_fraction(NOW, m.expiry)
        forward = spot * math.exp((r - q) * t)
        sigma = float(default_surface(underlying).vol_at_strike(t, strike, forward))
        want = black76_scalar(forward, strike, t, sigma, r, is_call)
        tick = chain.tick
        assert m.mark_price == mark_to_decimal(want.price, tick), m.symbol
        assert float(m.iv) == pytest.approx(sigma, rel=1e-7)
        for greek in ("delta", "gamma", "vega", "theta"):
            assert float(getattr(m, greek)) == pytest.approx(getattr(want, greek), rel=1e-8,
                                                              abs=1e-12), (m.symbol, greek)
        assert float(m.forward) == pytest.approx(forward, abs=1e-8)  # type: ignore[arg-type]
        assert m.underlying_price == ix.price and m.causation_id == ix.event_id


def test_marks_pass_the_topic_contract_and_money_stays_on_the_premium_tick() -> None:
    ix = index("91000.25")
    marks = OptionChain.build("BTC", NOW.date(), ix.price, ChainParams()).marks(
        ix, surface_for("BTC"))
    spec = by_name("md.marks")
    for m in marks:
        wire = spec.encode(m)
        assert spec.decode(wire) == m
        body = json.loads(wire)
        assert "E" not in body["gamma"] and "e" not in body["gamma"]  # fixed-point decimals
        assert Decimal(body["mark_price"]) % 5 == 0  # the BTC option premium tick
    assert {m.event_id for m in marks} == {f"{m.symbol}:mark:BTC:index:1" for m in marks}


@pytest.mark.parametrize("at", [NOW, datetime(2026, 12, 3, 12, tzinfo=UTC),
                                datetime(2026, 12, 4, 7, 59, tzinfo=UTC),
                                datetime(2026, 12, 4, 8, tzinfo=UTC),
                                datetime(2027, 3, 25, 9, tzinfo=UTC)])
@pytest.mark.parametrize("underlying", ["BTC", "ETH"])
def test_the_chain_marks_every_option_the_venue_lists(at: datetime, underlying: str) -> None:
    """The venue's listing rolls with its clock; the chain of the same session prices every
    option it lists (whatever the index it re-centred on), on the same expiries."""
    chain = OptionChain.build(underlying, listing_session(at), Decimal("91000"), ChainParams(5))
    venue = {i.instrument_id: i for i in listings_at(at).options(underlying)
             if i.status is TradingStatus.TRADING}
    marked = {i.instrument_id: i for i in chain.instruments}
    assert set(venue) <= set(marked)
    assert all(marked[s] == venue[s] for s in venue)  # the same instruments, grids included
    assert {i.expiry for i in chain.instruments} == {i.expiry for i in venue.values()}


def test_an_underlying_the_venue_does_not_list_gets_the_generic_grid() -> None:
    generic = OptionChain.build("TESTX", NOW.date(), Decimal("1000"), ChainParams(3))
    assert generic.tick == Decimal("0.01")
    assert generic.size == 3 * len(listed_expiry_dates(NOW.date())) * 2


def test_expired_options_are_not_marked() -> None:
    chain = OptionChain.build("BTC", NOW.date(), Decimal("91000"), ChainParams(3))
    first_expiry = min(i.expiry for i in chain.instruments)  # type: ignore[type-var]
    later = index("91000", at=first_expiry + timedelta(minutes=1))  # type: ignore[operator]
    marks = chain.marks(later, surface_for("BTC"))
    assert 0 < len(marks) == sum(1 for i in chain.instruments
                                 if i.expiry > later.ts_event)  # type: ignore[operator]
    assert all(m.expiry > later.ts_event for m in marks)


def test_re_marking_is_rate_bounded_in_wall_time_and_needs_a_move() -> None:
    um = UnderlyingMarks("BTC", ChainParams(interval_s=1.0, min_move_bps=Decimal(1),
                                            refresh_s=60))
    assert um.offer(index("91000", n=1), now_wall=100.0)
    assert um.offer(index("91500", n=2, at=NOW + timedelta(seconds=1)), now_wall=100.5) == []
    assert um.offer(index("91500", n=2, at=NOW + timedelta(seconds=1)), now_wall=101.0)
    # moved less than 1 bp: not re-marked, until the refresh time of event time passes
    assert um.offer(index("91505", n=3, at=NOW + timedelta(seconds=2)), now_wall=103) == []
    assert um.offer(index("91505", n=4, at=NOW + timedelta(seconds=61)), now_wall=104)
    # the same index again (a redelivery) is never marked twice
    assert um.offer(index("95000", n=4, at=NOW + timedelta(seconds=61)), now_wall=200) == []


def test_the_chain_rolls_to_the_index_date_and_recentres() -> None:
    um = UnderlyingMarks("BTC", ChainParams(interval_s=0))
    first = um.offer(index("91000", n=1), now_wall=1)
    tomorrow = NOW + timedelta(days=4)
    rolled = um.offer(index("120000", n=2, at=tomorrow), now_wall=2)
    assert um.as_of == tomorrow.date().isoformat() and um.reference == "120000"
    assert {m.expiry for m in first} != {m.expiry for m in rolled}
    strikes = {Decimal(m.symbol.split("-")[2]) for m in rolled}
    assert set(strike_grid(Decimal(120000), 11)) <= strikes  # re-centred on the new index
    assert set(DEFAULT_SCHEDULE.strikes("BTC")) <= strikes  # and the venue's strikes kept
    restored = UnderlyingMarks("BTC", ChainParams(interval_s=0),
                               json.loads(json.dumps(um.to_state())))
    again = restored.offer(index("120100", n=3, at=tomorrow), now_wall=3)
    assert [m.symbol for m in again] == [m.symbol for m in rolled]  # same listing
    with pytest.raises(ValueError, match="ETH index"):
        um.offer(index("3000", underlying="ETH"), now_wall=4)


def test_the_chain_rolls_at_0800_utc_with_the_venues_listing() -> None:
    um = UnderlyingMarks("BTC", ChainParams(interval_s=0))
    um.offer(index("91000", n=1), now_wall=1)
    before = NOW.replace(hour=7, minute=59) + timedelta(days=1)
    um.offer(index("95000", n=2, at=before), now_wall=2)
    assert um.as_of == NOW.date().isoformat() and um.reference == "91000"  # same session
    at_eight = before.replace(hour=8, minute=0)
    marks = um.offer(index("95000", n=3, at=at_eight), now_wall=3)
    assert um.as_of == at_eight.date().isoformat() and um.reference == "95000"
    assert min(m.expiry for m in marks) == at_eight + timedelta(days=1)  # the new daily
