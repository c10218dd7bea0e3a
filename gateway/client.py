"""A trader's client of the gateway: sign up or log in over REST, then send orders over the
WebSocket and collect the answers. The main job's simulated traders use it, so everything
they do passes authentication, rate limits and risk like a person's orders.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from topics.contracts import AmendOrder, CancelOrder, SubmitOrder

__all__ = ["EntryReport", "login_or_register", "op_of", "send_orders"]


def login_or_register(url: str, username: str, password: str) -> dict[str, Any]:
    """Tokens for ``username``, registering it first if it does not exist yet."""
    with httpx.Client(base_url=url, timeout=30) as http:
        r = http.post("/api/v1/auth/login", json={"username": username, "password": password})
        if r.status_code == 401:
            reg = http.post("/api/v1/auth/register",
                            json={"username": username, "password": password})
            if reg.status_code not in (201, 409):
                reg.raise_for_status()
            r = http.post("/api/v1/auth/login",
                          json={"username": username, "password": password})
        r.raise_for_status()
        tokens: dict[str, Any] = r.json()
        return tokens


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def op_of(command: SubmitOrder | CancelOrder | AmendOrder) -> dict[str, Any]:
    """The WebSocket order-entry frame for a contract command (the account is the login's)."""
    if isinstance(command, SubmitOrder):
        body = {"op": "place", "symbol": command.symbol, "side": command.side,
                "type": command.order_type, "qty": _dec(command.qty),
                "price": _dec(command.price), "time_in_force": command.time_in_force,
                "client_order_id": command.client_order_id,
                "trigger_price": _dec(command.trigger_price), "post_only": command.post_only,
                "reduce_only": command.reduce_only, "display_qty": _dec(command.display_qty)}
        if command.expire_at is not None:
            body["expire_at"] = command.expire_at.isoformat()
        return {k: v for k, v in body.items() if v is not None}
    if isinstance(command, AmendOrder):
        return {k: v for k, v in {"op": "amend", "symbol": command.symbol,
                                  "client_order_id": command.client_order_id,
                                  "qty": _dec(command.new_qty),
                                  "price": _dec(command.new_price)}.items() if v is not None}
    return {"op": "cancel", "symbol": command.symbol, "client_order_id": command.client_order_id}


@dataclass
class EntryReport:
    sent: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _session(url: str, token: str, commands: Sequence[Any], starts: Sequence[float],
                   t0: float, report: EntryReport,
                   progress: Callable[[EntryReport], None] | None) -> None:
    pending: dict[str, float] = {}  # request id -> when it was sent
    late: dict[str, float] = {}  # client order id -> when, for answers still pending
    ws_url = url.replace("http", "ws", 1) + "/ws"
    async with connect(ws_url, open_timeout=15, max_size=2**22) as ws:
        await ws.send(orjson.dumps({"op": "auth", "token": token}).decode())
        # a "pending" answer (risk took longer than the gateway waits) is settled later by
        # the order's own update on the private orders channel
        await ws.send(orjson.dumps({"op": "subscribe", "channels": ["orders"]}).decode())
        reader = asyncio.create_task(_read(ws, commands, pending, late, report, progress))
        for n, (command, at) in enumerate(zip(commands, starts, strict=True)):
            if (ahead := t0 + at - time.monotonic()) > 0:
                await asyncio.sleep(ahead)
            rid = str(n)
            pending[rid] = time.monotonic()
            await ws.send(orjson.dumps(op_of(command) | {"id": rid}).decode())
            report.sent += 1
        deadline = time.monotonic() + 20
        while (pending or late) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        reader.cancel()
        report.answers["unanswered"] += len(pending)
        report.answers["pending, never settled"] += len(late)


async def _read(ws: ClientConnection, commands: Sequence[Any], pending: dict[str, float],
                late: dict[str, float], report: EntryReport,
                progress: Callable[[EntryReport], None] | None) -> None:
    async for raw in ws:
        msg = orjson.loads(raw)
        if msg.get("op") == "heartbeat":
            await ws.send('{"op":"ping"}')
        if msg.get("channel") == "orders" and msg.get("type") == "update":
            sent = late.pop(str(msg["data"].get("client_order_id")), None)
            if sent is not None:
                report.latencies_ms.append((time.monotonic() - sent) * 1000)
                report.answers[f"{msg['data'].get('event')} (after the wait)"] += 1
            continue
        if msg.get("op") != "result":
            continue
        rid = str(msg.get("id"))
        sent = pending.pop(rid, None)
        status = str(msg.get("status") or msg.get("http_status"))
        if status == "pending" and sent is not None:
            late[str(getattr(commands[int(rid)], "client_order_id", rid))] = sent
            continue
        if sent is not None:
            report.latencies_ms.append((time.monotonic() - sent) * 1000)
        report.answers[status] += 1
        if progress is not None:
            progress(report)


def send_orders(url: str, tokens: dict[str, str], commands: Sequence[Any], rate: float,
                progress: Callable[[EntryReport], None] | None = None) -> EntryReport:
    """Send ``commands`` (contract commands of several accounts) at ``rate`` per second in
    all, each account on its own authenticated WebSocket; returns the answers by status and
    the request → answer latencies."""
    report = EntryReport()
    by_account: dict[str, list[tuple[Any, float]]] = {}
    for n, command in enumerate(commands):
        by_account.setdefault(command.account, []).append((command, n / rate))

    async def run() -> None:
        t0 = time.monotonic()
        await asyncio.gather(*(
            _session(url, tokens[account], [c for c, _ in items], [at for _, at in items], t0,
                     report, progress)
            for account, items in by_account.items()))

    asyncio.run(run())
    return report
