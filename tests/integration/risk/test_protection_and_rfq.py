"""Through the real Kafka and one worker (risk, matching, booking, RFQ):

* market-maker protection: a maker's fills reach its quantity limit → its MMP quotes in the
  underlying are cancelled in one step, an ``mmp`` alert is raised, and a new quote there is
  refused with 5013 while orders without the flag and other underlyings are untouched;
  cancel-all by underlying;
* a block RFQ: quotes from two makers, a refused quote, the taker accepts the best, risk
  clears both sides, the block trade's legs are executed by matching and booked (positions,
  a balanced ledger) once even when the accept is sent twice; a taker or a maker who cannot
  pay is refused by risk before anything trades, and the RFQ stays open for another quote;
  an RFQ left alone expires on the venue's clock; a malformed
  command becomes a dead letter and the agent keeps going.
"""

from __future__ import annotations

import json
import random
import string
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from cdc.offsets import commit_end_offsets
from infra.settings import Settings
from streams.kafka import make_producer
from streams.risk.codes import RiskCode
from streams.worker_process import WorkerProcess
from topics.catalogue import by_name
from topics.contracts import (
    CancelAll,
    FundsTransferred,
    IndexPrice,
    SetMmpConfig,
    SubmitOrder,
)
from topics.contracts.rfq import AcceptRfq, OpenRfq, QuoteRfq, RfqLeg

from ..streams_support import collect, end_offsets, value
from .test_risk_pipeline import _wait_committed

pytestmark = pytest.mark.kafka

REQUESTS = by_name("orders.requests")
ACTIVITY = by_name("accounts.activity")
RFQ = by_name("rfq.commands")
AGENTS = '["streams.risk", "streams.matching", "streams.ledger", "streams.rfq"]'
D = Decimal
WATCHED = ("orders.events", "trades", "positions", "ledger", "risk.alerts", "rfq.events",
           "rfq.commands.dlq")


def _tag(n: int = 6) -> str:
    rng = random.Random(uuid.uuid4().int)
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(n))


class _Venue:
    def __init__(self, stack: Settings, bases: list[str]) -> None:
        self.stack = stack
        self.symbols = [f"{b}-USDT" for b in bases]
        self.producer = make_producer(stack)
        self.since = {t: end_offsets(stack, t) for t in WATCHED}
        self.n = 0

    def send(self, spec: Any, key: str, record: Any) -> None:
        self.producer.produce(spec.name, key=key.encode(), value=spec.encode(record))
        self.producer.flush(10)

    def request(self, kind: Any, account: str, **fields: Any) -> Any:
        self.n += 1
        record = kind(command_id=f"{account}:r{self.n}", ts_sent=datetime.now(UTC),
                      account=account, **fields)
        self.send(REQUESTS, account, record)
        return record

    def order(self, account: str, symbol: str, coid: str, side: str, qty: str,
              price: str, mmp: bool = False) -> SubmitOrder:
        order: SubmitOrder = self.request(SubmitOrder, account, symbol=symbol,
                                          client_order_id=coid, side=side, order_type="limit",
                                          qty=D(qty), price=D(price), mmp=mmp)
        return order

    def fund(self, *accounts: str) -> None:
        for account in accounts:
            self.send(ACTIVITY, account, FundsTransferred(
                event_id=f"transfer:t-{account}", ts_event=datetime.now(UTC), account=account,
                transfer_id=f"t-{account}", amount=D("1000000"), reference="test deposit"))

    def events(self, topic: str, keep: Any, until: Any, timeout_s: float = 60) -> list[Any]:
        found = collect(self.stack, topic, lambda m: keep(value(m)),
                        lambda got: until([value(m) for m in got]),
                        since=self.since[topic], timeout_s=timeout_s)
        return [value(m) for m in found]


