"""The caller's account: fills, positions, portfolio, balances, statement, transfers,
simplified options through the counter service, risk limits."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from pydantic import Field

from cdc.domain import CounterError
from gateway import history
from gateway.context import Gateway
from gateway.routes import StrictBody, read_history
from gateway.security import Caller, caller, gateway

__all__ = ["router"]

router = APIRouter(tags=["account"])

Amount = Annotated[Decimal, Field(gt=0, lt=Decimal("1e15"), decimal_places=8,
                                  allow_inf_nan=False)]
Reference = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class Transfer(StrictBody):
    amount: Amount
    reference: Reference = Field(description="idempotency key: a repeat returns the first")


class BuyOption(StrictBody):
    product: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    contracts: Annotated[Decimal, Field(gt=0, lt=Decimal("1e9"), allow_inf_nan=False)]
    client_order_id: Reference


def _json(obj: Any) -> dict[str, Any]:
    out = dataclasses.asdict(obj)
    return {k: (format(v, "f") if isinstance(v, Decimal) else
                v.isoformat() if isinstance(v, datetime) else str(v) if v is not None and
                not isinstance(v, bool | int | str) else v) for k, v in out.items()}


async def _counter(fn: Any, *args: Any) -> Any:
    try:
        return await asyncio.to_thread(fn, *args)
    except CounterError as exc:
        raise HTTPException(422, {"code": int(exc.code), "reason": str(exc)}) from None


@router.get("/fills")
async def fills(symbol: str | None = Query(default=None, pattern=r"^[A-Z0-9-]{3,64}$"),
                limit: int = Query(default=100, ge=1, le=1000), who: Caller = Depends(caller),
                gw: Gateway = Depends(gateway)) -> list[dict[str, Any]]:
    """The caller's executions, newest first (ClickHouse)."""
    return await read_history(history.fills, gw.settings, who.account, symbol, limit)


@router.get("/positions")
async def positions(who: Caller = Depends(caller),
                    gw: Gateway = Depends(gateway)) -> list[dict[str, Any]]:
    """Latest position per instrument, as risk valued it at the mark (live)."""
    return [p for p in gw.views.positions.get(who.account, {}).values()]


@router.get("/balances")
async def balances(who: Caller = Depends(caller), gw: Gateway = Depends(gateway)
                   ) -> dict[str, Any]:
    """USDT in the venue's ledger (deposits, trades, fees, premiums, payouts) and the USDT
    wallet of the counter service (for simplified options)."""
    ledger = await read_history(history.balance, gw.settings, who.account)
    wallet = await _counter(gw.counter.balance, who.account)
    return {"asset": "USDT", "ledger": format(ledger["balance"], "f"),
            "net_deposits": format(ledger["net_deposits"], "f"),
            "fees": format(ledger["fees"], "f"), "counter_wallet": format(wallet, "f")}


@router.get("/portfolio")
async def portfolio(who: Caller = Depends(caller), gw: Gateway = Depends(gateway)
                    ) -> dict[str, Any]:
    """Realized and unrealized PnL over the positions, equity and total return on what was
    paid in: ``(ledger balance + unrealized) / net deposits - 1``."""
    ledger = await read_history(history.balance, gw.settings, who.account)
    positions = list(gw.views.positions.get(who.account, {}).values())
    realized = sum((Decimal(str(p["realized_pnl"])) for p in positions), Decimal(0))
    unrealized = sum((Decimal(str(p["unrealized_pnl"])) for p in positions), Decimal(0))
    equity = ledger["balance"] + unrealized
    paid_in = ledger["net_deposits"]
    total_return = (equity / paid_in - 1) if paid_in > 0 else None
    return {"realized_pnl": format(realized, "f"), "unrealized_pnl": format(unrealized, "f"),
            "equity": format(equity, "f"), "net_deposits": format(paid_in, "f"),
            "fees": format(ledger["fees"], "f"),
            "total_return": None if total_return is None else
            format(total_return.quantize(Decimal("0.000001")), "f"),
            "positions": positions}


@router.get("/statement.csv", response_class=Response)
async def statement(start: date | None = Query(default=None, alias="from"),
                    end: date | None = Query(default=None, alias="to"),
                    who: Caller = Depends(caller), gw: Gateway = Depends(gateway)) -> Response:
    """The account statement (ledger with running balance, positions, PnL) as CSV."""
    end = end or datetime.now(UTC).date()
    if start and start > end:
        raise HTTPException(422, "from is after to")
    body = await read_history(history.statement_csv, gw.settings, who.account, start, end)
    return Response(body, media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="statement-{who.account}-{end}.csv"'})


@router.post("/transfers/deposit")
async def deposit(body: Transfer, who: Caller = Depends(caller),
                  gw: Gateway = Depends(gateway)) -> dict[str, Any]:
    """USDT in, through the counter service (PostgreSQL → Debezium → risk and the ledger)."""
    return _json(await _counter(gw.counter.deposit, who.account, body.amount, body.reference))


@router.post("/transfers/withdraw")
async def withdraw(body: Transfer, who: Caller = Depends(caller),
                   gw: Gateway = Depends(gateway)) -> dict[str, Any]:
    return _json(await _counter(gw.counter.withdraw, who.account, body.amount, body.reference))


@router.get("/options/products")
async def products(gw: Gateway = Depends(gateway),
                   _who: Caller = Depends(caller)) -> list[dict[str, Any]]:
    """The simplified options the house sells now."""
    return [_json(p) for p in await asyncio.to_thread(gw.counter.products)]


@router.post("/options/orders")
async def buy_option(body: BuyOption, who: Caller = Depends(caller),
                     gw: Gateway = Depends(gateway)) -> dict[str, Any]:
    """Buy a simplified option with the counter wallet's USDT (idempotent by client id)."""
    return _json(await _counter(gw.counter.place_order, who.account, body.product,
                                body.contracts, body.client_order_id))


@router.get("/risk/limits")
async def risk_limits(who: Caller = Depends(caller), gw: Gateway = Depends(gateway)
                      ) -> dict[str, Any]:
    """The limits pre-trade risk applies to every account."""
    return gw.settings.risk.model_dump(mode="json")
