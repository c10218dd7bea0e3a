"""Block RFQs (→ ``rfq.commands``, answered from ``rfq.events``): a taker opens an RFQ on a
structure of 1..4 legs, makers quote its bid or ask, the taker accepts one (or the best);
the block trade is executed by matching and booked like any trade. Deribit's block RFQ is
the convention."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse
from pydantic import Field, ValidationError

from gateway.bridge import PublishError
from gateway.context import Gateway, venue_now
from gateway.routes import StrictBody
from gateway.security import Caller, caller, gateway
from topics.contracts.rfq import (
    AcceptRfq,
    CancelRfq,
    CancelRfqQuote,
    OpenRfq,
    QuoteId,
    QuoteRfq,
    RfqId,
    RfqLeg,
)

__all__ = ["router"]

router = APIRouter(tags=["rfq"])

Amount = Annotated[Decimal, Field(gt=0, max_digits=28, allow_inf_nan=False)]
NetPrice = Annotated[Decimal, Field(max_digits=28, allow_inf_nan=False)]


class OpenBody(StrictBody):
    legs: list[RfqLeg] = Field(min_length=1, max_length=4)
    amount: Amount
    side: Literal["buy", "sell"] | None = None


class QuoteBody(StrictBody):
    side: Literal["bid", "ask"]
    price: NetPrice
    amount: Amount
    quote_id: QuoteId | None = None


class AcceptBody(StrictBody):
    side: Literal["buy", "sell"]
    quote_id: QuoteId | None = None
    limit_price: NetPrice | None = None


async def _submit(gw: Gateway, build: Any, who: Caller, rfq_id: str, **fields: Any
                  ) -> JSONResponse:
    """Publish one RFQ command for the caller and wait (bounded) for the RFQ agent's answer:
    200 with the event it produced, 422 with the 6xxx code when refused, 202 if late."""
    try:
        command = build(command_id=str(uuid.uuid4()), ts_sent=venue_now(),
                        account=who.account, rfq_id=rfq_id, **fields)
    except ValidationError as exc:
        raise HTTPException(422, [{"loc": e["loc"], "msg": e["msg"]}
                                  for e in exc.errors()]) from None
    try:
        answer = await gw.bridge.send(command, topic="rfq.commands", key=rfq_id)
    except PublishError as exc:
        raise HTTPException(503, str(exc)) from None
    body: dict[str, Any] = {"command_id": command.command_id, "rfq_id": rfq_id}
    try:
        event = await asyncio.wait_for(answer, gw.settings.gateway.decision_timeout_s)
    except TimeoutError:
        gw.bridge.forget(command.command_id)
        return JSONResponse(body | {"status": "pending"}, status_code=202)
    body |= {k: event.get(k) for k in ("kind", "event_id", "quote_id", "price", "trade_id",
                                       "maker", "expires_at")}
    if event["kind"].endswith("refused"):
        return JSONResponse(body | {"code": event.get("code"), "reason": event.get("reason")},
                            status_code=422)
    return JSONResponse(body)


@router.post("/rfq")
async def open_rfq(body: OpenBody, who: Caller = Depends(caller),
                   gw: Gateway = Depends(gateway)) -> JSONResponse:
    """Ask makers for a price on ``amount`` of the structure (both sides, or ``side``)."""
    return await _submit(gw, OpenRfq, who, uuid.uuid4().hex[:20], legs=body.legs,
                         amount=body.amount, side=body.side)


@router.get("/rfq/{rfq_id}")
async def rfq(rfq_id: RfqId, who: Caller = Depends(caller),
              gw: Gateway = Depends(gateway)) -> list[dict[str, Any]]:
    """Every step of the RFQ so far (opened, quotes, refusals, the block trade, expiry) for
    its taker; a maker sees the request, its own quotes and its own trade only."""
    steps = gw.views.rfq(rfq_id, who.account)
    if steps is None:
        raise HTTPException(404, "no such RFQ")
    return steps


@router.post("/rfq/{rfq_id}/quotes")
async def quote(rfq_id: RfqId, body: QuoteBody, who: Caller = Depends(caller),
                gw: Gateway = Depends(gateway)) -> JSONResponse:
    """Quote the bid or ask of the structure (a maker's later quote on a side replaces its
    earlier one)."""
    return await _submit(gw, QuoteRfq, who, rfq_id, side=body.side, price=body.price,
                         amount=body.amount, quote_id=body.quote_id or uuid.uuid4().hex[:20])


@router.delete("/rfq/{rfq_id}/quotes/{quote_id}")
async def cancel_quote(rfq_id: RfqId, quote_id: QuoteId, who: Caller = Depends(caller),
                       gw: Gateway = Depends(gateway)) -> JSONResponse:
    return await _submit(gw, CancelRfqQuote, who, rfq_id, quote_id=quote_id)


@router.post("/rfq/{rfq_id}/accept")
async def accept(rfq_id: RfqId, body: AcceptBody, who: Caller = Depends(caller),
                 gw: Gateway = Depends(gateway)) -> JSONResponse:
    """Trade a quote (or the best live one on the other side) within ``limit_price``."""
    return await _submit(gw, AcceptRfq, who, rfq_id, side=body.side, quote_id=body.quote_id,
                         limit_price=body.limit_price)


@router.delete("/rfq/{rfq_id}")
async def cancel(rfq_id: RfqId, who: Caller = Depends(caller),
                 gw: Gateway = Depends(gateway)) -> JSONResponse:
    return await _submit(gw, CancelRfq, who, rfq_id)
