"""Orders through the gateway (REST and WebSocket), against the same orders straight to Kafka.

One run starts its own worker (risk, matching and the ledger; app id ``bench-gw-…``, its group
committed at the end of its inputs first) on a new spot instrument ``BX…-USDT``, and a gateway
process on port 18092 in front of it, then measures three ways in of the same limit orders
(alternating buy and sell around a mid of 100: makers rest at 99/101, takers cross at 102/98,
so half of them fill), each path with its own 20 funded accounts:

* **Kafka direct** (the baseline) — ``SubmitOrder`` produced to ``orders.requests`` keyed by
  account (confluent-kafka); the answer is the first ``orders.events`` record whose
  ``causation_id`` is the command's id. Max effort: all orders produced at once (what the
  worker can take, the ceiling for the gateway); paced at ``--rate``/s (the goal's 500/s)
  and at ``--low-rate``/s (100/s, well within the worker's capacity: latency, not queueing).
* **REST** — ``POST /api/v1/orders`` with a bearer token over HTTP/1.1 keep-alive
  connections; the response carries risk's decision. Max effort: a closed loop of
  ``--concurrency`` connections, each always busy; paced at the same two rates, request →
  response (up to ``--rate`` connections, so the client's pool does not cap it). The client is
  aiohttp by default: one ``httpx.AsyncClient`` pooling 64 connections spends ~3 ms of CPU
  per request here and tops out near 300 requests/s (encode/httpx#3215), so it, not the
  gateway, would be measured. ``--http-client httpx`` uses httpx anyway, one client per
  connection (~0.7 ms of CPU per request).
* **WebSocket** — ``{"op": "place"}`` frames on ``/ws`` after ``{"op": "auth"}``, one
  connection per account, answered by ``{"op": "result"}``; the same modes, and request →
  the taker's fill on the private ``fills`` channel (paced runs; for the baseline, the taker's
  first fill event on ``orders.events``).

Orders/s counts decided orders (accepted, filled or refused by risk or matching) over the time
from the first request to the last answer; latencies are on this process's clock. The client
runs on the same machine as the gateway, the worker and Kafka: the CPU table shows who used
the cores (and, first, what each burns with no orders at all), and each process's CPU per
order (the gateway's gives its ceiling on one core, whatever the worker behind it does).

Topics are shared: every other worker running risk on the stack (another app id, e.g. a test
run) reads our ``orders.requests`` too and answers ours with ``rejected 5001`` (it does not
list our instrument) — and ours answers theirs. The run waits (``--wait-quiet`` s) for such
workers to go; answers they give anyway are counted apart ("foreign 5001"), not as decisions.

Rate limits would throttle a benchmark, so they are raised for this run only: the gateway's
per-account and per-IP buckets, its login bucket, and risk's per-account order rate and
open-order count. Goals are reported, never enforced (the exit status is 0 either way).

    python -m benchmarks.gateway [--orders 5000] [--concurrency 64] [--rate 500] [--seconds 6]
                                 [--low-rate 100] [--http-client aiohttp|httpx] [--wait-quiet 45]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import random
import string
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import httpx
import orjson
import psutil
import uvloop
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient
from rich.console import Console
from rich.table import Table
from websockets.asyncio.client import ClientConnection, connect

from cdc.migrate import migrate
from cdc.offsets import commit_end_offsets
from gateway.server import GatewayProcess
from infra.kafka_security import Role
from infra.settings import Settings, get_settings
from streams.kafka import make_consumer, make_producer
from streams.worker_process import WorkerProcess
from topics.catalogue import by_name
from topics.contracts import FundsTransferred, SubmitOrder

__all__ = ["main"]

GATEWAY_PORT = 18092
WORKER_PORT = 16173
ACCOUNTS = 20  # per path; a multiple of 4, so each account always sends one kind of order
PASSWORD = "bench correct horse battery"
FUNDS = Decimal(10_000_000)
MID, QTY = Decimal(100), Decimal("0.01")
#: (side, price offset from the mid): two makers that rest, two takers that cross them
KINDS = (("buy", -1), ("sell", 1), ("buy", 2), ("sell", -2))
WAIT_S = 10.0  # the longest one order may wait for its answer
UNLIMITED = '{"per_second": 100000, "burst": 100000}'
GATEWAY_ENV = {"STRIKEFLOW_GATEWAY__ACCOUNT_LIMIT": UNLIMITED,
               "STRIKEFLOW_GATEWAY__IP_LIMIT": UNLIMITED,
               "STRIKEFLOW_GATEWAY__LOGIN_IP_LIMIT": '{"per_second": 50, "burst": 500}'}
RISK_ENV = {"STRIKEFLOW_RISK__ORDERS_PER_SECOND": "100000",
            "STRIKEFLOW_RISK__ORDER_BURST": "100000",
            "STRIKEFLOW_RISK__MAX_OPEN_ORDERS": "100000"}
ORDERS_URL = "/api/v1/orders"
GOAL_RATE, GOAL_P99_MS = 2000.0, 50.0
REQUESTS, ACTIVITY = by_name("orders.requests"), by_name("accounts.activity")
UNKNOWN_INSTRUMENT = 5001  # risk's code: what a worker that does not list ours answers
DECIDED = ("accepted", "filled", "partially_filled", "rejected", "command_rejected")


# -- orders and outcomes ------------------------------------------------------------------------
def order_shape(i: int) -> tuple[str, Decimal, bool]:
    """Side, limit price and whether order ``i`` is a taker (crosses the resting makers)."""
    side, offset = KINDS[i % len(KINDS)]
    return side, MID + offset, i % len(KINDS) >= 2


@dataclass(frozen=True)
class Outcome:
    sent: float  # perf_counter when the request left
    answered: float | None  # perf_counter when its answer arrived (None: none in time)
    kind: str  # "accepted", "filled", "rejected 5009", "http 429", "timeout" …

    @property
    def decided(self) -> bool:
        return self.answered is not None and self.kind.split()[0] in DECIDED

    @property
    def ok(self) -> bool:
        return self.kind in ("accepted", "filled", "partially_filled")


def event_kind(rec: dict[str, Any]) -> str:
    code = rec.get("reason_code")
    return f"{rec['kind']} {code}" if code else str(rec["kind"])


def answer_kind(http_status: int, body: dict[str, Any]) -> str:
    """What a REST response or a WebSocket result says: the decision, or the HTTP failure.
    An unknown-instrument rejection came from another worker (ours lists the instrument)."""
    if http_status in (200, 422) and "status" in body:
        code = body.get("code")
        if code == UNKNOWN_INSTRUMENT:
            return f"foreign {code}"
        return f"{body['status']} {code}" if code else str(body["status"])
    return "pending" if http_status == 202 else f"http {http_status}"


Send = Callable[[int], Awaitable[Outcome]]


async def _guarded(send: Send, i: int) -> Outcome:
    t0 = time.perf_counter()
    try:
        return await send(i)
    except Exception as exc:  # one failed request is counted, not fatal
        return Outcome(t0, None, f"error {type(exc).__name__}")


# -- load shapes -------------------------------------------------------------------------------
async def burst(send: Send, n: int, timeout_s: float) -> list[Outcome]:
    """All ``n`` sent at once (open loop)."""
    tasks = [asyncio.create_task(_guarded(send, i)) for i in range(n)]
    return await _collect(tasks, timeout_s)


async def closed_loop(send: Send, n: int, concurrency: int, duration_s: float
                      ) -> list[Outcome]:
    """``concurrency`` clients, each sending its next order once the last was answered, until
    ``n`` are sent or ``duration_s`` has passed."""
    indices = iter(range(n))
    outcomes: list[Outcome] = []
    stop_at = time.perf_counter() + duration_s

    async def client() -> None:
        for i in indices:
            outcomes.append(await _guarded(send, i))
            if time.perf_counter() > stop_at:
                return

    tasks = [asyncio.create_task(client()) for _ in range(concurrency)]
    await _collect(tasks, duration_s + 2 * WAIT_S)
    return outcomes


async def paced(send: Send, n: int, rate: float, timeout_s: float) -> list[Outcome]:
    """One order every 1/``rate`` s, whatever the answers do (open loop)."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    tasks = []
    for i in range(n):
        if (ahead := t0 + i / rate - loop.time()) > 0:
            await asyncio.sleep(ahead)
        tasks.append(asyncio.create_task(_guarded(send, i)))
    return await _collect(tasks, timeout_s)


