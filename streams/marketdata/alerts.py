"""Price alerts on an underlying's index: one notification per crossing — pure, no Faust.

Accounts register thresholds with :class:`~topics.contracts.SetPriceAlert` on
``md.alerts.commands`` (keyed by underlying, so the commands and ``md.index`` are
co-partitioned and one table record per underlying holds every alert on it). Each index price
is checked against every alert of its underlying:

* **Crossing, not level.** An ``above`` alert fires when the index reaches ``threshold`` *from
  below*. It is *armed* while the index is on the near side: at registration if the last index
  is below the threshold, otherwise as soon as an index below it is seen. An alert registered
  beyond its threshold therefore waits for the price to come back and cross again — it never
  fires for a level that was already there. (``below`` is the mirror image.)
* **Exactly one notification per crossing.** Firing disarms the alert; a one-shot alert is then
  removed. A ``repeat`` alert re-arms only once the index is back on the near side by
  ``rearm_bps`` (hysteresis), so an index hovering around the threshold gives one notification,
  not one per tick.
* **Exactly once through crashes.** The notification is a :class:`~topics.contracts.RiskAlert`
  (``kind="price"``) on ``risk.alerts``, keyed by account, with a deterministic ``event_id``
  ``price:{account}:{alert_id}:{digest of the set command}:{n}``. Commands are de-duplicated by
  ``command_id``. An index that arrives again (a redelivery after a crash: its event time is not
  newer than the last one evaluated) fires nothing new but re-publishes the notifications it
  caused, in case they were lost in the producer buffer; consumers keep one per ``event_id``.

The index is published at a bounded rate, so a spike between two index prices is not seen:
alerts are on the index, not on every venue print.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import asdict, dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from streams.marketdata.l2book import to_us
from topics.contracts import IndexPrice, RiskAlert
from topics.contracts.marketdata import CancelPriceAlert, PriceAlertCommand, SetPriceAlert

__all__ = ["AlertBook", "CommandVerdict"]

STATE_FORMAT = 1
_BPS = Decimal(10_000)
SEEN_COMMANDS = 4096  # command ids remembered for de-duplication
RECENT_NOTIFICATIONS = 256  # notifications kept for re-publication on a replayed index


class CommandVerdict(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # a command_id already applied
    LIMIT = "limit"  # the account holds too many alerts on this underlying
    UNKNOWN_ALERT = "unknown_alert"  # a cancel for an alert that does not exist


@dataclass
class _Alert:
    account: str
    alert_id: str
    direction: str
    threshold: Decimal
    repeat: bool
    rearm_bps: Decimal
    digest: str
    armed: bool = False
    fired: int = 0

    def near(self, price: Decimal, margin_bps: Decimal) -> bool:
        """Whether ``price`` is on the arming side of the threshold, by ``margin_bps``."""
        if self.direction == "above":
            return price < self.threshold * (1 - margin_bps / _BPS)
        return price > self.threshold * (1 + margin_bps / _BPS)

    def crossed(self, price: Decimal) -> bool:
        if self.direction == "above":
            return price >= self.threshold
        return price <= self.threshold

    def row(self) -> dict[str, Any]:
        return asdict(self) | {"threshold": str(self.threshold), "rearm_bps": str(self.rearm_bps)}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> _Alert:
        return cls(**(row | {"threshold": Decimal(row["threshold"]),
                             "rearm_bps": Decimal(row["rearm_bps"])}))


def _digest(command_id: str) -> str:
    return hashlib.sha256(command_id.encode()).hexdigest()[:12]


class AlertBook:
    """Every price alert on one underlying, with the last index seen."""

    def __init__(self, underlying: str, per_account_limit: int = 50) -> None:
        self.underlying = underlying
        self.per_account_limit = per_account_limit
        self.alerts: dict[str, _Alert] = {}  # "account|alert_id" -> alert
        self.last_price: Decimal | None = None
        self.last_index_us = 0
        self.seen: deque[str] = deque(maxlen=SEEN_COMMANDS)
        self.recent: deque[tuple[str, dict[str, Any]]] = deque(maxlen=RECENT_NOTIFICATIONS)

    def command(self, cmd: PriceAlertCommand) -> CommandVerdict:
        if cmd.underlying != self.underlying:
            raise ValueError(f"{cmd.underlying} alert given to the {self.underlying} book")
        if cmd.command_id in self.seen:
            return CommandVerdict.DUPLICATE
        key = f"{cmd.account}|{cmd.alert_id}"
        if isinstance(cmd, CancelPriceAlert):
            if self.alerts.pop(key, None) is None:
                return CommandVerdict.UNKNOWN_ALERT
        else:
            assert isinstance(cmd, SetPriceAlert)
            held = sum(1 for a in self.alerts.values() if a.account == cmd.account)
            if key not in self.alerts and held >= self.per_account_limit:
                return CommandVerdict.LIMIT
            alert = _Alert(cmd.account, cmd.alert_id, cmd.direction, cmd.threshold, cmd.repeat,
                           cmd.rearm_bps, _digest(cmd.command_id))
            alert.armed = self.last_price is not None and alert.near(self.last_price, Decimal(0))
            self.alerts[key] = alert
        self.seen.append(cmd.command_id)
        return CommandVerdict.APPLIED

    def on_index(self, index: IndexPrice) -> list[RiskAlert]:
        """The notifications ``index`` causes (or caused, if it is a redelivery)."""
        if index.underlying != self.underlying:
            raise ValueError(f"{index.underlying} index given to the {self.underlying} book")
        ts_us = to_us(index.ts_event)
        if ts_us <= self.last_index_us:  # redelivered: publish again what it caused
            return [RiskAlert.model_validate(n) for cause, n in self.recent
                    if cause == index.event_id]
        self.last_index_us, self.last_price = ts_us, index.price
        out: list[RiskAlert] = []
        for key in sorted(self.alerts):
            alert = self.alerts[key]
            if not alert.armed:
                alert.armed = alert.near(index.price,
                                         alert.rearm_bps if alert.fired else Decimal(0))
                continue
            if not alert.crossed(index.price):
                continue
            alert.fired += 1
            alert.armed = False
            if not alert.repeat:
                del self.alerts[key]
            note = RiskAlert(
                event_id=(f"price:{alert.account}:{alert.alert_id}:{alert.digest}:"
                          f"{alert.fired}"),
                ts_event=index.ts_event, causation_id=index.event_id, account=alert.account,
                kind="price", level="info",
                message=(f"{self.underlying} index {index.price} crossed {alert.direction} "
                         f"{alert.threshold} (alert {alert.alert_id})"))
            self.recent.append((index.event_id, note.model_dump(mode="json")))
            out.append(note)
        return out

    # -- persistence: one JSON-able dict -------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT, "underlying": self.underlying,
            "per_account_limit": self.per_account_limit,
            "alerts": [a.row() for a in self.alerts.values()],
            "last_price": None if self.last_price is None else str(self.last_price),
            "last_index_us": self.last_index_us, "seen": list(self.seen),
            "recent": [list(r) for r in self.recent],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], per_account_limit: int | None = None
                   ) -> AlertBook:
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"alert state format {state.get('format')!r} is not "
                             f"{STATE_FORMAT}: the table was written by another version")
        book = cls(state["underlying"], per_account_limit or state["per_account_limit"])
        book.alerts = {f"{r['account']}|{r['alert_id']}": _Alert.from_row(r)
                       for r in state["alerts"]}
        book.last_price = None if state["last_price"] is None else Decimal(state["last_price"])
        book.last_index_us = state["last_index_us"]
        book.seen.extend(state["seen"])
        book.recent.extend((cause, n) for cause, n in state["recent"])
        return book