@pytest.fixture(scope="module")
def venue(stack: Settings) -> Iterator[_Venue]:
    bases = ["MP" + _tag(5), "MQ" + _tag(5)]
    env = {"STRIKEFLOW_WORKER__AGENTS": AGENTS,
           "STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES": json.dumps(bases),
           "STRIKEFLOW_RFQ__TTL_MS": "4000", "STRIKEFLOW_RFQ__QUOTE_TTL_MS": "3000"}
    app_id = f"test-mmp-rfq-{uuid.uuid4().hex[:8]}"
    commit_end_offsets(stack, app_id, ("orders.requests", "accounts.activity",
                                       "orders.commands", "orders.events", "rfq.commands",
                                       "rfq.clearing"))
    ours = _Venue(stack, bases)
    now = datetime.now(UTC)
    for base, price in zip(bases, ("100", "50"), strict=True):
        ours.send(by_name("md.index"), base, IndexPrice(
            event_id=f"{base}:index:1", ts_event=now, underlying=base, price=D(price),
            venues_used=["test"]))
    worker = WorkerProcess(stack, app_id, 16173, env=env)
    worker.start()
    ours.app_id = app_id  # type: ignore[attr-defined]
    try:
        yield ours
    finally:
        worker.stop()


def test_market_maker_protection_cancels_the_underlying_and_freezes_it(venue: _Venue) -> None:
    one, other = venue.symbols
    underlying = one.split("-")[0]
    mm, taker = f"mm-{_tag()}", f"tk-{_tag()}"
    venue.fund(mm, taker)
    _wait_committed(venue.stack, venue.app_id, ACTIVITY.name,  # type: ignore[attr-defined]
                    end_offsets(venue.stack, ACTIVITY.name))
    venue.request(SetMmpConfig, mm, underlying=underlying, qty_limit=D(2), frozen_ms=60_000)
    for coid, side, price, symbol in (("a1", "sell", "100", one), ("a2", "sell", "101", one),
                                      ("b1", "buy", "95", one), ("o1", "buy", "48", other)):
        venue.order(mm, symbol, coid, side, "1", price, mmp=True)  # quotes MMP guards
    venue.order(mm, one, "p1", "buy", "1", "94")  # not a quote: MMP leaves it alone
    venue.events("orders.events", lambda v: v["account"] == mm and v["kind"] == "accepted",
                 lambda got: len(got) >= 5)
    venue.order(taker, one, "lift", "buy", "2", "101")  # fills a1 and a2: 2 reaches the limit
    alerts = venue.events("risk.alerts", lambda v: v["account"] == mm, lambda got: got)
    assert alerts[0]["kind"] == "mmp" and alerts[0]["level"] == "critical"
    cancelled = venue.events(
        "orders.events", lambda v: v["account"] == mm and v["kind"] == "cancelled",
        lambda got: got)
    assert [(v["client_order_id"], v["reason_code"]) for v in cancelled] == [("b1", 1201)]
    venue.order(mm, one, "a3", "sell", "1", "102", mmp=True)  # frozen: refused
    venue.order(mm, one, "p2", "sell", "1", "102")  # not a quote: accepted
    venue.order(mm, other, "o2", "buy", "1", "49", mmp=True)  # another underlying: accepted
    answers = venue.events(
        "orders.events",
        lambda v: v["account"] == mm and v["client_order_id"] in ("a3", "p2", "o2"),
        lambda got: len(got) >= 3)
    kinds = {v["client_order_id"]: (v["kind"], v.get("reason_code")) for v in answers}
    assert kinds == {"a3": ("rejected", 5013), "p2": ("accepted", None),
                     "o2": ("accepted", None)}
    # cancel-all by underlying: the other underlying's orders go, nothing else is left
    venue.request(CancelAll, mm, underlying=other.split("-")[0])
    gone = venue.events(
        "orders.events", lambda v: v["account"] == mm and v["symbol"] == other
        and v["kind"] == "cancelled", lambda got: len(got) >= 2)
    assert {v["client_order_id"] for v in gone} == {"o1", "o2"}