async def _collect(tasks: list[asyncio.Task[Any]], timeout_s: float) -> list[Any]:
    done, pending = await asyncio.wait(tasks, timeout=timeout_s)
    for task in pending:
        task.cancel()
    return [t.result() for t in done if not t.cancelled() and t.exception() is None
            and t.result() is not None]


# -- measuring ---------------------------------------------------------------------------------
class CpuMeter:
    """CPU over a phase, in % of one core: the gateway, the worker, Kafka, this client, and
    everything else on the machine ("other": other tests, Connect, Elasticsearch …)."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.procs = {name: [psutil.Process(p) for p in ps] for name, ps in pids.items()}
        self.procs["client"] = [psutil.Process()]
        self._t0 = 0.0
        self._c0: dict[str, float] = {}

    @staticmethod
    def _cpu(procs: list[psutil.Process]) -> float:
        total = 0.0
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                total += t.user + t.system
        return total

    def start(self) -> None:
        psutil.cpu_percent(None)
        self._t0 = time.perf_counter()
        self._c0 = {n: self._cpu(p) for n, p in self.procs.items()}

    def stop(self) -> dict[str, float]:
        """% of one core per process, "machine" (% of all cores) and "wall" (s)."""
        wall = time.perf_counter() - self._t0
        out = {n: 100 * (self._cpu(p) - self._c0[n]) / wall for n, p in self.procs.items()}
        machine = psutil.cpu_percent(None)
        other = max(0.0, machine * (os.cpu_count() or 1) - sum(out.values()))
        return out | {"other": other, "machine": machine, "wall": wall}


def kafka_pids(settings: Settings) -> list[int]:
    """The stack's Kafka brokers (read-only: their CPU times)."""
    conf = str(settings.data_dir / "conf")
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if "kafka.Kafka" in cmd and any(a.startswith(conf) for a in cmd):
            found.append(proc.pid)
    return found


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    return values[max(0, min(len(values) - 1, math.ceil(q * len(values)) - 1))]


