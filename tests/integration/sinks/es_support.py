"""What the Elasticsearch sink tests share: their own indices and topics, events, a run."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic
from elasticsearch import Elasticsearch
from pydantic import BaseModel

from infra.kafka_security import Role
from infra.settings import Settings
from sinks.search_index.indices import KINDS, IndexNames, open_client
from sinks.search_index.sink import SOURCES, ElasticsearchSink
from streams.kafka import make_producer
from topics.catalogue import by_name
from topics.contracts import OrderEvent, RiskAlert, SettlementResult, Trade

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class EsTestEnv:
    """A prefix of indices and a copy of each source topic, all this test's own."""

    def __init__(self, settings: Settings) -> None:
        tag = uuid.uuid4().hex[:8]
        self.settings = settings.model_copy(update={"elasticsearch": settings.elasticsearch
                                                    .model_copy(update={
                                                        "index_prefix": f"test-es-{tag}-",
                                                        "flush_interval_s": 0.2})})
        self.topics = {contract: f"test.es.{tag}.{contract}" for contract in SOURCES}
        self.sources = {topic: contract for contract, topic in self.topics.items()}
        self.names = IndexNames.of(self.settings)
        self.client: Elasticsearch = open_client(self.settings)
        self.admin = AdminClient(settings.kafka.client_config(Role.ADMIN))
        self.producer = make_producer(settings)

    def create_topics(self) -> None:
        futures = self.admin.create_topics([NewTopic(t, 3, 1) for t in self.topics.values()])
        for future in futures.values():
            future.result(30)

    def cleanup(self) -> None:
        self.admin.delete_topics(list(self.topics.values()))
        self.client.indices.delete(index=f"{self.names.prefix}*", ignore=[404])
        for kind in KINDS:
            self.client.indices.delete_index_template(name=self.names[kind], ignore=[404])
        self.client.delete_script(id=self.names.order_script, ignore=[404])
        self.client.close()

    def send(self, contract: str, events: Iterable[BaseModel | bytes], key: str = "k") -> None:
        spec = by_name(contract)
        for ev in events:
            value = ev if isinstance(ev, bytes) else spec.encode(ev)
            self.producer.produce(self.topics[contract], key=key.encode(), value=value)
        self.producer.flush(10)

    def sink(self, group: str | None = None) -> ElasticsearchSink:
        return ElasticsearchSink(self.settings, sources=self.sources,
                                 group_id=group or f"test-es-{uuid.uuid4().hex[:8]}")

    def run(self, group: str | None = None, idle_stop_s: float = 3) -> ElasticsearchSink:
        sink = self.sink(group)
        sink.prepare()
        sink.run(idle_stop_s=idle_stop_s, max_seconds=120)
        return sink

    def refresh(self) -> None:
        self.client.indices.refresh(index=f"{self.names.prefix}*")

    def docs(self, kind: str, query: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        self.refresh()
        resp = self.client.search(index=self.names[kind], query=query or {"match_all": {}},
                                  size=1000)
        return {h["_id"]: h["_source"] for h in resp["hits"]["hits"]}


@contextmanager
def es_env(settings: Settings) -> Iterator[EsTestEnv]:
    env = EsTestEnv(settings)
    env.create_topics()
    try:
        yield env
    finally:
        env.cleanup()


def order_event(kind: str, seq: int, order: str = "BTC-USDT#1", account: str = "acc-1",
                symbol: str = "BTC-USDT", **fields: Any) -> OrderEvent:
    base: dict[str, Any] = {
        "event_id": f"{symbol}:{seq}", "ts_event": T0 + timedelta(seconds=seq),
        "symbol": symbol, "seq": seq, "kind": kind, "account": account,
        "client_order_id": f"c-{(order or 'none').replace('#', '-')}",
        "order_id": order}
    if kind == "accepted":
        base |= {"side": "buy", "order_type": "limit", "time_in_force": "GTC",
                 "price": Decimal("43250.5"), "qty": Decimal("2")}
    return OrderEvent(**(base | fields))


def fill(seq: int, qty: str, leaves: str, order: str = "BTC-USDT#1", account: str = "acc-1",
         symbol: str = "BTC-USDT", price: str = "43250.5") -> OrderEvent:
    kind = "filled" if Decimal(leaves) == 0 else "partially_filled"
    return order_event(kind, seq, order, account, symbol, side="buy", price=Decimal(price),
                       qty=Decimal(qty), leaves_qty=Decimal(leaves),
                       trade_id=f"{symbol}:{seq - 1}", is_maker=True)


def trade(seq: int, maker: str = "acc-1", taker: str = "acc-2", symbol: str = "BTC-USDT",
          price: str = "43250.5", qty: str = "0.5") -> Trade:
    return Trade(event_id=f"{symbol}:{seq}", ts_event=T0 + timedelta(seconds=seq),
                 symbol=symbol, trade_id=f"{symbol}:{seq}", price=Decimal(price),
                 qty=Decimal(qty), aggressor_side="sell", maker_order_id=f"{symbol}#1",
                 taker_order_id=f"{symbol}#2", maker_account=maker, taker_account=taker,
                 seq=seq)


def settlement(order: str, state: str, account: str = "acc-3", seconds: int = 0,
               **fields: Any) -> SettlementResult:
    return SettlementResult(event_id=f"settlement:{order}:{state}",
                            ts_event=T0 + timedelta(seconds=seconds), order_id=order,
                            account=account, state=state, **fields)


def risk_alert(n: int, account: str = "acc-2", message: str = "equity below maintenance",
               kind: str = "margin_call", level: str = "critical") -> RiskAlert:
    return RiskAlert(event_id=f"risk:{account}:{kind}:{n}", ts_event=T0 + timedelta(seconds=n),
                     account=account, kind=kind, level=level, message=message)


def wait_healthy_es(settings: Settings, timeout_s: float = 240) -> None:
    from infra.services import SERVICES

    svc = next(s for s in SERVICES if s.name == "elasticsearch")
    deadline = time.monotonic() + timeout_s
    while not svc.health(settings).ok:
        if time.monotonic() > deadline:
            raise AssertionError("elasticsearch did not come back healthy")
        time.sleep(1)
