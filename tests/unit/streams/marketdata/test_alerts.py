"""Price alerts: one notification per crossing, arming, re-arming, commands, replays."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from streams.marketdata.alerts import AlertBook, CommandVerdict
from topics.catalogue import by_name
from topics.contracts import IndexPrice, RiskAlert
from topics.contracts.marketdata import CancelPriceAlert, SetPriceAlert

from .md_support import T0

_n = iter(range(1, 10**9))


def index(price: str, seconds: float, underlying: str = "BTC") -> IndexPrice:
    return IndexPrice(event_id=f"{underlying}:index:{next(_n)}",
                      ts_event=T0 + timedelta(seconds=seconds), underlying=underlying,
                      price=Decimal(price), venues_used=["okx", "binance"])


def set_alert(alert_id: str, direction: str, threshold: str, repeat: bool = False,
              rearm_bps: str = "10", account: str = "acc-1", command_id: str | None = None
              ) -> SetPriceAlert:
    return SetPriceAlert(command_id=command_id or f"cmd-{next(_n)}", ts_sent=T0,
                         account=account, alert_id=alert_id, underlying="BTC",
                         direction=direction, threshold=Decimal(threshold), repeat=repeat,
                         rearm_bps=Decimal(rearm_bps))


def run(book: AlertBook, prices: list[str], start: float = 0.0) -> list[RiskAlert]:
    out: list[RiskAlert] = []
    for i, p in enumerate(prices):
        out += book.on_index(index(p, start + i))
    return out


@pytest.mark.parametrize(
    ("direction", "threshold", "prices", "fired_at"),
    [
        ("above", "100", ["98", "99", "100", "101", "102", "99.95", "100.5"], ["100"]),
        ("below", "100", ["102", "101", "100.5", "99", "98", "100.05", "99.5"], ["99"]),
        # set beyond the threshold: waits for the price to come back, then cross
        ("above", "100", ["105", "104", "99", "100.01"], ["100.01"]),
        # never crosses
        ("above", "100", ["95", "96", "99.99"], []),
    ],
)
def test_a_one_shot_alert_fires_once_per_crossing(direction: str, threshold: str,
                                                  prices: list[str], fired_at: list[str]
                                                  ) -> None:
    book = AlertBook("BTC")
    book.on_index(index(prices[0], 0))
    assert book.command(set_alert("a1", direction, threshold)) is CommandVerdict.APPLIED
    notes = run(book, prices[1:], start=1)
    assert [n.message.split()[2] for n in notes] == fired_at
    if fired_at:
        assert book.alerts == {}  # one-shot: removed when it fired


def test_an_alert_set_before_any_index_arms_on_the_first_near_price() -> None:
    book = AlertBook("BTC")
    book.command(set_alert("a1", "above", "100"))
    notes = run(book, ["101", "99", "101"])
    assert [(n.message.split()[2], n.causation_id) for n in notes] == [
        ("101", notes[0].causation_id)]  # one notification: for the second 101
    assert notes[0].ts_event == T0 + timedelta(seconds=2)


def test_a_repeat_alert_rearms_only_past_the_hysteresis() -> None:
    """Hovering around the threshold gives one notification, not one per index."""
    book = AlertBook("BTC")
    book.on_index(index("99", 0))
    book.command(set_alert("a1", "above", "100", repeat=True, rearm_bps="10"))
    hover = ["100", "99.95", "100.01", "99.92", "100.2"]  # never 10 bps (99.9) below
    assert len(run(book, hover, start=1)) == 1
    again = run(book, ["99.89", "100", "99.8", "100.1"], start=10)  # re-armed twice
    assert [n.message.split()[2] for n in again] == ["100", "100.1"]
    ids = [n.event_id for n in again]
    assert ids[0].endswith(":2") and ids[1].endswith(":3") and len(set(ids)) == 2
    assert book.alerts["acc-1|a1"].fired == 3


def test_notification_contract_and_deterministic_id() -> None:
    book = AlertBook("BTC")
    book.on_index(index("99", 0))
    book.command(set_alert("a1", "above", "100", command_id="c-42"))
    (note,) = run(book, ["100.5"], start=1)
    spec = by_name("risk.alerts")
    assert spec.decode(spec.encode(note)) == note
    assert (note.kind, note.level, note.account) == ("price", "info", "acc-1")
    assert note.event_id.startswith("price:acc-1:a1:") and note.event_id.endswith(":1")
    assert note.causation_id and note.causation_id.startswith("BTC:index:")
    assert note.message == "BTC index 100.5 crossed above 100 (alert a1)"


def test_a_redelivered_index_republishes_the_same_notification_and_fires_nothing_new() -> None:
    book = AlertBook("BTC")
    book.on_index(index("99", 0))
    book.command(set_alert("a1", "above", "100", repeat=True))
    crossing = index("101", 1)
    (note,) = book.on_index(crossing)
    later = index("99", 2)
    assert book.on_index(later) == []
    replayed = book.on_index(crossing)  # redelivery after a crash: older than the last index
    assert [n.event_id for n in replayed] == [note.event_id]
    assert book.alerts["acc-1|a1"].fired == 1
    assert book.on_index(later) == []


def test_commands_are_idempotent_limited_and_cancellable() -> None:
    book = AlertBook("BTC", per_account_limit=2)
    first = set_alert("a1", "above", "100", command_id="c1")
    assert book.command(first) is CommandVerdict.APPLIED
    assert book.command(first) is CommandVerdict.DUPLICATE
    assert book.command(set_alert("a2", "above", "101")) is CommandVerdict.APPLIED
    assert book.command(set_alert("a3", "above", "102")) is CommandVerdict.LIMIT
    assert book.command(set_alert("a1", "below", "90")) is CommandVerdict.APPLIED  # replace
    assert book.command(set_alert("a3", "above", "1", account="acc-2")) is \
        CommandVerdict.APPLIED
    cancel = CancelPriceAlert(command_id="c9", ts_sent=T0, account="acc-1", alert_id="a2",
                              underlying="BTC")
    assert book.command(cancel) is CommandVerdict.APPLIED
    assert book.command(cancel.model_copy(update={"command_id": "c10"})) is \
        CommandVerdict.UNKNOWN_ALERT
    assert sorted(book.alerts) == ["acc-1|a1", "acc-2|a3"]


def test_command_contract_is_strict() -> None:
    spec = by_name("md.alerts.commands")
    base = {"type": "set", "command_id": "c", "ts_sent": "2026-11-23T12:00:00Z",
            "account": "acc-1", "alert_id": "a", "underlying": "BTC", "direction": "above"}
    ok = spec.decode(json.dumps(base | {"threshold": "95000"}))
    assert isinstance(ok, SetPriceAlert) and ok.repeat is False and ok.rearm_bps == 10
    with pytest.raises(ValueError, match="threshold"):
        spec.decode(json.dumps(base | {"threshold": "-1"}))
    with pytest.raises(ValueError, match="underlying"):
        spec.decode(json.dumps(base | {"threshold": "1", "underlying": "btc"}))
    assert spec.dead_letter == "md.alerts.commands.dlq"


def test_state_round_trips_mid_stream() -> None:
    book = AlertBook("BTC")
    book.on_index(index("99", 0))
    book.command(set_alert("a1", "above", "100", repeat=True, command_id="k1"))
    book.command(set_alert("a2", "below", "98", command_id="k2"))
    run(book, ["100.5", "97"], start=1)
    again = AlertBook.from_state(json.loads(json.dumps(book.to_state())))
    assert again.to_state() == book.to_state()
    assert again.command(set_alert("a1", "above", "100", command_id="k1")) is \
        CommandVerdict.DUPLICATE
    assert len(run(again, ["99.8", "100.2"], start=5)) == 1