@dataclass
class Row:
    path: str
    mode: str
    sent: int
    outcomes: Counter[str]
    latencies_ms: list[float]  # sorted
    rate: float | None = None  # decided orders/s; None for rows that are only latency
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        return len(self.latencies_ms)

    def cpu_ms_per_order(self, who: str) -> float | None:
        """CPU time ``who`` spent per decided order over the phase."""
        if not self.cpu or not self.answered:
            return None
        return 10 * self.cpu[who] * self.cpu["wall"] / self.answered

    def p(self, q: float) -> float | None:
        return pct(self.latencies_ms, q) if self.latencies_ms else None


def summarize(path: str, mode: str, n: int, outcomes: list[Outcome],
              cpu: dict[str, float]) -> Row:
    decided = [o for o in outcomes if o.decided]
    kinds = Counter(o.kind for o in outcomes)
    kinds["no answer"] += n - len(outcomes)
    lat = sorted(1000 * (o.answered - o.sent) for o in decided if o.answered is not None)
    rate = None
    if decided:
        span = max(o.answered or 0.0 for o in decided) - min(o.sent for o in outcomes)
        rate = len(decided) / span if span > 0 else None
    return Row(path, mode, n, kinds, lat, rate, cpu)


def fill_row(path: str, mode: str, sent_at: dict[str, float], fills: dict[str, float]) -> Row:
    """Request → the taker's first fill, for the taker orders sent."""
    lat = sorted(1000 * (fills[c] - t) for c, t in sent_at.items() if c in fills)
    kinds = Counter({"filled": len(lat), "no fill seen": len(sent_at) - len(lat)})
    return Row(path, mode, len(sent_at), kinds, lat)


# -- the venue: worker, gateway, traders -------------------------------------------------------
def tag(n: int) -> str:
    rng = random.Random(uuid.uuid4().int)
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(n))


def make_worker(settings: Settings, base: str) -> WorkerProcess:
    app_id = f"bench-gw-{uuid.uuid4().hex[:8]}"
    commit_end_offsets(settings, app_id, ("orders.requests", "accounts.activity",
                                          "orders.commands", "orders.events"))
    env = {"STRIKEFLOW_WORKER__AGENTS": '["streams.risk", "streams.matching", "streams.ledger"]',
           "STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES": json.dumps([base]), **RISK_ENV}
    return WorkerProcess(settings, app_id, WORKER_PORT, env=env)