def test_a_block_rfq_is_quoted_accepted_once_booked_and_expires(venue: _Venue) -> None:
    one, other = venue.symbols
    taker, mk1, mk2 = (f"{p}-{_tag()}" for p in ("rt", "m1", "m2"))
    venue.fund(taker, mk1, mk2)
    _wait_committed(venue.stack, venue.app_id, ACTIVITY.name,  # type: ignore[attr-defined]
                    end_offsets(venue.stack, ACTIVITY.name))
    rfq_id = f"rfq-{_tag()}"
    legs = [RfqLeg(symbol=one, side="buy"), RfqLeg(symbol=other, side="sell")]

    def send(kind: Any, account: str, cid: str, **fields: Any) -> None:
        venue.send(RFQ, rfq_id, kind(command_id=cid, ts_sent=datetime.now(UTC),
                                     account=account, rfq_id=rfq_id, **fields))

    send(OpenRfq, taker, f"{rfq_id}:open", legs=legs, amount=D(2))
    send(QuoteRfq, mk1, f"{rfq_id}:q1", quote_id="q1", side="ask", price=D("51"), amount=D(2))
    send(QuoteRfq, mk2, f"{rfq_id}:q2", quote_id="q2", side="ask", price=D("50.5"),
         amount=D(5))
    send(QuoteRfq, taker, f"{rfq_id}:q3", quote_id="q3", side="bid", price=D("49"),
         amount=D(2))
    venue.producer.produce(RFQ.name, key=rfq_id.encode(), value=b'{"type": "accept"}')
    for _ in range(2):  # sent twice: one block trade
        send(AcceptRfq, taker, f"{rfq_id}:accept", side="buy")
    steps = venue.events("rfq.events", lambda v: v["rfq_id"] == rfq_id,
                         lambda got: any(v["kind"] == "rfq_accepted" for v in got))
    # the repeated accept re-publishes the same event (same id): consumers upsert by id
    unique = list({v["event_id"]: v for v in steps}.values())
    assert len(unique) == 6 and unique[-1]["event_id"] == steps[-1]["event_id"]
    kinds = [v["kind"] for v in unique]
    assert kinds == ["rfq_opened", "quote_added", "quote_added", "quote_refused",
                     "rfq_clearing", "rfq_accepted"], kinds
    accepted = steps[-1]
    assert (accepted["maker"], D(accepted["price"])) == (mk2, D("50.5"))
    legs_out = {leg["symbol"]: D(p) for leg, p in zip(accepted["legs"], accepted["leg_prices"],
                                                       strict=True)}
    assert legs_out[one] - legs_out[other] == D("50.5")  # the legs net to the quote
    trades = venue.events("trades", lambda v: v["taker_account"] == taker,
                          lambda got: len(got) >= 2)
    assert sorted((t["symbol"], D(t["qty"]), t["maker_account"], t["aggressor_side"])
                  for t in trades) == sorted([(one, D(2), mk2, "buy"), (other, D(2), mk2, "sell")])
    positions = venue.events("positions", lambda v: v["account"] in (taker, mk2),
                             lambda got: len({(v["account"], v["symbol"]) for v in got}) >= 4)
    last = {(v["account"], v["symbol"]): D(v["qty"]) for v in positions}
    assert last == {(taker, one): D(2), (taker, other): D(-2), (mk2, one): D(-2),
                    (mk2, other): D(2)}
    dead = venue.events("rfq.commands.dlq", lambda v: v["source_topic"] == "rfq.commands",
                        lambda got: got)
    assert dead[0]["reason"] == "invalid" and dead[0]["source_offset"] >= 0
    # a second RFQ nobody answers: the venue's clock closes it (ttl 4 s in this worker)
    lonely = f"rfq-{_tag()}"
    venue.send(RFQ, lonely, OpenRfq(command_id=f"{lonely}:open", ts_sent=datetime.now(UTC),
                                    account=taker, rfq_id=lonely, legs=legs[:1], amount=D(1)))
    expired = venue.events("rfq.events", lambda v: v["rfq_id"] == lonely,
                           lambda got: any(v["kind"] == "rfq_expired" for v in got),
                           timeout_s=30)
    assert [v["kind"] for v in expired] == ["rfq_opened", "rfq_expired"]
    # exactly once: the duplicate accept made no second trade
    again = venue.events("trades", lambda v: v["taker_account"] == taker,
                         lambda got: len(got) >= 2)
    assert len({t["trade_id"] for t in again}) == len(again) == 2


