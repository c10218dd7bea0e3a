"""Orders: place, amend, cancel (→ ``orders.requests``, answered with risk's decision), cancel
all (risk expands it in one step), market-maker protection, and their status and history."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import Field, ValidationError

from gateway import history
from gateway.bridge import PublishError
from gateway.context import Gateway, venue_now
from gateway.routes import StrictBody, read_history
from gateway.security import Caller, caller, gateway
from topics.contracts import AmendOrder, CancelAll, CancelOrder, ResetMmp, SetMmpConfig, SubmitOrder

__all__ = ["Amend", "MmpLimits", "PlaceOrder", "amend_command", "cancel_all_command",
           "cancel_command", "place_command", "publish_request", "router", "submit_command"]

router = APIRouter(tags=["orders"])

ClientOrderId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Symbol = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,10}-[A-Z0-9-]{2,40}$", max_length=64)]
Qty = Annotated[Decimal, Field(gt=0, max_digits=28, allow_inf_nan=False)]
Price = Annotated[Decimal, Field(gt=0, max_digits=28, allow_inf_nan=False)]
Underlying = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,10}$")]




class PlaceOrder(StrictBody):
    symbol: Symbol
    side: Literal["buy", "sell"]
    type: Literal["limit", "market", "stop", "stop_limit", "trailing_stop"] = "limit"
    qty: Qty
    price: Price | None = None
    trigger_price: Price | None = None
    trail_ticks: int | None = Field(default=None, gt=0)
    time_in_force: Literal["GTC", "IOC", "FOK", "GTD"] = "GTC"
    expire_at: str | None = None
    post_only: Literal["no", "reject", "reprice"] = "no"
    reduce_only: bool = False
    display_qty: Qty | None = None
    client_order_id: ClientOrderId | None = None
    mmp: bool = False  # a quote market-maker protection guards (see PUT /mmp/{underlying})


class Amend(StrictBody):
    symbol: Symbol
    qty: Qty | None = None
    price: Price | None = None


def _command(who: Caller, build: Any, **fields: Any) -> Any:
    """The contract's command for the authenticated account, stamped by the venue's clock;
    the contract's own rules (a limit order needs a price …) answer 422."""
    try:
        return build(command_id=str(uuid.uuid4()), ts_sent=venue_now(), account=who.account,
                     **fields)
    except ValidationError as exc:
        detail = [{"loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]
        raise HTTPException(422, detail) from None


async def submit_command(gw: Gateway, command: Any) -> tuple[int, dict[str, Any]]:
    """Publish and wait (bounded) for the first answer: (HTTP status, body)."""
    try:
        answer = await gw.bridge.send(command)
    except PublishError as exc:
        raise HTTPException(503, str(exc)) from None
    body: dict[str, Any] = {"command_id": command.command_id, "symbol": command.symbol,
                            "client_order_id": getattr(command, "client_order_id", None)}
    try:
        event = await asyncio.wait_for(answer, gw.settings.gateway.decision_timeout_s)
    except TimeoutError:
        gw.bridge.forget(command.command_id)
        return 202, body | {"status": "pending"}
    body |= {"status": event["kind"], "order_id": event.get("order_id"),
             "event_id": event.get("event_id")}
    if event["kind"] in ("rejected", "command_rejected"):
        return 422, body | {"code": event.get("reason_code"), "reason": event.get("reason")}
    return 200, body


async def publish_request(gw: Gateway, command: Any) -> dict[str, Any]:
    """Publish an account-wide request (cancel all, market-maker protection): risk applies
    it in the account's order, after everything the account sent before; there is no order
    event to wait for. Answers once Kafka has it."""
    try:
        await gw.bridge.send(command)
    except PublishError as exc:
        raise HTTPException(503, str(exc)) from None
    finally:
        gw.bridge.forget(command.command_id)
    return {"command_id": command.command_id, "status": "sent"}


def cancel_all_command(who: Caller, *, symbol: str | None = None,
                       underlying: str | None = None,
                       reason: Literal["user", "disconnect"] = "user") -> CancelAll:
    command: CancelAll = _command(who, CancelAll, symbol=symbol, underlying=underlying,
                                  reason=reason)
    return command


def place_command(who: Caller, body: PlaceOrder) -> SubmitOrder:
    fields = body.model_dump(exclude_none=True, exclude={"type", "client_order_id"})
    command: SubmitOrder = _command(
        who, SubmitOrder, order_type=body.type,
        client_order_id=body.client_order_id or uuid.uuid4().hex[:24], **fields)
    return command


def amend_command(who: Caller, client_order_id: str, body: Amend) -> AmendOrder:
    command: AmendOrder = _command(who, AmendOrder, symbol=body.symbol,
                                   client_order_id=client_order_id, new_qty=body.qty,
                                   new_price=body.price)
    return command


def cancel_command(who: Caller, client_order_id: str, symbol: str) -> CancelOrder:
    command: CancelOrder = _command(who, CancelOrder, symbol=symbol,
                                    client_order_id=client_order_id)
    return command


@router.post("/orders", responses={202: {"description": "sent; no answer yet"},
                                   422: {"description": "refused (by risk or matching)"}})
async def place(body: PlaceOrder, who: Caller = Depends(caller),
                gw: Gateway = Depends(gateway)) -> JSONResponse:
    """Place an order for the caller's account. Answers with risk's decision: ``accepted``
    (or already ``filled``), or 422 ``rejected`` with its code (5xxx risk, others matching)."""
    status, answer = await submit_command(gw, place_command(who, body))
    return JSONResponse(answer, status_code=status)


@router.patch("/orders/{client_order_id}")
async def amend(client_order_id: ClientOrderId, body: Amend, who: Caller = Depends(caller),
                gw: Gateway = Depends(gateway)) -> JSONResponse:
    status, answer = await submit_command(gw, amend_command(who, client_order_id, body))
    return JSONResponse(answer, status_code=status)


@router.delete("/orders/{client_order_id}")
async def cancel(client_order_id: ClientOrderId, symbol: Symbol = Query(),
                 who: Caller = Depends(caller), gw: Gateway = Depends(gateway)) -> JSONResponse:
    status, answer = await submit_command(gw, cancel_command(who, client_order_id, symbol))
    return JSONResponse(answer, status_code=status)


@router.delete("/orders")
async def cancel_all(symbol: Symbol | None = Query(default=None),
                     underlying: Underlying | None = Query(default=None),
                     who: Caller = Depends(caller),
                     gw: Gateway = Depends(gateway)) -> dict[str, Any]:
    """Cancel every open order of the caller — all, one underlying's (``underlying=BTC``) or
    one instrument's — in one step: risk cancels every order it holds for the account in the
    scope, including those sent just before."""
    answer = await publish_request(gw, cancel_all_command(who, symbol=symbol,
                                                          underlying=underlying))
    return answer | {"scope": symbol or underlying or "all"}


class MmpLimits(StrictBody):
    """Market-maker protection of one underlying (see ``SetMmpConfig``)."""

    interval_ms: int = Field(default=60_000, gt=0, le=86_400_000)
    frozen_ms: int = Field(default=10_000, ge=0, le=86_400_000)
    qty_limit: Qty | None = None
    delta_limit: Qty | None = None
    vega_limit: Qty | None = None
    enabled: bool = True


@router.put("/mmp/{underlying}")
async def set_mmp(underlying: Underlying, body: MmpLimits, who: Caller = Depends(caller),
                  gw: Gateway = Depends(gateway)) -> dict[str, Any]:
    """Set (or, with ``enabled: false``, remove) market-maker protection: when the caller's
    fills in the underlying reach a limit within ``interval_ms``, its orders there are
    cancelled and new ones refused (5013) for ``frozen_ms`` (0: until reset)."""
    return await publish_request(gw, _command(who, SetMmpConfig, underlying=underlying,
                                              **body.model_dump(exclude_none=True)))


@router.post("/mmp/{underlying}/reset")
async def reset_mmp(underlying: Underlying, who: Caller = Depends(caller),
                    gw: Gateway = Depends(gateway)) -> dict[str, Any]:
    """Lift a market-maker-protection freeze."""
    return await publish_request(gw, _command(who, ResetMmp, underlying=underlying))


@router.get("/orders")
async def orders(status: Literal["open", "all"] = "open", symbol: Symbol | None = None,
                 limit: int = Query(default=100, ge=1, le=1000), who: Caller = Depends(caller),
                 gw: Gateway = Depends(gateway)) -> list[dict[str, Any]]:
    """Open orders (live), or the latest state of every order (ClickHouse history)."""
    if status == "open":
        live = gw.views.open_orders(who.account)
        return [o for o in live if symbol is None or o["symbol"] == symbol][:limit]
    return await read_history(history.orders, gw.settings, who.account, symbol, limit)


@router.get("/orders/{client_order_id}")
async def order(client_order_id: ClientOrderId, who: Caller = Depends(caller),
                gw: Gateway = Depends(gateway)) -> dict[str, Any]:
    live = gw.views.orders.get(who.account, {}).get(client_order_id)
    if live is not None:
        return live
    found = await read_history(history.order, gw.settings, who.account, client_order_id)
    if found is None:
        raise HTTPException(404, "no such order of yours")
    return found