def make_gateway(settings: Settings, base: str) -> GatewayProcess:
    return GatewayProcess(settings, GATEWAY_PORT, env={
        "STRIKEFLOW_MATCHING__EXTRA_SPOT_BASES": json.dumps([base]), **GATEWAY_ENV})


@dataclass(frozen=True)
class Trader:
    account: str
    token: str


async def sign_up(url: str, prefix: str, n: int) -> list[Trader]:
    """Register and log in ``n`` traders (argon2 makes each one take a while)."""
    limit = asyncio.Semaphore(4)

    async def one(http: httpx.AsyncClient, k: int) -> Trader:
        name = f"{prefix}-{k:02d}"
        async with limit:
            r = await http.post("/api/v1/auth/register",
                                json={"username": name, "password": PASSWORD})
            if r.status_code != 201:
                raise RuntimeError(f"sign-up of {name}: {r.status_code} {r.text}")
            r = await http.post("/api/v1/auth/login", json={"username": name,
                                                             "password": PASSWORD})
            if r.status_code != 200:
                raise RuntimeError(f"login of {name}: {r.status_code} {r.text}")
        body = r.json()
        return Trader(body["account"], body["access_token"])

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return list(await asyncio.gather(*(one(http, k) for k in range(n))))


def fund(settings: Settings, accounts: list[str]) -> None:
    """What the CDC bridge publishes for a deposit, straight to ``accounts.activity``."""
    producer = make_producer(settings)
    for account in accounts:
        ref = uuid.uuid4().hex
        producer.produce(ACTIVITY.name, key=account.encode(), value=ACTIVITY.encode(
            FundsTransferred(event_id=f"transfer:{ref}", ts_event=datetime.now(UTC),
                             account=account, transfer_id=ref, amount=FUNDS,
                             reference=f"bench-{ref[:8]}")))
    producer.flush(10)


