"""What the gateway knows live, built from the topics it reads, and published to the hub.

``LiveViews.apply(topic, record)`` takes one decoded record (a dict as the contract encodes
it) of ``orders.events``, ``trades``, ``md.book``, ``md.index``, ``md.marks``, ``positions``,
``risk.alerts`` or ``accounts.activity`` and updates:

* public state: the venue's book per instrument (deltas between successive depth snapshots,
  numbered by the channel), recent trades, a ticker, the index per underlying, option marks;
* private state per account: orders (latest state per client order id), fills, positions,
  notifications.

Pure code: the Kafka reader lives in :mod:`gateway.bridge`.
"""

from __future__ import annotations

from collections import defaultdict, deque
from decimal import Decimal
from typing import Any

from gateway.feed import Hub

__all__ = ["OPEN_KINDS", "LiveViews", "book_delta"]

OPEN_KINDS = {"accepted", "partially_filled", "amended", "triggered"}
_FINAL_KINDS = {"filled", "cancelled", "expired", "rejected"}
_MAX_ORDERS = 5000  # per account, the most recent orders kept live (history: ClickHouse)



_ENDINGS = frozenset({"rfq_opened", "rfq_expired", "rfq_cancelled"})
_TRADE_KINDS = frozenset({"rfq_clearing", "rfq_accepted"})


def _maker_sees(step: dict[str, Any], viewer: str) -> bool:
    if step["kind"] in _ENDINGS:
        return True
    if step["kind"] in _TRADE_KINDS or step.get("code") in (6210, 6211):
        return step.get("maker") == viewer
    return viewer in (step.get("account"), step.get("maker"))


def _for_maker(step: dict[str, Any], viewer: str) -> dict[str, Any]:
    """The step without the taker's name (the counterparty stays anonymous)."""
    if step.get("account") in (None, viewer):
        return step
    return step | {"account": None}


def _levels(levels: list[Any]) -> dict[str, str]:
    return {str(price): str(qty) for price, qty in levels}


def book_delta(old: dict[str, dict[str, str]], new: dict[str, dict[str, str]]
               ) -> dict[str, list[list[str]]]:
    """The levels that changed, per side, as ``[price, qty]``; qty ``"0"`` removes a level."""
    out: dict[str, list[list[str]]] = {}
    for side in ("bids", "asks"):
        before, after = old.get(side, {}), new[side]
        changed = [[p, q] for p, q in after.items() if before.get(p) != q]
        changed += [[p, "0"] for p in before if p not in after]
        out[side] = changed
    return out


