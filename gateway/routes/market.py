"""Public market data: instruments, the book, trades, ticker, candles, index, option marks."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from gateway import history
from gateway.context import Gateway, venue_now
from gateway.routes import read_history
from gateway.security import gateway, limit_ip
from streams.listing import venue_catalogue

__all__ = ["router"]

router = APIRouter(prefix="/market", tags=["market"], dependencies=[Depends(limit_ip)])
SYMBOL = Path(pattern=r"^[A-Z0-9]{2,10}-[A-Z0-9-]{2,40}$")


@router.get("/instruments")
async def instruments(kind: Literal["spot", "option"] | None = None) -> list[dict[str, Any]]:
    listed = venue_catalogue().at(venue_now())
    out = []
    for inst in listed.values():
        if kind and inst.kind.value != kind:
            continue
        out.append({"symbol": inst.instrument_id, "kind": inst.kind.value, "base": inst.base,
                    "quote": inst.quote, "tick_size": format(inst.tick_size, "f"),
                    "lot_size": format(inst.lot_size, "f"), "min_qty": format(inst.min_qty, "f"),
                    "status": str(inst.status.value),
                    "strike": None if inst.strike is None else format(inst.strike, "f"),
                    "expiry": inst.expiry.isoformat() if inst.expiry else None,
                    "right": inst.right.value if inst.right else None})
    return out


@router.get("/book/{symbol}")
async def book(symbol: str = SYMBOL, gw: Gateway = Depends(gateway)) -> dict[str, Any]:
    snap = gw.views.book(symbol)
    if snap is None:
        raise HTTPException(404, f"no book for {symbol} yet")
    return snap


@router.get("/trades/{symbol}")
async def trades(symbol: str = SYMBOL, limit: int = Query(default=50, ge=1, le=200),
                 gw: Gateway = Depends(gateway)) -> list[dict[str, Any]]:
    return list(gw.views.trades.get(symbol, []))[-limit:][::-1]


@router.get("/ticker/{symbol}")
async def ticker(symbol: str = SYMBOL, gw: Gateway = Depends(gateway)) -> dict[str, Any]:
    tick = gw.views.tickers.get(symbol)
    if tick is None:
        raise HTTPException(404, f"no ticker for {symbol} yet")
    return tick


@router.get("/candles/{symbol}")
async def candles(symbol: str = SYMBOL, interval: Literal["1m", "5m", "15m", "1h"] = "1m",
                  limit: int = Query(default=120, ge=1, le=1000),
                  gw: Gateway = Depends(gateway)) -> list[dict[str, Any]]:
    """Candle history from ClickHouse, oldest first."""
    rows: list[dict[str, Any]] = await read_history(history.candles, gw.settings, symbol,
                                                    interval, limit)
    return rows


@router.get("/index/{underlying}")
async def index(underlying: Literal["BTC", "ETH"], gw: Gateway = Depends(gateway)
                ) -> dict[str, Any]:
    price = gw.views.index.get(underlying)
    if price is None:
        raise HTTPException(404, f"no index for {underlying} yet")
    return price


@router.get("/marks")
async def marks(underlying: Literal["BTC", "ETH"], gw: Gateway = Depends(gateway)
                ) -> list[dict[str, Any]]:
    """Option marks with their Greeks (Black-76), per instrument of the underlying."""
    return gw.views.underlying_marks(underlying)