# -- the three paths ---------------------------------------------------------------------------
class Path:
    """One way in: ``send(i)`` places order ``i`` (of shape ``order_shape(i)``) for account
    ``i % ACCOUNTS`` and returns when its answer came. Taker orders' send times are kept by
    client order id, for the fill latency."""

    name = ""

    def __init__(self, symbol: str, accounts: list[str]) -> None:
        self.symbol = symbol
        self.accounts = accounts
        self._seq = itertools.count()
        self._run = uuid.uuid4().hex[:6]
        self.taker_sent: dict[str, float] = {}

    def next_cid(self) -> str:
        return f"b{self._run}-{next(self._seq)}"

    async def send(self, i: int) -> Outcome:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class KafkaPath(Path):
    name = "Kafka direct"

    def __init__(self, settings: Settings, symbol: str, accounts: list[str]) -> None:
        super().__init__(symbol, accounts)
        self.producer = make_producer(settings, **{"linger.ms": 1})  # as the gateway's
        self.waiters: dict[str, asyncio.Future[tuple[float, dict[str, Any]]]] = {}
        self.fills: dict[str, float] = {}  # taker client order id -> its first fill seen
        self.foreign = 0  # answers of other workers, skipped
        self._loop = asyncio.get_running_loop()
        self._stop = threading.Event()
        self._consumer = make_consumer(settings, f"bench-gw-watch-{uuid.uuid4().hex[:6]}",
                                       **{"fetch.wait.max.ms": 10})
        parts = self._consumer.list_topics("orders.events", timeout=10).topics[
            "orders.events"].partitions
        self._consumer.assign([
            TopicPartition("orders.events", p, self._consumer.get_watermark_offsets(
                TopicPartition("orders.events", p), timeout=10)[1]) for p in parts])
        self._thread = threading.Thread(target=self._watch, name="bench-watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        """Answers (first event caused by a command) and takers' fills, as they arrive."""
        while not self._stop.is_set():
            for msg in self._consumer.consume(1000, 0.05):
                if msg.error():
                    continue
                now = time.perf_counter()
                rec = orjson.loads(msg.value())
                cause = rec.get("causation_id") or ""
                if rec.get("reason_code") == UNKNOWN_INSTRUMENT:
                    self.foreign += cause in self.waiters  # another worker's; ours follows
                    continue
                waiter = self.waiters.pop(cause, None)
                if waiter is not None:
                    self._loop.call_soon_threadsafe(_settle, waiter, (now, rec))
                if rec.get("kind") in ("filled", "partially_filled") and not rec.get("is_maker"):
                    cid = rec.get("client_order_id")
                    if cid in self.taker_sent:
                        self.fills.setdefault(cid, now)

    async def send(self, i: int) -> Outcome:
        side, price, taker = order_shape(i)
        cid = self.next_cid()
        cmd = SubmitOrder(command_id=str(uuid.uuid4()), ts_sent=datetime.now(UTC),
                          account=self.accounts[i % ACCOUNTS], symbol=self.symbol,
                          client_order_id=cid, side=side, order_type="limit", qty=QTY,
                          price=price)
        value = REQUESTS.encode(cmd)
        answer = self._loop.create_future()
        self.waiters[cmd.command_id] = answer
        t0 = time.perf_counter()
        if taker:
            self.taker_sent[cid] = t0
        while True:
            try:
                self.producer.produce(REQUESTS.name, key=cmd.account.encode(), value=value)
                break
            except BufferError:
                await asyncio.sleep(0.005)
        self.producer.poll(0)
        try:
            at, rec = await asyncio.wait_for(answer, WAIT_S)
        except TimeoutError:
            self.waiters.pop(cmd.command_id, None)
            return Outcome(t0, None, "timeout")
        return Outcome(t0, at, event_kind(rec))

    async def close(self) -> None:
        self._stop.set()
        await asyncio.to_thread(self._thread.join, 5)
        self._consumer.close()
        self.producer.flush(10)


def _settle(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def rest_body(symbol: str, cid: str, i: int) -> dict[str, Any]:
    side, price, _ = order_shape(i)
    return {"symbol": symbol, "side": side, "type": "limit", "qty": str(QTY),
            "price": str(price), "client_order_id": cid}


class RestPath(Path):
    name = "REST"

    def __init__(self, url: str, symbol: str, traders: list[Trader], connections: int,
                 client: str) -> None:
        """``connections``: the most HTTP/1.1 connections (requests in flight) at a time."""
        super().__init__(symbol, [t.account for t in traders])
        self.name = f"REST ({client})"
        self.headers = [{"Authorization": f"Bearer {t.token}",
                         "Content-Type": "application/json"} for t in traders]
        self.session: aiohttp.ClientSession | None = None
        self.free: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        if client == "aiohttp":
            self.session = aiohttp.ClientSession(
                url, connector=aiohttp.TCPConnector(limit=connections),
                timeout=aiohttp.ClientTimeout(total=WAIT_S))
        else:  # one client per connection: httpx's shared pool is the slow part
            for _ in range(connections):
                self.free.put_nowait(httpx.AsyncClient(
                    base_url=url, timeout=WAIT_S,
                    limits=httpx.Limits(max_connections=1, max_keepalive_connections=1)))

    async def _post(self, content: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        if self.session is not None:
            async with self.session.post(ORDERS_URL, data=content, headers=headers) as r:
                return r.status, orjson.loads(await r.read())
        http = await self.free.get()
        try:
            r = await http.post(ORDERS_URL, content=content, headers=headers)
            return r.status_code, orjson.loads(r.content)
        finally:
            self.free.put_nowait(http)

    async def send(self, i: int) -> Outcome:
        cid = self.next_cid()
        content = orjson.dumps(rest_body(self.symbol, cid, i))
        t0 = time.perf_counter()
        if order_shape(i)[2]:
            self.taker_sent[cid] = t0
        status, body = await self._post(content, self.headers[i % ACCOUNTS])
        t1 = time.perf_counter()
        return Outcome(t0, t1, answer_kind(status, body))

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        while not self.free.empty():
            await self.free.get_nowait().aclose()


class WsPath(Path):
    name = "WebSocket"

    def __init__(self, symbol: str, traders: list[Trader]) -> None:
        super().__init__(symbol, [t.account for t in traders])
        self.traders = traders
        self.conns: list[ClientConnection] = []
        self.results: dict[str, asyncio.Future[tuple[float, dict[str, Any]]]] = {}
        self.fills: dict[str, float] = {}
        self._readers: list[asyncio.Task[None]] = []

    async def open(self, url: str) -> None:
        """One connection per trader: authenticated, subscribed to its ``fills``."""
        ws_url = url.replace("http", "ws", 1) + "/ws"
        for trader in self.traders:
            ws = await connect(ws_url, open_timeout=10, max_size=2**22)
            self.conns.append(ws)
            await ws.send(orjson.dumps({"op": "auth", "token": trader.token}).decode())
            await _expect(ws, "authenticated")
            await ws.send(orjson.dumps({"op": "subscribe", "channels": ["fills"]}).decode())
            await _expect(ws, "subscribed")
            self._readers.append(asyncio.create_task(self._read(ws)))

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            now = time.perf_counter()
            msg = orjson.loads(raw)
            if msg.get("op") == "result":
                fut = self.results.pop(str(msg.get("id")), None)
                if fut is not None and not fut.done():
                    fut.set_result((now, msg))
            elif msg.get("channel") == "fills" and msg.get("type") == "update":
                fill = msg["data"]
                if fill.get("liquidity") == "taker":
                    self.fills.setdefault(fill["client_order_id"], now)

    async def send(self, i: int) -> Outcome:
        cid = self.next_cid()
        frame = orjson.dumps({"op": "place", "id": cid, **rest_body(self.symbol, cid, i)})
        answer = asyncio.get_running_loop().create_future()
        self.results[cid] = answer
        t0 = time.perf_counter()
        if order_shape(i)[2]:
            self.taker_sent[cid] = t0
        await self.conns[i % ACCOUNTS].send(frame.decode())
        try:
            at, msg = await asyncio.wait_for(answer, WAIT_S)
        except TimeoutError:
            self.results.pop(cid, None)
            return Outcome(t0, None, "timeout")
        return Outcome(t0, at, answer_kind(int(msg.get("http_status", 0)), msg))

    async def close(self) -> None:
        for task in self._readers:
            task.cancel()
        for ws in self.conns:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 5)


async def _expect(ws: ClientConnection, op: str, timeout_s: float = 10) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            msg = orjson.loads(await ws.recv())
            if msg.get("op") == op:
                return
            if msg.get("op") == "error":
                raise RuntimeError(f"websocket: {msg}")


# -- phases ------------------------------------------------------------------------------------
async def warm_up(path: Path, timeout_s: float = 60) -> None:
    """Until every account of ``path`` has had an order accepted (its deposit is applied),
    then a short run so connections, caches and the worker's tables are warm."""
    pending = list(range(ACCOUNTS))
    deadline = time.monotonic() + timeout_s
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path.name}: {len(pending)} accounts never accepted an order")
        outcomes = await asyncio.gather(*(_guarded(path.send, i) for i in pending))
        pending = [i for i, o in zip(pending, outcomes, strict=True) if not o.ok]
        if pending:
            await asyncio.sleep(0.5)
    await closed_loop(path.send, 400, 32, 10)


async def measure_path(path: Path, meter: CpuMeter, args: argparse.Namespace) -> list[Row]:
    """Max effort, then each paced rate (with request → taker's fill), for one path."""
    await warm_up(path)
    foreign = getattr(path, "foreign", 0)
    meter.start()
    if isinstance(path, KafkaPath):
        mode = "max (all at once)"
        outcomes = await burst(path.send, args.orders, args.max_seconds + 2 * WAIT_S)
    else:
        mode = f"max ({args.concurrency} in flight)"
        outcomes = await closed_loop(path.send, args.orders, args.concurrency,
                                     args.max_seconds)
    rows = [summarize(path.name, mode, len(outcomes), outcomes, meter.stop())]
    for rate, seconds in ((args.rate, args.seconds), (args.low_rate, args.low_seconds)):
        await asyncio.sleep(2)  # the worker's tail (fills booked, positions) settles
        path.taker_sent.clear()
        n = int(rate * seconds)
        meter.start()
        outcomes = await paced(path.send, n, rate, seconds + 2 * WAIT_S)
        rows.append(summarize(path.name, f"paced {rate:,.0f}/s", n, outcomes, meter.stop()))
        await asyncio.sleep(0.5)  # the last fills
        fills = getattr(path, "fills", None)
        if fills is not None:
            rows.append(fill_row(path.name, f"paced {rate:,.0f}/s → fill",
                                 dict(path.taker_sent), fills))
    if skipped := getattr(path, "foreign", 0) - foreign:
        rows[0].outcomes["foreign 5001 (skipped)"] = skipped
    return rows


def other_risk_workers(settings: Settings) -> list[str]:
    """Consumer groups that have ``orders.requests`` assigned: running risk agents."""
    admin = AdminClient(settings.kafka.client_config(Role.ADMIN))
    groups = [g.group_id for g in admin.list_consumer_groups(request_timeout=10).result().valid]
    if not groups:
        return []
    found = []
    for gid, fut in admin.describe_consumer_groups(groups, request_timeout=10).items():
        with contextlib.suppress(Exception):
            members = fut.result().members
            if any(tp.topic == REQUESTS.name for m in members
                   for tp in m.assignment.topic_partitions):
                found.append(gid)
    return found


async def wait_quiet(settings: Settings, console: Console, timeout_s: float) -> list[str]:
    """Wait (bounded) until no other worker reads ``orders.requests``; the ones left."""
    deadline = time.monotonic() + timeout_s
    others = await asyncio.to_thread(other_risk_workers, settings)
    if others:
        console.print(f"waiting up to {timeout_s:.0f}s for other risk workers to stop: "
                      f"{', '.join(others)}")
    while others and time.monotonic() < deadline:
        await asyncio.sleep(3)
        others = await asyncio.to_thread(other_risk_workers, settings)
    return others


# -- report ------------------------------------------------------------------------------------
def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:,.1f}"