class LiveViews:
    def __init__(self, hub: Hub, trades_kept: int = 200) -> None:
        self.hub = hub
        self.books: dict[str, dict[str, Any]] = {}
        self.trades: dict[str, deque[dict[str, Any]]] = defaultdict(
            lambda: deque(maxlen=trades_kept))
        self.tickers: dict[str, dict[str, Any]] = {}
        self.index: dict[str, dict[str, Any]] = {}
        self.marks: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.positions: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        #: every step of the RFQs seen (opened, quotes, refusals, accepted, expired)
        self.rfqs: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)

    # -- snapshots, for the hub and the REST routes -------------------------------------------
    def book(self, symbol: str) -> dict[str, Any] | None:
        book = self.books.get(symbol)
        if book is None:
            return None
        return {"symbol": symbol, "engine_seq": book["engine_seq"],
                "bids": [[p, q] for p, q in book["bids"].items()],
                "asks": [[p, q] for p, q in book["asks"].items()],
                "last_price": book.get("last_price"), "ts": book.get("ts")}

    def open_orders(self, account: str) -> list[dict[str, Any]]:
        return [o for o in self.orders.get(account, {}).values()
                if o.get("status") in OPEN_KINDS]

    def rfq(self, rfq_id: str, viewer: str | None = None) -> list[dict[str, Any]] | None:
        """The RFQ's steps as ``viewer`` may see them (``None``: all, for the venue). The
        taker sees every step; anyone else (a maker) sees the request without the taker's
        name, its own quotes and refusals, the trade it made, and how the RFQ ended — never
        another maker's quote (a block RFQ is a private auction, as on Deribit)."""
        steps = self.rfqs.get(rfq_id)
        if not steps:
            return None
        ordered = sorted(steps.values(), key=lambda r: r["seq"])
        if viewer is None:
            return ordered
        taker = next((r.get("account") for r in ordered if r["kind"] == "rfq_opened"), None)
        if viewer == taker:
            return ordered
        return [_for_maker(r, viewer) for r in ordered if _maker_sees(r, viewer)]

    def underlying_marks(self, underlying: str) -> list[dict[str, Any]]:
        return [m for s, m in sorted(self.marks.items()) if s.startswith(underlying + "-")]

    # -- applying records ---------------------------------------------------------------------
    def apply(self, topic: str, rec: dict[str, Any]) -> None:
        handler = _HANDLERS.get(topic)
        if handler is not None:
            handler(self, rec)

    def _book(self, rec: dict[str, Any]) -> None:
        if rec.get("source") != "venue":  # a feed's consolidated view, not our book
            return
        symbol = rec["symbol"]
        new = {"bids": _levels(rec["bids"]), "asks": _levels(rec["asks"])}
        old = self.books.get(symbol)
        if old is not None and rec["seq"] <= old["engine_seq"]:
            return  # a replay of what we have
        self.books[symbol] = new | {"engine_seq": rec["seq"], "last_price": rec.get("last_price"),
                                    "ts": rec.get("ts_event")}
        chan = f"book.{symbol}"
        self.hub.channel(chan, lambda: self.book(symbol), ring_size=200)
        delta = book_delta(old or {}, new)
        self.hub.publish(chan, {"engine_seq": rec["seq"], **delta})
        self._tick(symbol)

    def _trade(self, rec: dict[str, Any]) -> None:
        symbol = rec["symbol"]
        trade = {k: rec[k] for k in ("trade_id", "price", "qty", "aggressor_side", "seq",
                                     "ts_event")}
        self.trades[symbol].append(trade)
        chan = f"trades.{symbol}"
        self.hub.channel(chan, ring_size=200)
        self.hub.publish(chan, trade)
        ticker = self.tickers.setdefault(symbol, {"symbol": symbol, "volume": "0",
                                                  "trades": 0, "open": trade["price"]})
        ticker["last"] = trade["price"]
        ticker["volume"] = str(Decimal(ticker["volume"]) + Decimal(trade["qty"]))
        ticker["trades"] += 1
        self._tick(symbol)

    def _tick(self, symbol: str) -> None:
        ticker = self.tickers.setdefault(symbol, {"symbol": symbol, "volume": "0", "trades": 0,
                                                  "open": None, "last": None})
        book = self.books.get(symbol)
        if book:
            ticker["best_bid"] = max(book["bids"], key=Decimal, default=None)
            ticker["best_ask"] = min(book["asks"], key=Decimal, default=None)
        chan = f"ticker.{symbol}"
        self.hub.channel(chan, lambda: dict(self.tickers[symbol]), ring_size=50)
        self.hub.publish(chan, dict(ticker))

    def _index(self, rec: dict[str, Any]) -> None:
        und = rec["underlying"]
        current = self.index.get(und)
        if current and current["ts_event"] >= rec["ts_event"]:
            return
        self.index[und] = {k: rec.get(k) for k in ("underlying", "price", "venues_used",
                                                   "ts_event")}
        chan = f"index.{und}"
        self.hub.channel(chan, lambda: self.index[und], ring_size=50)
        self.hub.publish(chan, self.index[und])

    def _mark(self, rec: dict[str, Any]) -> None:
        symbol = rec["symbol"]
        mark = {k: rec.get(k) for k in ("symbol", "mark_price", "underlying_price", "iv",
                                        "delta", "gamma", "vega", "theta", "ts_event")}
        self.marks[symbol] = mark
        und = symbol.split("-")[0]
        chan = f"marks.{und}"
        self.hub.channel(chan, lambda: self.underlying_marks(und), ring_size=500)
        self.hub.publish(chan, mark)

    def _order_event(self, rec: dict[str, Any]) -> None:
        account, cid = rec.get("account"), rec.get("client_order_id")
        if not account or not cid:
            return
        orders = self.orders[account]
        order = orders.get(cid)
        kind = rec["kind"]
        chan = f"orders:{account}"
        self.hub.channel(chan, lambda: self.open_orders(account), ring_size=500)
        if order is None and kind == "command_rejected":  # a cancel/amend of no known order
            self.hub.publish(chan, {"client_order_id": cid, "symbol": rec["symbol"],
                                    "event": kind, "reason_code": rec.get("reason_code"),
                                    "reason": rec.get("reason"), "event_id": rec.get("event_id")})
            return
        if order is None:
            if len(orders) >= _MAX_ORDERS:
                for key in [k for k, o in orders.items() if o["status"] not in OPEN_KINDS][
                        : _MAX_ORDERS // 10]:
                    del orders[key]
            order = orders[cid] = {"client_order_id": cid, "symbol": rec["symbol"],
                                   "filled_qty": "0"}
        if kind != "command_rejected":
            order["status"] = kind
        for key in ("order_id", "side", "order_type", "time_in_force", "price", "qty",
                    "leaves_qty", "reason_code", "reason"):
            if rec.get(key) is not None and not (key == "qty" and kind in (
                    "partially_filled", "filled")):
                order[key] = rec[key]
        if kind in ("partially_filled", "filled") and rec.get("qty") is not None:
            order["filled_qty"] = str(Decimal(order["filled_qty"]) + Decimal(rec["qty"]))
            fill = {"client_order_id": cid, "symbol": rec["symbol"], "side": rec.get("side"),
                    "price": rec.get("price"), "qty": rec["qty"], "trade_id": rec.get("trade_id"),
                    "liquidity": "maker" if rec.get("is_maker") else "taker",
                    "ts_event": rec.get("ts_event")}
            self.hub.channel(f"fills:{account}", ring_size=500)
            self.hub.publish(f"fills:{account}", fill)
        order["updated"] = rec.get("ts_event")
        self.hub.publish(chan, {**order, "event": kind, "event_id": rec.get("event_id")})

    def _position(self, rec: dict[str, Any]) -> None:
        account, symbol = rec["account"], rec["symbol"]
        current = self.positions[account].get(symbol)
        if current and current["seq"] > rec.get("seq", 0):
            return
        pos = {k: rec.get(k) for k in ("symbol", "qty", "avg_price", "realized_pnl",
                                       "unrealized_pnl", "mark_price", "seq", "ts_event")}
        self.positions[account][symbol] = pos
        chan = f"positions:{account}"
        self.hub.channel(chan, lambda: list(self.positions[account].values()), ring_size=200)
        self.hub.publish(chan, pos)

    def _alert(self, rec: dict[str, Any]) -> None:
        note = {"kind": rec["kind"], "level": rec["level"], "message": rec["message"],
                "symbol": rec.get("symbol"), "ts_event": rec.get("ts_event")}
        self._notify(rec["account"], note)

    def _activity(self, rec: dict[str, Any]) -> None:
        if rec.get("type") == "transfer":
            amount = Decimal(str(rec["amount"]))
            what = "deposit credited" if amount > 0 else "withdrawal debited"
            self._notify(rec["account"], {"kind": "transfer", "level": "info",
                                          "message": f"{what}: {abs(amount)} USDT "
                                                     f"({rec.get('reference')})",
                                          "ts_event": rec.get("ts_event")})
        elif rec.get("type") == "expired":
            self._notify(rec["account"], {"kind": "expiry", "level": "info",
                                          "message": f"{rec['symbol']} expired at "
                                                     f"{rec['settlement_price']}: payout "
                                                     f"{rec['payout']} USDT",
                                          "ts_event": rec.get("ts_event")})

    def _rfq(self, rec: dict[str, Any]) -> None:
        self.rfqs[rec["rfq_id"]][rec["event_id"]] = rec
        if rec.get("account") and rec["kind"] in ("rfq_accepted", "quote_refused",
                                                   "rfq_refused", "rfq_expired"):
            self._notify(rec["account"], {"kind": "rfq", "level": "info",
                                          "message": f"RFQ {rec['rfq_id']} "
                                                     f"{rec['kind'].replace('_', ' ')}"
                                                     + (f": {rec['reason']}"
                                                        if rec.get("reason") else ""),
                                          "ts_event": rec.get("ts_event")})

    def _notify(self, account: str, note: dict[str, Any]) -> None:
        chan = f"notifications:{account}"
        self.hub.channel(chan, ring_size=200)
        self.hub.publish(chan, note)


_HANDLERS = {
    "md.book": LiveViews._book,
    "trades": LiveViews._trade,
    "md.index": LiveViews._index,
    "md.marks": LiveViews._mark,
    "orders.events": LiveViews._order_event,
    "positions": LiveViews._position,
    "risk.alerts": LiveViews._alert,
    "accounts.activity": LiveViews._activity,
    "rfq.events": LiveViews._rfq,
}
