"""The main job's tour of what protects and serves market makers, through the gateway as a
trader would use it: market-maker protection (a maker's fills reach its limit → its BTC
quotes are cancelled in one step and new ones refused until it resets), cancel-on-disconnect
(a WebSocket session that ends takes its orders with it) and a block RFQ on a BTC call
spread (a taker without money is refused by risk before anything trades; two makers quote,
the taker accepts the best, risk holds both sides, both legs trade at once and are booked).
Every account is new each run, so the main job can run again at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.table import Table
from websockets.asyncio.client import connect

from gateway.client import login_or_register
from infra.settings import Settings
from streams.listing import venue_catalogue
from strikeflow.demo_accounts import fund_accounts

__all__ = ["VenueTour", "run"]

API = "/api/v1"
_PASSWORD = "demo-maker-password"


@dataclass
class VenueTour:
    """What each step expected and got."""

    rows: list[tuple[str, str, str, bool]] = field(default_factory=list)

    def check(self, step: str, expected: str, got: Any, ok: bool) -> bool:
        self.rows.append((step, expected, str(got), ok))
        return ok

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(ok for *_, ok in self.rows)

    def table(self) -> Table:
        table = Table(title="market makers: protection, cancel on disconnect, block RFQ "
                            "(through the gateway)")
        for column in ("step", "expected", "got", "ok"):
            table.add_column(column)
        for step, expected, got, ok in self.rows:
            table.add_row(step, expected, got, "[green]yes" if ok else "[red]no")
        return table


def _wait(check: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    """Poll ``check`` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def _on_tick(price: Decimal, tick: Decimal, rounding: str) -> Decimal:
    return (price / tick).to_integral_value(rounding=rounding) * tick


