"""The WebSocket endpoint ``/ws``: public and private channels, heartbeats, order entry.

Client → server (JSON text frames):

* ``{"op": "auth", "token": "<access token>"}`` — private channels and order entry need it
  (or ``/ws?token=…`` when connecting);
* ``{"op": "subscribe", "channels": ["book.BTC-USDT", "orders"], "since": {"orders": 41}}``
  — public: ``book.<symbol>`` (snapshot, then deltas), ``trades.<symbol>``,
  ``ticker.<symbol>``, ``index.<BTC|ETH>``, ``marks.<BTC|ETH>``; private: ``orders``,
  ``fills``, ``positions``, ``notifications``. ``since`` resumes after a reconnect from the
  last ``seq`` seen;
* ``{"op": "unsubscribe", "channels": [...]}``, ``{"op": "ping"}``;
* ``{"op": "place" | "amend" | "cancel", "id": "<yours>", ...}`` — the REST bodies, answered
  with ``{"op": "result", "id": …, "http_status": …, …}``;
* ``{"op": "cancel_on_disconnect", "enabled": true}`` — when this session ends (closed by
  either side, or silent for three heartbeats) the gateway cancels every open order of the
  account (a ``CancelAll`` with reason ``disconnect``, which risk applies after everything
  the session sent). Deribit's ``enable_cancel_on_disconnect``: a market maker whose
  connection dies does not leave quotes behind.

Server → client: ``{"channel", "type": "snapshot" | "update", "seq", "data"}``,
``{"type": "resync"}`` (updates were dropped for a slow client; snapshots follow),
``{"op": "heartbeat"}`` every ``ws_heartbeat_s``; a client silent for three heartbeats is
closed (1001).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from gateway.context import Gateway
from gateway.feed import Client
from gateway.routes.orders import (
    Amend,
    PlaceOrder,
    amend_command,
    cancel_all_command,
    cancel_command,
    place_command,
    publish_request,
    submit_command,
)
from gateway.security import Caller, bearer_caller, limit_account
from infra.metrics import GATEWAY_ORDERS, GATEWAY_WS_CLIENTS

__all__ = ["router"]

router = APIRouter()
log = structlog.get_logger(__name__)

PRIVATE = ("orders", "fills", "positions", "notifications")
PUBLIC = re.compile(r"^(book|trades|ticker)\.[A-Z0-9]{2,10}-[A-Z0-9-]{2,40}$|"
                    r"^(index|marks)\.(BTC|ETH)$")
MAX_FRAME = 16 * 1024


class _Session:
    def __init__(self, ws: WebSocket, gw: Gateway) -> None:
        self.ws = ws
        self.gw = gw
        self.client = Client(gw.settings.gateway.ws_queue)
        self.who: Caller | None = None
        self.last_heard = time.monotonic()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.cancel_on_disconnect = False

    async def reply(self, message: dict[str, Any]) -> None:
        if not self.client.offer(message):
            self.gw.hub.resync(self.client)

    async def handle(self, raw: str) -> None:
        if len(raw) > MAX_FRAME:
            return await self.reply({"op": "error", "error": "frame too large"})
        try:
            msg = orjson.loads(raw)
            op = msg["op"]
        except (orjson.JSONDecodeError, KeyError, TypeError, IndexError):
            return await self.reply({"op": "error", "error": "expected a JSON object with op"})
        if not isinstance(msg, dict) or not isinstance(op, str):
            return await self.reply({"op": "error", "error": "expected a JSON object with op"})
        channels = msg.get("channels") or []
        since = msg.get("since") or {}
        if not isinstance(channels, list) or not isinstance(since, dict):
            return await self.reply({"op": "error", "error": "channels is a list of names and "
                                                             "since an object of sequences"})
        if op == "ping":
            return await self.reply({"op": "pong"})
        if op == "auth":
            return await self.auth(str(msg.get("token", "")))
        if op == "cancel_on_disconnect":
            if self.who is None:
                return await self.reply({"op": "error", "error": "auth first"})
            self.cancel_on_disconnect = msg.get("enabled") is True
            return await self.reply({"op": "cancel_on_disconnect",
                                     "enabled": self.cancel_on_disconnect})
        if op == "subscribe":
            return await self.subscribe(channels, since)
        if op == "unsubscribe":
            for name in channels:
                self.gw.hub.unsubscribe(self.client, self._internal(str(name)) or "")
            return await self.reply({"op": "unsubscribed", "channels": msg.get("channels")})
        if op in ("place", "amend", "cancel"):
            task = asyncio.create_task(self.order(op, msg))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return None
        return await self.reply({"op": "error", "error": f"unknown op {op[:40]!r}"})

    async def auth(self, token: str) -> None:
        try:
            self.who = await bearer_caller(self.gw, token)
        except HTTPException as exc:
            return await self.reply({"op": "error", "error": exc.detail})
        self.client.account = self.who.account
        await self.reply({"op": "authenticated", "account": self.who.account})

    def _internal(self, name: str) -> str | None:
        if name in PRIVATE:
            return f"{name}:{self.who.account}" if self.who else None
        return name if PUBLIC.match(name) else None

    async def subscribe(self, channels: list[Any], since: dict[str, Any]) -> None:
        done, refused = [], []
        for name in channels[:50]:
            name = str(name)
            internal = self._internal(name)
            if internal is None:
                refused.append(name)
                continue
            seq = since.get(name)
            self.gw.hub.subscribe(self.client, internal, shown=name,
                                  since=seq if type(seq) is int else None)
            done.append(name)
        await self.reply({"op": "subscribed", "channels": done, "refused": refused})

    async def order(self, op: str, msg: dict[str, Any]) -> None:
        rid = msg.get("id")
        if self.who is None:
            return await self.reply({"op": "result", "id": rid, "http_status": 401,
                                     "error": "auth first"})
        try:
            await limit_account(self.gw, self.who)
            body = {k: v for k, v in msg.items() if k not in ("op", "id")}
            if op == "place":
                command = place_command(self.who, PlaceOrder.model_validate(body))
            elif op == "amend":
                cid = body.pop("client_order_id", "")
                amend = Amend.model_validate(body)
                command = amend_command(self.who, str(cid), amend)
            else:
                command = cancel_command(self.who, str(body.get("client_order_id", "")),
                                         str(body.get("symbol", "")))
            status, answer = await submit_command(self.gw, command)
            GATEWAY_ORDERS.labels("websocket", str(status)).inc()
        except ValidationError as exc:
            status, answer = 422, {"error": [{"loc": e["loc"], "msg": e["msg"]}
                                             for e in exc.errors()]}
        except HTTPException as exc:
            status, answer = exc.status_code, {"error": exc.detail}
        except Exception:  # runs as its own task: answer it, never leave the client waiting
            log.exception("websocket order failed")
            status, answer = 500, {"error": "internal error"}
        await self.reply({"op": "result", "id": rid, "http_status": status, **answer})

    async def writer(self) -> None:
        while True:
            message = await self.client.queue.get()
            await self.ws.send_text(orjson.dumps(message, default=str).decode())

    async def heartbeat(self) -> None:
        period = self.gw.settings.gateway.ws_heartbeat_s
        while True:
            await asyncio.sleep(period)
            if time.monotonic() - self.last_heard > 3 * period:
                await self.ws.close(1001, "no message for three heartbeats")
                return
            await self.reply({"op": "heartbeat", "ts": time.time()})

    async def ended(self) -> None:
        """The session is over: cancel the account's orders if it asked for that."""
        if not (self.cancel_on_disconnect and self.who is not None):
            return
        try:
            sent = await publish_request(self.gw, cancel_all_command(self.who,
                                                                     reason="disconnect"))
            log.info("cancel on disconnect", account=self.who.account, **sent)
        except Exception:  # the socket is gone: nobody to answer, but ops must know
            log.exception("cancel on disconnect not sent", account=self.who.account)


@router.websocket("/ws")
async def websocket(ws: WebSocket) -> None:
    gw: Gateway = ws.app.state.gateway
    await ws.accept()
    session = _Session(ws, gw)
    if token := ws.query_params.get("token"):
        await session.auth(token)
    GATEWAY_WS_CLIENTS.inc()
    writer = asyncio.create_task(session.writer())
    beat = asyncio.create_task(session.heartbeat())
    try:
        while True:
            raw = await ws.receive_text()
            session.last_heard = time.monotonic()
            try:
                await session.handle(raw)
            except Exception:  # one bad frame or view must not cost the client its socket
                log.exception("websocket message failed")
                await session.reply({"op": "error", "error": "internal error"})
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        GATEWAY_WS_CLIENTS.dec()
        gw.hub.unsubscribe(session.client)
        for task in (writer, beat, *session.tasks):
            task.cancel()
        for task in (writer, beat):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await session.ended()