def _vs(row: Row, base: dict[str, Row]) -> str:
    ref = base.get("max" if row.mode.startswith("max") else row.mode)
    if ref is None:
        return "—"
    if row.path == ref.path:
        return "1 (baseline)"
    if row.mode.startswith("max"):
        return f"{row.rate / ref.rate:.2f}x orders/s" if row.rate and ref.rate else "—"
    p50, p99, r50, r99 = row.p(0.5), row.p(0.99), ref.p(0.5), ref.p(0.99)
    if p50 is None or p99 is None or not r50 or not r99:
        return "—"
    return f"p50 {p50 / r50:.1f}x ({p50 - r50:+,.0f} ms), p99 {p99 / r99:.1f}x"


def _per_order(row: Row, who: str) -> str:
    ms = row.cpu_ms_per_order(who)
    return "—" if not ms else f"{ms:.2f} (≤{1000 / ms:,.0f}/s)"


def report(console: Console, rows: list[Row], args: argparse.Namespace) -> None:
    base = {("max" if r.mode.startswith("max") else r.mode): r
            for r in rows if r.path == KafkaPath.name}
    table = Table(title="Orders through the gateway vs straight to Kafka (one worker: "
                        "risk + matching + ledger)")
    for col in ("path", "mode", "orders", "answered", "orders/s", "p50 ms", "p99 ms",
                "p99.9 ms", "vs Kafka direct"):
        table.add_column(col, justify="left" if col in ("path", "mode") else "right")
    for r in rows:
        if not r.sent:
            continue
        table.add_row(r.path, r.mode, f"{r.sent:,}", f"{r.answered:,}",
                      "—" if r.rate is None else f"{r.rate:,.0f}", _ms(r.p(0.5)),
                      _ms(r.p(0.99)), _ms(r.p(0.999)), _vs(r, base))
    console.print(table)
    cpu = Table(title=f"CPU in each phase: % of one core (machine: of all {os.cpu_count()}); "
                      "CPU ms per decided order (≤ what one core could do at that cost)")
    for col in ("path", "mode", "gateway", "worker", "kafka", "client", "other", "machine",
                "gateway ms/order", "worker ms/order", "outcomes"):
        cpu.add_column(col, justify="left" if col in ("path", "mode", "outcomes") else "right")
    for r in rows:
        if r.cpu:
            cpu.add_row(r.path, r.mode, *(f"{r.cpu.get(k, 0):.0f}" for k in
                                          ("gateway", "worker", "kafka", "client", "other",
                                           "machine")),
                        _per_order(r, "gateway") if r.path != KafkaPath.name else "—",
                        _per_order(r, "worker"),
                        ", ".join(f"{k} {v:,}" for k, v in r.outcomes.most_common() if v))
    console.print(cpu)
    _goals(console, rows, args)


