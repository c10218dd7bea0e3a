"""Validated events → Elasticsearch bulk actions. Pure: no client, no Kafka.

Every action has a deterministic ``_id``, so writing the same event twice adds nothing:

* **audit**, **notifications**, **trades**: ``create`` with the event id; a replay gets a 409,
  which the sink counts as "already there".
* **orders**: one document per order id holding its latest state, written by the stored
  script :data:`ORDER_SCRIPT` as a scripted upsert. Events carry different subsets of an
  order's fields (the acceptance has side, price and quantity; a fill has the fill and the
  leaves), so a whole-document external version would drop fields; instead every field
  remembers the engine ``seq`` that set it and only a newer event overwrites it. An older or
  replayed event changes nothing (``noop``), whatever order events arrive in.

Money and quantities stay the contract's exact decimal strings (``keyword`` with a ``.num``
double sub-field for ranges and sorting, see :mod:`sinks.search_index.indices`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel

from topics.contracts import ComplianceCase, OrderEvent, RiskAlert, SettlementResult, Trade
from topics.contracts.rfq import RfqUpdate

__all__ = [
    "ORDER_SCRIPT",
    "IndexKind",
    "Planned",
    "actions_for",
    "audit_message",
    "dead_letter_doc",
    "order_update",
]

IndexKind = Literal["orders", "trades", "audit", "notifications", "dead-letters"]
Planned = tuple[IndexKind, dict[str, Any]]  # which index, and the helpers.bulk action

# Painless: "once" fields are set if absent (an order's identity); "fields" are last-writer-
# wins by engine seq, field by field; nothing changed → noop (a replay costs no write).
ORDER_SCRIPT = """
def s = ctx._source;
boolean changed = false;
if (s.seqs == null) { s.seqs = new HashMap(); }
for (e in params.once.entrySet()) {
  if (s[e.getKey()] == null) { s[e.getKey()] = e.getValue(); changed = true; }
}
for (e in params.fields.entrySet()) {
  def prev = s.seqs[e.getKey()];
  if (prev == null || params.seq > prev) {
    s[e.getKey()] = e.getValue(); s.seqs[e.getKey()] = params.seq; changed = true;
  }
}
if (s.seq == null || params.seq > s.seq) { s.seq = params.seq; changed = true; }
if (!changed) { ctx.op = 'noop'; }
"""

_STATUS = {
    "accepted": "open", "triggered": "triggered", "partially_filled": "partially_filled",
    "filled": "filled", "cancelled": "cancelled", "expired": "expired", "rejected": "rejected",
}
_FILLS = ("partially_filled", "filled")


@lru_cache(maxsize=8192)
def _ts(value: datetime) -> str:
    """An event's instant as the documents spell it. Cached: one event's ``ts_event`` is
    written into its order update, audit line and notification (equal instants spell the
    same, whatever their time zone object)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _d(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


# -- orders: latest state per order ---------------------------------------------------------
def order_update(ev: OrderEvent, script_id: str) -> dict[str, Any] | None:
    """The scripted upsert of an order's document, or None for events about no order."""
    if ev.kind == "command_rejected":  # a cancel/amend that failed: the order did not change
        return None
    ts = _ts(ev.ts_event)
    once = _clean({"order_id": ev.order_id, "account": ev.account, "symbol": ev.symbol,
                   "client_order_id": ev.client_order_id, "side": ev.side,
                   "order_type": ev.order_type, "time_in_force": ev.time_in_force})
    fields: dict[str, Any] = {"updated_at": ts, "last_event": ev.kind}
    if ev.kind in _STATUS:
        fields["status"] = _STATUS[ev.kind]
    if ev.kind in ("accepted", "rejected"):
        once["created_at"] = ts
    if ev.kind == "accepted":
        fields |= _clean({"price": _d(ev.price), "stop_price": _d(ev.stop_price),
                          "qty": _d(ev.qty), "leaves_qty": _d(ev.qty)})
    elif ev.kind == "amended":
        fields |= _clean({"price": _d(ev.price), "qty": _d(ev.qty),
                          "leaves_qty": _d(ev.leaves_qty)})
    elif ev.kind in _FILLS:
        fields |= _clean({"last_fill_price": _d(ev.price), "last_fill_qty": _d(ev.qty),
                          "leaves_qty": _d(ev.leaves_qty), "last_trade_id": ev.trade_id})
    elif ev.kind == "triggered":
        fields |= _clean({"trigger_price": _d(ev.trigger_price)})
    else:  # cancelled, expired, rejected
        fields |= _clean({"leaves_qty": _d(ev.leaves_qty), "reason_code": ev.reason_code,
                          "reason": ev.reason})
        if ev.kind == "rejected":  # what was asked for, so the refusal reads on its own
            fields |= _clean({"price": _d(ev.price), "qty": _d(ev.qty)})
    return {"_op_type": "update", "_id": ev.order_id or ev.event_id, "retry_on_conflict": 5,
            "scripted_upsert": True, "upsert": {},
            "script": {"id": script_id,
                       "params": {"seq": ev.seq, "once": once, "fields": fields}}}


# -- trades -----------------------------------------------------------------------------------
def trade_doc(tr: Trade) -> dict[str, Any]:
    notional = (tr.price * tr.qty).normalize()
    return {"trade_id": tr.trade_id, "event_id": tr.event_id, "symbol": tr.symbol,
            "price": _d(tr.price), "qty": _d(tr.qty), "notional": format(notional, "f"),
            "aggressor_side": tr.aggressor_side, "maker_order_id": tr.maker_order_id,
            "taker_order_id": tr.taker_order_id, "maker_account": tr.maker_account,
            "taker_account": tr.taker_account,
            "accounts": sorted({tr.maker_account, tr.taker_account}),
            "order_ids": [tr.maker_order_id, tr.taker_order_id], "seq": tr.seq,
            "ts_event": _ts(tr.ts_event), "ts_init": _ts(tr.ts_init)}


# -- audit: one searchable sentence per event -----------------------------------------------
def _order_message(ev: OrderEvent) -> str:
    who = f"account {ev.account}" if ev.account else "no account"
    order = ev.order_id or (f"with client id {ev.client_order_id}" if ev.client_order_id
                            else f"of command {ev.causation_id or ev.event_id}")
    client = f" (client order {ev.client_order_id})" if ev.client_order_id and ev.order_id \
        else ""
    reason = f": {ev.reason_code} {ev.reason}" if ev.reason else ""
    if ev.kind == "accepted":
        at = f" @ {_d(ev.price)}" if ev.price is not None else ""
        stop = f" stop {_d(ev.stop_price)}" if ev.stop_price is not None else ""
        return (f"order {order}{client} accepted for {who}: {ev.side} {ev.order_type} "
                f"{_d(ev.qty)} {ev.symbol}{at}{stop} {ev.time_in_force or ''}").rstrip()
    if ev.kind in _FILLS:
        verb = "bought" if ev.side == "buy" else "sold"
        role = "maker" if ev.is_maker else "taker"
        state = "filled" if ev.kind == "filled" else "partially filled"
        return (f"order {order}{client} {state} for {who}: {verb} {_d(ev.qty)} {ev.symbol} "
                f"@ {_d(ev.price)} as {role}, {_d(ev.leaves_qty)} left, trade {ev.trade_id}")
    if ev.kind == "amended":
        return (f"order {order}{client} amended for {who}: {ev.symbol} now {_d(ev.qty)} "
                f"@ {_d(ev.price)}, {_d(ev.leaves_qty)} left")
    if ev.kind == "triggered":
        return (f"order {order}{client} triggered for {who} on {ev.symbol} at "
                f"{_d(ev.trigger_price)}")
    if ev.kind in ("cancelled", "expired"):
        left = f" with {_d(ev.leaves_qty)} left" if ev.leaves_qty is not None else ""
        return f"order {order}{client} {ev.kind} for {who} on {ev.symbol}{left}{reason}"
    if ev.kind == "command_rejected":
        return f"command on {order}{client} rejected for {who} on {ev.symbol}{reason}"
    return f"order {order}{client} rejected for {who} on {ev.symbol}{reason}"


def _settlement_message(ev: SettlementResult) -> str:
    parts = [f"settlement of order {ev.order_id} for account {ev.account}: {ev.state}"]
    if ev.product:
        parts.append(f"product {ev.product}")
    if ev.premium is not None:
        parts.append(f"premium {_d(ev.premium)} USDT")
    if ev.fee is not None:
        parts.append(f"fee {_d(ev.fee)} USDT")
    if ev.hedge_qty is not None:
        price = f" @ {_d(ev.hedge_price)}" if ev.hedge_price is not None else ""
        parts.append(f"hedge {ev.hedge_side or ''} {_d(ev.hedge_qty)} "
                     f"{ev.hedge_symbol or ''}{price}".replace("  ", " "))
    if ev.attempts:
        parts.append(f"attempts {ev.attempts}")
    if ev.reason:
        parts.append(f"reason: {ev.reason}")
    return ", ".join(parts)


def _risk_message(ev: RiskAlert) -> str:
    ratio = f" (margin ratio {_d(ev.margin_ratio)})" if ev.margin_ratio is not None else ""
    on = f" on {ev.symbol}" if ev.symbol else ""
    return (f"risk alert {ev.level} {ev.kind.replace('_', ' ')} for account "
            f"{ev.account}{on}: {ev.message}{ratio}")


def _rfq_message(ev: RfqUpdate) -> str:
    who = f" by {ev.account}" if ev.account else ""
    what = ev.kind.replace("_", " ")
    if ev.kind == "rfq_opened":
        legs = " + ".join(f"{leg.side} {leg.ratio} {leg.symbol}" for leg in ev.legs or [])
        side = f" ({ev.side} only)" if ev.side else ""
        return f"rfq {ev.rfq_id} opened{who}: {_d(ev.amount)} x [{legs}]{side}"
    if ev.kind in ("quote_added", "quote_replaced"):
        return (f"rfq {ev.rfq_id} {what}{who}: {ev.side} {_d(ev.amount)} @ {_d(ev.price)} "
                f"(quote {ev.quote_id})")
    if ev.kind == "rfq_accepted":
        legs = ", ".join(f"{leg.side} {leg.symbol} @ {_d(p)}"
                         for leg, p in zip(ev.legs or [], ev.leg_prices or [], strict=False))
        return (f"rfq {ev.rfq_id} accepted{who}: {ev.side} {_d(ev.amount)} @ {_d(ev.price)} "
                f"from {ev.maker} (quote {ev.quote_id}), block trade {ev.trade_id}: {legs}")
    reason = f": {ev.code} {ev.reason}" if ev.reason else ""
    quote = f" (quote {ev.quote_id})" if ev.quote_id else ""
    return f"rfq {ev.rfq_id} {what}{who}{quote}{reason}"


def _case_message(ev: ComplianceCase) -> str:
    evidence = ", ".join(e.event_id for e in ev.evidence[:10])
    more = f" and {len(ev.evidence) - 10} more" if len(ev.evidence) > 10 else ""
    return (f"aml case {ev.case_id} ({ev.code} {ev.rule.replace('_', ' ')}, {ev.severity}) "
            f"for {', '.join(ev.accounts)}: {ev.summary}; evidence {evidence}{more}")


def audit_message(event: BaseModel) -> str:
    """The free-text line of an event in the audit trail."""
    if isinstance(event, ComplianceCase):
        return _case_message(event)
    if isinstance(event, RfqUpdate):
        return _rfq_message(event)
    if isinstance(event, OrderEvent):
        return _order_message(event)
    if isinstance(event, SettlementResult):
        return _settlement_message(event)
    if isinstance(event, RiskAlert):
        return _risk_message(event)
    raise TypeError(f"no audit message for {type(event).__name__}")


def audit_doc(source: str, event: Any) -> dict[str, Any]:
    common = {"event_id": event.event_id, "source": source, "account": event.account,
              "ts_event": _ts(event.ts_event), "ts_init": _ts(event.ts_init),
              "causation_id": event.causation_id, "message": audit_message(event),
              "payload": event.model_dump(mode="json")}
    if isinstance(event, OrderEvent):
        extra = {"kind": event.kind, "symbol": event.symbol, "order_id": event.order_id,
                 "client_order_id": event.client_order_id, "trade_id": event.trade_id,
                 "seq": event.seq, "reason_code": event.reason_code,
                 "level": "warning" if "rejected" in event.kind else "info"}
    elif isinstance(event, SettlementResult):
        extra = {"kind": event.state, "symbol": event.product, "order_id": event.order_id,
                 "level": "warning" if event.state == "failed" else "info"}
    elif isinstance(event, ComplianceCase):  # never a notification: no tipping off
        extra = {"kind": event.rule, "level": event.severity, "reason_code": event.code,
                 "symbol": next((e.symbol for e in event.evidence if e.symbol), None),
                 "trade_id": next((e.event_id for e in event.evidence if e.kind == "trade"),
                                  None)}
    elif isinstance(event, RfqUpdate):
        extra = {"kind": event.kind, "order_id": event.rfq_id, "trade_id": event.trade_id,
                 "reason_code": event.code, "seq": event.seq,
                 "level": "warning" if event.kind.endswith("refused") else "info"}
    else:
        extra = {"kind": event.kind, "symbol": event.symbol, "level": event.level}
    return _clean(common | extra)


# -- notifications: what a user is told ------------------------------------------------------
def notification_doc(source: str, event: Any) -> dict[str, Any] | None:
    """The notification an event gives its account, or None if it gives none."""
    if isinstance(event, OrderEvent):
        if event.account is None:
            return None
        if event.kind in _FILLS:
            verb = "Bought" if event.side == "buy" else "Sold"
            category, level = "fill", "info"
            title = f"{verb} {_d(event.qty)} {event.symbol} @ {_d(event.price)}"
        elif event.kind in ("rejected", "command_rejected"):
            what = "Order" if event.kind == "rejected" else "Request"
            name = event.client_order_id or event.order_id or event.causation_id or ""
            category, level = "rejection", "warning"
            title = f"{what} {name} rejected: {event.reason or 'no reason given'}".replace(
                "  ", " ")
        else:
            return None
        symbol, order_id = event.symbol, event.order_id
    elif isinstance(event, RiskAlert):
        category, level, symbol, order_id = "risk", event.level, event.symbol, None
        title = f"{event.kind.replace('_', ' ').capitalize()}: {event.message}"
    elif isinstance(event, RfqUpdate):
        if event.account is None or event.kind not in ("rfq_accepted", "quote_refused",
                                                         "rfq_refused", "rfq_expired"):
            return None
        category, symbol, order_id = "rfq", None, event.rfq_id
        level = "warning" if event.kind.endswith("refused") else "info"
        title = f"RFQ {event.rfq_id} {event.kind.replace('_', ' ')}" + (
            f": {event.reason}" if event.reason else "")
    elif isinstance(event, SettlementResult):
        if event.state not in ("booked", "failed"):
            return None
        category, symbol, order_id = "settlement", event.product, event.order_id
        level = "info" if event.state == "booked" else "critical"
        why = f": {event.reason}" if event.reason else ""
        title = f"Settlement {event.state} for order {event.order_id}{why}"
    else:
        return None
    return _clean({"notification_id": event.event_id, "event_id": event.event_id,
                   "source": source, "account": event.account, "category": category,
                   "kind": getattr(event, "kind", None) or getattr(event, "state", None),
                   "level": level, "title": title, "message": audit_message(event),
                   "symbol": symbol, "order_id": order_id, "ts_event": _ts(event.ts_event)})


# -- one event → its actions -----------------------------------------------------------------
def _create(doc_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {"_op_type": "create", "_id": doc_id, "_source": doc}


def actions_for(contract_topic: str, event: Any, order_script_id: str) -> list[Planned]:
    """Every bulk action one validated event of ``contract_topic`` gives."""
    out: list[Planned] = []
    if contract_topic == "trades":
        return [("trades", _create(event.event_id, trade_doc(event)))]
    if contract_topic == "orders.events":
        update = order_update(event, order_script_id)
        if update is not None:
            out.append(("orders", update))
    out.append(("audit", _create(event.event_id, audit_doc(contract_topic, event))))
    note = notification_doc(contract_topic, event)
    if note is not None:
        out.append(("notifications", _create(event.event_id, note)))
    return out


def dead_letter_doc(topic: str, partition: int, offset: int, key: bytes | None,
                    payload: bytes | None, reason: str, error: str,
                    target: str | None = None) -> dict[str, Any]:
    """A dead letter; its id names the source message (and the refused index), so a replay
    re-writes the same one."""
    doc_id = f"{topic}:{partition}:{offset}" + (f":{target}" if target else "")
    return _create(doc_id, _clean({
        "source_topic": topic, "source_partition": partition, "source_offset": offset,
        "key": key.decode("utf-8", "replace") if key else None,
        "payload": (payload or b"").decode("utf-8", "replace"), "reason": reason,
        "error": error[:4000], "target": target, "ts_failed": _ts(datetime.now(UTC))}))
