"""Block RFQs against what Deribit documents for its Block RFQ (the convention we follow):
https://insights.deribit.com/?p=96496 (the process), and
https://support.deribit.com/hc/en-us/articles/25951371614621-Deribit-Block-RFQ (the call
spread example). Each test quotes the documented sentence it replays."""

from __future__ import annotations

from decimal import Decimal as D

from streams.rfq import Leg, RfqCode, RfqConfig, RfqState, RfqStatus, net_price
from tests.unit.streams.rfq.rfq_support import clear_both

#: Deribit's example: "Leg BTC-8NOV24-70000-C Buy 30 / Leg BTC-8NOV24-72000-C Sell 30"
LOW, HIGH = "BTC-8NOV24-70000-C", "BTC-8NOV24-72000-C"
SPREAD = (Leg(LOW, "buy"), Leg(HIGH, "sell"))
MARKS = {LOW: D(3000), HIGH: D(2200)}
T0 = 1_730_000_000_000


def _spread(amount: str = "30") -> RfqState:
    state = RfqState("deribit")
    assert state.open("open", taker="tk", legs=SPREAD, amount=D(amount), now_ms=T0,
                      config=RfqConfig()).ok
    return state


def _quote(state: RfqState, qid: str, maker: str, side: str, price: str, amount: str = "30",
           at: int = 1) -> None:
    assert state.quote(qid, quote_id=qid, maker=maker, side=side, price=D(price),
                       amount=D(amount), now_ms=T0 + at).ok


def test_the_call_spread_example_trades_both_legs_for_the_amount_at_the_net_price() -> None:
    """The structure of a call spread: buy 30 of the low strike, sell 30 of the high one."""
    state = _spread()
    _quote(state, "a1", "mk", "ask", "805")
    assert state.accept("acc", account="tk", side="buy", now_ms=T0 + 2, marks=MARKS).ok
    clear_both(state)
    trade = state.trade
    assert state.status is RfqStatus.ACCEPTED and trade is not None
    assert [(leg.symbol, leg.taker_side, leg.qty) for leg in trade.legs] == [
        (LOW, "buy", D(30)), (HIGH, "sell", D(30))]
    assert net_price(SPREAD, [leg.price for leg in trade.legs]) == D(805)


def test_the_rfq_expires_after_5_minutes() -> None:
    """"If the taker has not chosen to trade after 5 minutes, the RFQ expires.\""""
    state = _spread()
    _quote(state, "a1", "mk", "ask", "805")
    assert state.expire(T0 + 299_999).events == ()
    assert state.expire(T0 + 300_000).events
    assert state.status is RfqStatus.EXPIRED
    late = state.accept("acc", account="tk", side="buy", now_ms=T0 + 300_001, marks=MARKS)
    assert late.code is RfqCode.RFQ_EXPIRED


def test_makers_quote_one_or_both_sides_above_the_amount_and_the_best_of_each_is_taken(
) -> None:
    """"makers can respond with either single or double-sided quotes for any amount above
    the minimum block amount. The best quote for the bid and the best quote for the ask are
    then displayed to the taker, who can trade by crossing against either the bid or the
    ask … The taker can only trade for the amount requested.\""""
    state = _spread()
    _quote(state, "m1-bid", "m1", "bid", "790", at=1)
    _quote(state, "m1-ask", "m1", "ask", "812", at=1)
    _quote(state, "m2-ask", "m2", "ask", "808", amount="50", at=2)  # larger than asked
    _quote(state, "m3-bid", "m3", "bid", "795", at=3)
    assert state.best_quote("buy", T0 + 4).quote_id == "m2-ask"  # type: ignore[union-attr]
    assert state.best_quote("sell", T0 + 4).quote_id == "m3-bid"  # type: ignore[union-attr]
    assert state.accept("acc", account="tk", side="sell", now_ms=T0 + 5, marks=MARKS).ok
    clear_both(state)
    assert state.trade is not None and state.trade.maker == "m3"
    assert state.trade.amount == D(30)  # the amount requested, whatever the quote's size


def test_a_quote_below_the_amount_requested_is_refused() -> None:
    state = _spread()
    out = state.quote("small", quote_id="small", maker="m1", side="ask", price=D(805),
                      amount=D(29), now_ms=T0 + 1)
    assert out.code is RfqCode.QUOTE_AMOUNT_TOO_SMALL


def test_a_limit_trades_only_at_that_price_or_better() -> None:
    """Block RFQ limit orders: "Trades will only execute if a maker offers a price equal to
    or better than the taker's limit price.\""""
    state = _spread()
    _quote(state, "a1", "mk", "ask", "805")
    worse = state.accept("a", account="tk", side="buy", now_ms=T0 + 2, marks=MARKS,
                         limit_price=D(804))
    assert worse.code is RfqCode.LIMIT_NOT_MET
    assert state.accept("b", account="tk", side="buy", now_ms=T0 + 3, marks=MARKS,
                        limit_price=D(805)).ok