def _goals(console: Console, rows: list[Row], args: argparse.Namespace) -> None:
    console.print("[bold]Goals[/bold] (reported, not enforced):")
    paced = f"paced {args.rate:,.0f}/s"
    for r in rows:
        if r.path == KafkaPath.name:
            continue
        if r.mode.startswith("max"):
            met = (r.rate or 0) >= GOAL_RATE
            console.print(f"  {r.path}: ≥ {GOAL_RATE:,.0f} orders/s through the gateway — "
                          f"{r.rate or 0:,.0f}: {'met' if met else 'NOT met'}")
        elif r.mode == paced:
            p99 = r.p(0.99)
            met = p99 is not None and p99 <= GOAL_P99_MS
            console.print(f"  {r.path}: p99 request → answer ≤ {GOAL_P99_MS:.0f} ms at "
                          f"{args.rate:,.0f}/s — {_ms(p99)} ms: {'met' if met else 'NOT met'}")


# -- main --------------------------------------------------------------------------------------
async def run(settings: Settings, args: argparse.Namespace, console: Console) -> list[Row]:
    base = "BX" + tag(6)
    symbol = f"{base}-USDT"
    others = await wait_quiet(settings, console, args.wait_quiet)
    if others:
        console.print(f"[yellow]other risk workers still read orders.requests[/yellow] "
                      f"({', '.join(others)}): their answers are counted apart, and they "
                      "take CPU")
    worker, gw = make_worker(settings, base), make_gateway(settings, base)
    paths: list[Path] = []
    try:
        console.print(f"starting a worker ({worker.app_id}) and a gateway on :{GATEWAY_PORT} "
                      f"for {symbol} …")
        await asyncio.gather(asyncio.to_thread(worker.start, 90),
                             asyncio.to_thread(gw.start, 60))
        assert worker.proc is not None and gw.proc is not None
        meter = CpuMeter({"gateway": [gw.proc.pid], "worker": [worker.proc.pid],
                          "kafka": kafka_pids(settings)})
        run_tag = uuid.uuid4().hex[:6]
        rest_traders, ws_traders = await asyncio.gather(
            sign_up(gw.url, f"bgw-{run_tag}-r", ACCOUNTS),
            sign_up(gw.url, f"bgw-{run_tag}-w", ACCOUNTS))
        direct = [f"bench-gw-{run_tag}-k{k:02d}" for k in range(ACCOUNTS)]
        fund(settings, direct + [t.account for t in rest_traders + ws_traders])
        paths.append(KafkaPath(settings, symbol, direct))
        # Max effort keeps --concurrency requests in flight; a paced run may need more
        # connections, or the client's own queue would cap it (64 / 250 ms ≈ 256/s).
        connections = max(args.concurrency, int(args.rate))
        paths.append(RestPath(gw.url, symbol, rest_traders, connections, args.http_client))
        ws = WsPath(symbol, ws_traders)
        paths.append(ws)
        meter.start()  # what the processes burn with no orders at all
        await asyncio.sleep(3)
        rows: list[Row] = [Row("(no orders)", "idle, 3 s", 0, Counter(), [], None, meter.stop())]
        for path in paths:
            if path is ws:
                await ws.open(gw.url)
            console.print(f"  measuring {path.name} …")
            rows += await measure_path(path, meter, args)
        return rows
    finally:
        for path in paths:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(path.close(), 15)
        gw.stop()
        worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=5000, help="orders per max-effort run")
    parser.add_argument("--max-seconds", type=float, default=10.0,
                        help="longest a max-effort closed loop sends for")
    parser.add_argument("--rate", type=float, default=500.0, help="paced orders/s")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of a paced run")
    parser.add_argument("--low-rate", type=float, default=100.0,
                        help="a second paced rate, well within the worker's capacity")
    parser.add_argument("--low-seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=64,
                        help="HTTP connections / orders in flight, max effort")
    parser.add_argument("--http-client", choices=("aiohttp", "httpx"), default="aiohttp")
    parser.add_argument("--wait-quiet", type=float, default=45.0,
                        help="longest wait for other risk workers to leave the stack")
    args = parser.parse_args()
    console = Console() if sys.stdout.isatty() else Console(width=170)
    settings = get_settings()
    migrate(settings)
    console.print(f"gateway benchmark: {os.cpu_count()} cores, load average "
                  f"{os.getloadavg()[0]:.2f}; {ACCOUNTS} accounts per path, qty {QTY}, "
                  f"buys and sells around {MID} (half of them cross)")
    console.print("rate limits raised for this run: gateway per account and per IP "
                  f"{UNLIMITED}, logins per IP 50/s; risk's per-account order rate and "
                  "open-order limit 100,000")
    rows = uvloop.run(run(settings, args, console))  # the client's own overhead, kept low
    report(console, rows, args)


if __name__ == "__main__":
    main()