def test_a_side_that_cannot_pay_is_refused_before_anything_trades(venue: _Venue) -> None:
    one, other = venue.symbols
    broke, taker, poor_maker, maker = (f"{p}-{_tag()}" for p in ("rb", "rt", "mp", "mk"))
    venue.fund(taker, maker)  # broke and poor_maker have nothing
    _wait_committed(venue.stack, venue.app_id, ACTIVITY.name,  # type: ignore[attr-defined]
                    end_offsets(venue.stack, ACTIVITY.name))
    legs = [RfqLeg(symbol=one, side="buy"), RfqLeg(symbol=other, side="sell")]

    def send(rfq_id: str, kind: Any, account: str, cid: str, **fields: Any) -> None:
        venue.send(RFQ, rfq_id, kind(command_id=f"{rfq_id}:{cid}", ts_sent=datetime.now(UTC),
                                     account=account, rfq_id=rfq_id, **fields))

    def kinds(rfq_id: str, until: Any) -> list[Any]:
        got = venue.events("rfq.events", lambda v: v["rfq_id"] == rfq_id, until)
        return list({v["event_id"]: v for v in got}.values())

    # a taker without money accepts: risk refuses its side (5009), nothing trades
    first = f"rfq-{_tag()}"
    send(first, OpenRfq, broke, "open", legs=legs, amount=D(2))
    send(first, QuoteRfq, maker, "q", quote_id="q1", side="ask", price=D("50.5"), amount=D(2))
    send(first, AcceptRfq, broke, "accept", side="buy")
    steps = kinds(first, lambda got: any(v["kind"] == "rfq_refused" for v in got))
    assert [v["kind"] for v in steps] == ["rfq_opened", "quote_added", "rfq_clearing",
                                          "rfq_refused"]
    refused = steps[-1]
    assert refused["code"] == 6210
    assert f"{broke} {int(RiskCode.INSUFFICIENT_FUNDS)}" in refused["reason"]
    # a maker without money is refused: its quote goes, the RFQ stays open, another maker's
    # quote is accepted and trades
    second = f"rfq-{_tag()}"
    send(second, OpenRfq, taker, "open", legs=legs, amount=D(2))
    send(second, QuoteRfq, poor_maker, "q1", quote_id="q1", side="ask", price=D("50"),
         amount=D(2))
    send(second, AcceptRfq, taker, "accept-1", side="buy")
    kinds(second, lambda got: any(v["kind"] == "rfq_refused" for v in got))
    send(second, QuoteRfq, maker, "q2", quote_id="q2", side="ask", price=D("50.5"),
         amount=D(2))
    send(second, AcceptRfq, taker, "accept-2", side="buy")
    steps = kinds(second, lambda got: any(v["kind"] == "rfq_accepted" for v in got))
    assert [v["kind"] for v in steps] == ["rfq_opened", "quote_added", "rfq_clearing",
                                          "rfq_refused", "quote_added", "rfq_clearing",
                                          "rfq_accepted"]
    assert steps[3]["code"] == 6211 and steps[-1]["maker"] == maker
    trades = venue.events("trades", lambda v: v["taker_account"] in (broke, taker),
                          lambda got: len(got) >= 2)
    assert {(t["taker_account"], t["maker_account"]) for t in trades} == {(taker, maker)}