def _call_spread(http: httpx.Client) -> tuple[str, str, Decimal, Decimal, Decimal] | None:
    """Two listed BTC calls of one expiry (lower strike first) with marks on their tick, and
    the tick."""
    listed = venue_catalogue().current()
    soon = datetime.now(UTC) + timedelta(hours=2)
    marks = {m["symbol"]: Decimal(str(m["mark_price"]))
             for m in http.get(f"{API}/market/marks", params={"underlying": "BTC"}).json()
             if m.get("mark_price")}
    calls: dict[datetime, list[Any]] = {}
    for symbol, mark in marks.items():
        inst = listed.get(symbol)
        if inst is None or inst.expiry is None or inst.expiry < soon or not symbol.endswith(
                "-C") or inst.status.value != "trading" or mark < 20 * inst.tick_size:
            continue
        calls.setdefault(inst.expiry, []).append(inst)
    for expiry in sorted(calls, reverse=True):  # the farthest: no other flow trades it
        chain = sorted(calls[expiry], key=lambda i: i.strike)
        if len(chain) >= 2:
            low, high = chain[len(chain) // 2 - 1], chain[len(chain) // 2]
            tick = low.tick_size
            return (low.instrument_id, high.instrument_id,
                    _on_tick(marks[low.instrument_id], tick, ROUND_FLOOR),
                    _on_tick(marks[high.instrument_id], tick, ROUND_FLOOR), tick)
    return None


def _order(http: httpx.Client, symbol: str, side: str, qty: str, price: Decimal,
           mmp: bool = False) -> httpx.Response:
    return http.post(f"{API}/orders", json={"symbol": symbol, "side": side, "qty": qty,
                                           "price": str(price), "type": "limit", "mmp": mmp})


def _open_orders(http: httpx.Client) -> list[dict[str, Any]]:
    return list(http.get(f"{API}/orders").json())


async def _quote_then_disconnect(url: str, token: str, symbol: str, price: Decimal) -> str:
    """A session that asks for cancel-on-disconnect, rests a bid, and goes away."""
    async with connect(url.replace("http", "ws") + f"/ws?token={token}",
                       open_timeout=10) as ws:
        await ws.send(orjson.dumps({"op": "cancel_on_disconnect", "enabled": True}).decode())
        await ws.send(orjson.dumps({"op": "place", "id": "1", "symbol": symbol, "side": "buy",
                                    "qty": "0.1", "price": str(price)}).decode())
        async for raw in ws:
            msg = orjson.loads(raw)
            if msg.get("op") == "result":
                return str(msg.get("status"))
    return "no answer"


def run(settings: Settings, console: Console, url: str) -> VenueTour:
    tour = VenueTour()
    tag = time.strftime("%H%M%S")
    maker, maker2, taker, broke = f"mm-{tag}", f"mm2-{tag}", f"tk-{tag}", f"tk0-{tag}"
    funded = fund_accounts(settings, (maker, maker2, taker), Decimal(1_000_000))
    tour.check("fund three new accounts (order database → Debezium → risk)", "3", funded,
               funded == 3)
    tokens = {a: login_or_register(url, a, _PASSWORD)["access_token"]
              for a in (maker, maker2, taker, broke)}
    clients = {a: httpx.Client(base_url=url, timeout=30,
                               headers={"Authorization": f"Bearer {t}"})
               for a, t in tokens.items()}
    try:
        spread = _wait(lambda: _call_spread(clients[taker]), 20)
        if not tour.check("a BTC call spread with marks", "two calls", spread, bool(spread)):
            return tour
        low, high, low_mark, high_mark, tick = spread
        _protection(tour, clients, maker, taker, low, high, low_mark, high_mark, tick)
        status = asyncio.run(_quote_then_disconnect(url, tokens[maker2], high,
                                                    _on_tick(high_mark * Decimal("0.8"),
                                                             tick, ROUND_FLOOR)))
        left = _wait(lambda: not _open_orders(clients[maker2]), 20)
        tour.check("cancel on disconnect: a session rests a bid, then closes",
                   "accepted, then cancelled", f"{status}, then "
                   f"{'cancelled' if left else 'still open'}", status == "accepted" and left)
        _rfq_not_cleared(tour, clients, maker2, broke, low, high, low_mark - high_mark, tick)
        _rfq(tour, clients, maker, maker2, taker, low, high, low_mark - high_mark, tick)
    finally:
        for client in clients.values():
            client.close()
    return tour


def _protection(tour: VenueTour, clients: dict[str, httpx.Client], maker: str, taker: str,
                low: str, high: str, low_mark: Decimal, high_mark: Decimal,
                tick: Decimal) -> None:
    mm, tk = clients[maker], clients[taker]
    mm.put(f"{API}/mmp/BTC", json={"qty_limit": "0.2", "interval_ms": 60_000,
                                   "frozen_ms": 60_000}).raise_for_status()
    ask = _on_tick(low_mark * Decimal("1.05"), tick, ROUND_CEILING)
    bid = _on_tick(high_mark * Decimal("0.8"), tick, ROUND_FLOOR)
    placed = [_order(mm, low, "sell", "0.1", ask, mmp=True),
              _order(mm, low, "sell", "0.1", ask + tick, mmp=True),
              _order(mm, high, "buy", "0.1", bid, mmp=True)]
    tour.check("a maker sets MMP on BTC (qty 0.2 / 60 s) and quotes three MMP orders",
               "accepted x3", [r.json().get("status") for r in placed],
               all(r.json().get("status") == "accepted" for r in placed))
    lifted = _order(tk, low, "buy", "0.2", ask + tick).json()
    gone = _wait(lambda: not _open_orders(mm), 20)
    tour.check("a taker lifts 0.2: MMP trips", "filled; the maker's BTC bid cancelled",
               f"{lifted.get('status')}; {'cancelled' if gone else 'still open'}",
               lifted.get("status") in ("accepted", "filled") and gone)
    frozen = _order(mm, high, "buy", "0.1", bid, mmp=True).json()
    tour.check("the maker quotes again while frozen", "rejected 5013", frozen.get("code"),
               frozen.get("code") == 5013)
    plain = _order(mm, high, "buy", "0.1", bid).json()
    tour.check("an order without the MMP flag is not frozen", "accepted", plain.get("status"),
               plain.get("status") == "accepted")
    mm.post(f"{API}/mmp/BTC/reset").raise_for_status()
    again = _wait(lambda: _order(mm, high, "buy", "0.1", bid, mmp=True).json().get("status")
                  == "accepted", 10)
    tour.check("after a reset it quotes again", "accepted", "accepted" if again else "refused",
               bool(again))
    mm.delete(f"{API}/orders", params={"underlying": "BTC"}).raise_for_status()
    tour.check("cancel all in BTC (one request, risk expands it)", "no open orders",
               "none left" if _wait(lambda: not _open_orders(mm), 20) else "some left",
               not _open_orders(mm))


def _rfq_not_cleared(tour: VenueTour, clients: dict[str, httpx.Client], maker: str,
                     broke: str, low: str, high: str, net: Decimal, tick: Decimal) -> None:
    """A taker with no money accepts a quote: risk refuses its side (6210), nothing trades."""
    tk = clients[broke]
    opened = tk.post(f"{API}/rfq", json={"legs": [{"symbol": low, "side": "buy"},
                                                  {"symbol": high, "side": "sell"}],
                                         "amount": "0.5"}).json()
    rfq_id = opened.get("rfq_id")
    clients[maker].post(f"{API}/rfq/{rfq_id}/quotes",
                        json={"side": "ask", "price": str(net + tick), "amount": "0.5"})
    answer = tk.post(f"{API}/rfq/{rfq_id}/accept", json={"side": "buy"}).json()

    def refused() -> dict[str, Any] | None:
        steps = tk.get(f"{API}/rfq/{rfq_id}").json()
        return next((s for s in steps if isinstance(s, dict)
                     and s.get("kind") == "rfq_refused"), None)

    step = _wait(refused, 20) if answer.get("kind") == "rfq_clearing" else None
    code = step.get("code") if step else None
    tour.check("a taker without funds accepts: risk clears first", "rfq_clearing, then 6210",
               f"{answer.get('kind')}, then {code or 'nothing'}", code == 6210)
    tk.delete(f"{API}/rfq/{rfq_id}")


def _rfq(tour: VenueTour, clients: dict[str, httpx.Client], maker: str, maker2: str,
         taker: str, low: str, high: str, net: Decimal, tick: Decimal) -> None:
    tk = clients[taker]

    def positions() -> dict[str, Decimal]:
        return {p["symbol"]: Decimal(str(p["qty"])) for p in tk.get(f"{API}/positions").json()}

    before = positions()  # the taker bought some of the low call above
    want = {low: before.get(low, Decimal(0)) + Decimal("0.5"),
            high: before.get(high, Decimal(0)) - Decimal("0.5")}
    opened = tk.post(f"{API}/rfq", json={"legs": [{"symbol": low, "side": "buy"},
                                                  {"symbol": high, "side": "sell"}],
                                         "amount": "0.5"}).json()
    rfq_id = opened.get("rfq_id")
    tour.check(f"a taker asks for a quote on {low} / {high} (0.5)", "rfq_opened",
               opened.get("kind"), opened.get("kind") == "rfq_opened")
    quotes = [clients[maker].post(f"{API}/rfq/{rfq_id}/quotes",
                                  json={"side": "ask", "price": str(net + 2 * tick),
                                        "amount": "0.5"}).json(),
              clients[maker2].post(f"{API}/rfq/{rfq_id}/quotes",
                                   json={"side": "ask", "price": str(net + tick),
                                         "amount": "1"}).json()]
    tour.check("two makers quote the ask", "quote_added x2", [q.get("kind") for q in quotes],
               all(q.get("kind") == "quote_added" for q in quotes))
    accepted = tk.post(f"{API}/rfq/{rfq_id}/accept", json={"side": "buy"}).json()
    tour.check("the taker accepts the best (risk clears both sides)", f"{maker2} @ {net + tick}",
               f"{accepted.get('maker')} @ {accepted.get('price')}",
               accepted.get("maker") == maker2
               and Decimal(str(accepted.get("price"))) == net + tick)

    def booked() -> dict[str, Decimal]:
        held = {s: q for s, q in positions().items() if s in want}
        return held if held == want else {}

    held = _wait(booked, 30)
    tour.check("both legs traded at once and booked", f"+0.5 {low}, -0.5 {high}",
               "positions moved by both legs" if held else f"positions {positions()}",
               bool(held))
