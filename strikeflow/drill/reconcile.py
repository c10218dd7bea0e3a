"""End-to-end reconciliation of one drill segment: what went in against what came out.

Pure: it takes the records read back from Kafka, ClickHouse and Elasticsearch and counts. A
segment has its own accounts and its own instrument, so everything found for them is its own.

* **lost**: a request with no outcome (neither forwarded to matching nor rejected), an order
  accepted by risk that the engine never answered, a simplified option that never reached
  ``settlement.orders``, a trade missing from ClickHouse or Elasticsearch.
* **duplicated**: a command the engine answered twice under different event ids, a transfer
  applied twice (risk's cash above the ledger's).
* **corrupted**: an event id published twice with different contents, an unbalanced posting,
  risk's cash differing from the ledger, risk's open orders differing from the engine's
  resting orders.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from streams.ledger import check_ledger

__all__ = ["Outcome", "SegmentRecords", "reconcile", "resting_orders"]

FINAL_KINDS = frozenset({"filled", "cancelled", "expired", "rejected"})


@dataclass
class SegmentRecords:
    """What one segment sent and what came back, as plain JSON dicts."""

    kind: str
    symbol: str
    accounts: set[str]
    requests: list[dict[str, Any]]  # what the load sent to orders.requests
    options_placed: set[str]  # simplified-option order ids the counter service committed
    commands: list[dict[str, Any]]  # orders.commands (forwarded by risk)
    events: list[dict[str, Any]]  # orders.events of the symbol and risk's rejections
    trades: list[dict[str, Any]]
    ledger: list[dict[str, Any]]  # entries of the segment's accounts and symbol
    options_arrived: list[dict[str, Any]]  # settlement.orders events of the accounts
    risk_state: dict[str, dict[str, Any]]  # account → risk's last record (changelog)
    clickhouse_trades: int
    elasticsearch_trades: int
    injected: int = 1
    recovery_s: float | None = None


@dataclass
class Outcome:
    kind: str
    injected: int
    published: int
    accepted: int
    outcomes: int
    trades: int
    ledger: int
    clickhouse_rows: int
    elasticsearch_docs: int
    lost: int
    duplicated: int
    corrupted: int
    recovery_s: float | None
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.corrupted)


def _content(record: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in record.items() if k != "ts_init"}, sort_keys=True)


_LEDGER_FIELDS = ("event_id", "posting_id", "account", "amount", "kind", "reference", "symbol")


def _conflicts(records: Iterable[dict[str, Any]], what: str, problems: list[str],
               fields: tuple[str, ...] | None = None) -> int:
    """Event ids published more than once with different contents (``fields``: only those
    count, e.g. a ledger leg's money and owner, not the time it was booked at)."""
    first: dict[str, str] = {}
    bad: set[str] = set()
    for r in records:
        text = _content({k: r.get(k) for k in fields} if fields else r)
        if first.setdefault(r["event_id"], text) != text:
            bad.add(r["event_id"])
    if bad:
        problems.append(f"{what}: {len(bad)} ids with two contents, e.g. {sorted(bad)[:3]}")
    return len(bad)


def _unique(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for r in records:
        seen.setdefault(r["event_id"], r)
    return list(seen.values())


def resting_orders(events: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """account → client order ids the engine holds, from its events (in topic order)."""
    live: dict[tuple[str, str], bool] = {}
    for e in events:
        if e["event_id"].startswith("risk:") or e.get("client_order_id") is None \
                or e.get("account") is None:
            continue
        key = (e["account"], e["client_order_id"])
        if e["kind"] in FINAL_KINDS:
            live[key] = False
        elif e["kind"] == "accepted":
            live[key] = True
    out: dict[str, set[str]] = defaultdict(set)
    for (account, cid), is_live in live.items():
        if is_live:
            out[account].add(cid)
    return out


def _engine_answers(events: list[dict[str, Any]], problems: list[str]
                    ) -> tuple[set[str], int]:
    """Commands the engine answered (any event it caused), and how many it applied twice (a
    second accepted/rejected under another event id)."""
    answered: set[str] = set()
    decisions: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e["event_id"].startswith("risk:") or not e.get("causation_id"):
            continue
        answered.add(e["causation_id"])
        if e["kind"] in ("accepted", "rejected", "command_rejected"):
            decisions[e["causation_id"]].add(e["event_id"])
    twice = sorted(c for c, ids in decisions.items() if len(ids) > 1)
    if twice:
        problems.append(f"engine answered {len(twice)} commands twice, e.g. {twice[:3]}")
    return answered, len(twice)


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def reconcile(seg: SegmentRecords) -> Outcome:
    problems: list[str] = []
    sent = {r["command_id"] for r in seg.requests}
    forwarded = {c["command_id"] for c in _unique(
        [c | {"event_id": c["command_id"]} for c in seg.commands]) if c["command_id"] in sent}
    rejected = {e["causation_id"] for e in seg.events
                if e["event_id"].startswith("risk:") and e.get("causation_id") in sent}
    decided = forwarded | rejected
    both = forwarded & rejected
    if both:
        problems.append(f"{len(both)} requests both forwarded and rejected by risk")
    no_outcome = sent - decided
    if no_outcome:
        problems.append(f"{len(no_outcome)} requests without an outcome, e.g. "
                        f"{sorted(no_outcome)[:3]}")
    answered, twice = _engine_answers(seg.events, problems)
    unanswered = forwarded - answered
    if unanswered:
        problems.append(f"{len(unanswered)} forwarded commands the engine never answered")
    arrived = {o["order_id"] for o in seg.options_arrived if o.get("status") == "open"}
    options_lost = seg.options_placed - arrived
    if options_lost:
        problems.append(f"{len(options_lost)} simplified options never reached "
                        "settlement.orders")

    corrupted = (_conflicts(seg.events, "orders.events", problems)
                 + _conflicts(seg.trades, "trades", problems)
                 + _conflicts(seg.ledger, "ledger", problems, _LEDGER_FIELDS))
    trades = _unique(seg.trades)
    entries = _unique(seg.ledger)
    check = check_ledger([(e["event_id"], e["posting_id"], e["account"], _money(e["amount"]))
                          for e in entries], clearing_flat=False)
    if not check.ok:
        problems += [f"ledger: {p}" for p in check.problems()[:3]]
        corrupted += 1
    duplicated = twice
    resting = resting_orders(seg.events)
    for account in sorted(seg.accounts):
        state = seg.risk_state.get(account)
        if state is None:
            continue
        cash = _money(state.get("cash", 0))
        ledger_cash = check.balances.get(account, Decimal(0))
        if cash != ledger_cash:
            problems.append(f"{account}: risk cash {cash} but ledger {ledger_cash}")
            if cash > ledger_cash:
                duplicated += 1
            else:
                corrupted += 1
        held = {cid for cid, r in state.get("open_orders", {}).items()
                if r[0] == seg.symbol}
        engine_holds = resting.get(account, set())
        if held != engine_holds:
            problems.append(f"{account}: risk holds {len(held)} open orders, the engine "
                            f"{len(engine_holds)} (only risk: "
                            f"{', '.join(sorted(held - engine_holds)[:5]) or '-'}; only the "
                            f"engine: {', '.join(sorted(engine_holds - held)[:5]) or '-'})")
            corrupted += 1
    missing_ch = max(0, len(trades) - seg.clickhouse_trades)
    missing_es = max(0, len(trades) - seg.elasticsearch_trades)
    if missing_ch:
        problems.append(f"{missing_ch} trades missing from ClickHouse")
    if missing_es:
        problems.append(f"{missing_es} trades missing from Elasticsearch")
    lost = len(no_outcome) + len(unanswered) + len(options_lost) + missing_ch + missing_es
    return Outcome(
        kind=seg.kind, injected=seg.injected, published=len(sent) + len(seg.options_placed),
        accepted=len(forwarded), outcomes=len(decided) + len(arrived & seg.options_placed),
        trades=len(trades), ledger=len(entries), clickhouse_rows=seg.clickhouse_trades,
        elasticsearch_docs=seg.elasticsearch_trades, lost=lost, duplicated=duplicated,
        corrupted=corrupted, recovery_s=seg.recovery_s, problems=problems)
