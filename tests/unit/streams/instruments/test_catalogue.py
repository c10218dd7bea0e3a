"""Instruments, grids and the immutable catalogue (the listing schedule: test_listings)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.instruments import (
    Catalogue,
    GridSpec,
    Instrument,
    InstrumentError,
    InstrumentKind,
    OffGridError,
    OptionRight,
    TradingStatus,
    UnknownInstrumentError,
    listings_at,
    option_chain,
    spot_instrument,
    strike_grid,
    strike_step,
)

D = Decimal


#: What the venue listed on Monday 2026-01-05 at noon: BTC-20260109 and ETH-20260109 are
#: weeklies then (tests/unit/streams/instruments/test_listings.py checks the schedule).
AT = datetime(2026, 1, 5, 12, tzinfo=UTC)


def catalogue() -> Catalogue:
    return listings_at(AT)


def test_a_listing_has_spot_and_an_option_chain() -> None:
    cat = catalogue()
    assert [i.instrument_id for i in cat.spots()] == ["BTC-USDT", "ETH-USDT"]
    assert "BTC-20260109-100000-C" in cat
    assert cat["BTC-20260109-100000-P"].right is OptionRight.PUT
    assert len(cat.options("BTC", date(2026, 1, 9))) == 10
    assert all(o.quote == "USDT" and o.kind is InstrumentKind.OPTION for o in cat.options())


def test_unknown_instrument() -> None:
    with pytest.raises(UnknownInstrumentError):
        catalogue()["DOGE-USDT"]
    with pytest.raises(KeyError):
        catalogue()["DOGE-USDT"]


@pytest.mark.parametrize(
    ("price", "ticks"), [(D("100000.01"), 10000001), (D("0.01"), 1), (D(0), 0), (7, 700)]
)
def test_price_to_ticks(price: Decimal, ticks: int) -> None:
    btc = spot_instrument("BTC")
    assert btc.price_to_ticks(price) == ticks
    assert btc.ticks_to_price(ticks) == price


@pytest.mark.parametrize("price", [D("100000.001"), D("0.005")])
def test_off_grid_price_raises(price: Decimal) -> None:
    with pytest.raises(OffGridError):
        spot_instrument("BTC").price_to_ticks(price)


@pytest.mark.parametrize("value", [100.0, "100", None, True])
def test_money_is_never_float_or_text(value: object) -> None:
    with pytest.raises(TypeError):
        spot_instrument("BTC").price_to_ticks(value)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        spot_instrument("BTC").qty_to_lots(value)  # type: ignore[arg-type]


def test_non_finite_values_raise() -> None:
    with pytest.raises(InstrumentError):
        spot_instrument("BTC").price_to_ticks(D("Infinity"))
    with pytest.raises(TypeError):
        spot_instrument("BTC").ticks_to_price(1.0)  # type: ignore[arg-type]


def test_quantity_grid() -> None:
    eth = spot_instrument("ETH")
    assert eth.qty_to_lots(D("1.2345")) == 12345
    assert eth.lots_to_qty(12345) == D("1.2345")
    assert eth.min_lots == 1
    with pytest.raises(OffGridError):
        eth.qty_to_lots(D("0.00001"))


@settings(max_examples=100, deadline=None)
@given(st.integers(-(10**15), 10**15), st.sampled_from(["BTC-USDT", "ETH-20260109-3500-C"]))
def test_ticks_round_trip(ticks: int, instrument_id: str) -> None:
    inst = catalogue()[instrument_id]
    assert inst.price_to_ticks(inst.ticks_to_price(ticks)) == ticks
    assert inst.qty_to_lots(inst.lots_to_qty(ticks)) == ticks


def test_option_fields_and_expiry_time() -> None:
    opt = catalogue()["ETH-20260109-3500-C"]
    assert (opt.strike, opt.right, opt.contract_size) == (D(3500), OptionRight.CALL, D(1))
    assert opt.expiry == datetime(2026, 1, 9, 8, 0, tzinfo=UTC)
    assert opt.expiry_ns == int(opt.expiry.timestamp()) * 1_000_000_000  # type: ignore[union-attr]
    assert opt.tick_size == D("0.1") and opt.is_option
    assert spot_instrument("BTC").expiry_ns is None


@pytest.mark.parametrize(
    "changes",
    [
        {"tick_size": D(0)},
        {"tick_size": 0.01},
        {"lot_size": D(-1)},
        {"min_qty": D("0.000005")},
        {"quote": "USD"},
        {"instrument_id": "ETH-USDT"},
        {"strike": D(100)},
        {"status": "sleeping"},
    ],
)
def test_inconsistent_spot_instruments_are_refused(changes: dict) -> None:
    with pytest.raises((InstrumentError, ValueError)):
        replace(spot_instrument("BTC"), **changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"strike": D(3600)},
        {"expiry": datetime(2026, 1, 9, 8, 0)},
        {"expiry": datetime(2026, 1, 10, 8, 0, tzinfo=UTC)},
        {"right": OptionRight.PUT},
        {"contract_size": None},
    ],
)
def test_inconsistent_options_are_refused(changes: dict) -> None:
    opt = catalogue()["ETH-20260109-3500-C"]
    with pytest.raises(InstrumentError):
        replace(opt, **changes)


def test_option_chain_is_a_pure_function() -> None:
    expiries = [date(2026, 3, 27), date(2026, 2, 27)]
    a = option_chain("BTC", D(98000), expiries, 3)
    b = option_chain("BTC", D(98000), list(reversed(expiries)), 3)
    assert a == b
    assert [o.instrument_id for o in a[:6]] == [
        "BTC-20260227-96000-C", "BTC-20260227-96000-P",  # step 2000: ~5% of 98000
        "BTC-20260227-98000-C", "BTC-20260227-98000-P",
        "BTC-20260227-100000-C", "BTC-20260227-100000-P",
    ]  # fmt: skip
    explicit = option_chain("ETH", D(3500), [date(2026, 2, 27)], [D(3000), D("3512.5")])
    assert [o.instrument_id for o in explicit] == [
        "ETH-20260227-3000-C", "ETH-20260227-3000-P",
        "ETH-20260227-3512.5-C", "ETH-20260227-3512.5-P",
    ]  # fmt: skip
    with pytest.raises(InstrumentError):
        option_chain("SOL", D(150), [date(2026, 2, 27)], 3)
    sol = option_chain("SOL", D(150), [date(2026, 2, 27)], 3, GridSpec(D("0.01"), D(1), D(1)))
    assert [o.strike for o in sol if o.right is OptionRight.CALL] == [D(145), D(150), D(155)]


def test_strike_helpers() -> None:
    assert strike_step(D(100000)) == D(5000)
    assert strike_step(D(3500)) == D(100)
    assert strike_step(D("0.5")) == D("0.02")
    assert strike_grid(D(3500), 5) == [D(3300), D(3400), D(3500), D(3600), D(3700)]
    assert strike_grid(D(100), 5, D(60)) == [D(60), D(120), D(180), D(240)]  # 0 dropped
    with pytest.raises(InstrumentError):
        strike_grid(D(100), 0)


def test_catalogue_is_immutable_and_checked() -> None:
    cat = catalogue()
    halted = cat.with_status("BTC-USDT", TradingStatus.HALTED)
    assert halted["BTC-USDT"].status is TradingStatus.HALTED
    assert cat["BTC-USDT"].status is TradingStatus.TRADING
    assert list(halted) == list(cat)
    with pytest.raises(InstrumentError):
        Catalogue([spot_instrument("BTC"), spot_instrument("BTC")])
    with pytest.raises(TypeError):
        Catalogue(["BTC-USDT"])  # type: ignore[list-item]
    # 2 spot pairs + 13 expiries (12 listed, 1 expired that morning) x 5 strikes x C/P x 2
    assert len(cat) == 262 and repr(cat) == "Catalogue(262 instruments)"


def test_instrument_is_hashable_value() -> None:
    assert spot_instrument("BTC") == spot_instrument("BTC")
    assert hash(spot_instrument("BTC")) == hash(spot_instrument("BTC"))
    assert isinstance(spot_instrument("BTC"), Instrument)
