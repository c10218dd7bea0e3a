"""AML screening: transfers and trades in, numbered cases out.

Why a pure object: screening must give the same cases when a partition is replayed from
offset 0 (invariants 1 and 2), so the :class:`Screener` is a function of the events it is
fed — their venue timestamps (``ts_ms``), never the wall clock — and its whole state
round-trips through :meth:`Screener.to_record` / :meth:`Screener.from_record` (JSON-able,
Decimal as str) for a changelogged table.

The rules (parameters in :class:`AmlRules`, one code each in the 73xx block):

* ``velocity_count`` — more than ``velocity_max_transfers`` transfers (either direction) of
  one account within ``velocity_window_ms``;
* ``velocity_outflow`` — more than ``outflow_max_usdt`` withdrawn by one account within
  ``outflow_window_ms``;
* ``structuring`` — ``structuring_min_count`` or more deposits (or, separately,
  withdrawals) of one account within ``structuring_window_ms``, each at least
  ``structuring_floor`` * ``reporting_threshold_usdt`` and below the threshold;
* ``wash_trade`` — a trade whose buyer and seller are the same account, or related accounts
  (``related`` maps an account to its group id: one owner, one household, one firm);
* ``round_trip`` — an account buys then sells (or sells then buys) the same symbol, both
  times with a related account as counterparty, within ``round_trip_window_ms``, the second
  price within ``round_trip_price_tolerance`` of the first: a position that never carried
  market risk, i.e. value moved between related accounts;
* ``sanctioned_address`` — a transfer to or from an address in ``sanctioned``.

Windows are ``(newest - window_ms, newest]`` in venue time: two events exactly one window
apart are not in the same window. An event older than its window's horizon (a very late
one) is remembered as seen but cannot open a case.

Once per evidence set: a windowed rule that fires consumes its evidence (the window starts
empty again), so the next case of that rule needs entirely new events. Case ids are
``<rule>:<account>:<first evidence id>`` — the same input sequence always gives the same
ids — and a replayed event id (or a case id raised already) raises nothing. Memory is
bounded: at most ``max_window_events`` per window, ``max_windows`` windows (least recently
used dropped first, expired ones as soon as they are noticed), ``max_seen_ids`` event ids
and ``max_raised_cases`` case ids. A replay of an event older than the remembered ids can
re-raise a stateless case (wash trade, sanctioned address) with the same id, so the sink
that stores cases upserts by ``case_id``.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal

from streams.compliance.codes import ComplianceCode
from streams.compliance.errors import ComplianceError

__all__ = [
    "RULES",
    "AmlRules",
    "Case",
    "Evidence",
    "Screener",
    "Trade",
    "Transfer",
    "normalize_address",
]

Direction = Literal["deposit", "withdrawal"]
Severity = Literal["low", "medium", "high", "critical"]
RECORD_VERSION = 1

VELOCITY_COUNT = "velocity_count"
VELOCITY_OUTFLOW = "velocity_outflow"
STRUCTURING = "structuring"
WASH_TRADE = "wash_trade"
ROUND_TRIP = "round_trip"
SANCTIONED_ADDRESS = "sanctioned_address"

#: Rule name → (code, severity). Severity says how fast a human must look: a sanctioned
#: address may oblige the venue to freeze funds; a burst of transfers is often a bot.
RULES: Mapping[str, tuple[ComplianceCode, Severity]] = MappingProxyType({
    VELOCITY_COUNT: (ComplianceCode.AML_VELOCITY_COUNT, "medium"),
    VELOCITY_OUTFLOW: (ComplianceCode.AML_VELOCITY_OUTFLOW, "high"),
    STRUCTURING: (ComplianceCode.AML_STRUCTURING, "high"),
    WASH_TRADE: (ComplianceCode.AML_WASH_TRADE, "high"),
    ROUND_TRIP: (ComplianceCode.AML_ROUND_TRIP, "high"),
    SANCTIONED_ADDRESS: (ComplianceCode.AML_SANCTIONED_ADDRESS, "critical"),
})
#: A trade with oneself is usually two strategies of one trader colliding (self-trade
#: prevention should have stopped it): worth a look, less than value moved between accounts.
SELF_TRADE_SEVERITY: Severity = "medium"


# -- validation helpers -------------------------------------------------------------------
def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ComplianceError(f"{name} must be a non-empty str, not {value!r}")
    return value


def _ts(value: object, name: str = "ts_ms") -> int:
    if type(value) is not int or value < 0:
        raise ComplianceError(f"{name} must be an int >= 0 (venue ms), not {value!r}")
    return value


def _positive(value: object, name: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise ComplianceError(f"{name} must be a finite Decimal > 0, not {value!r}")
    return value


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _undec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _near(first: Decimal | None, then: Decimal | None, tolerance: Decimal) -> bool:
    """``then`` within ``tolerance`` (a fraction) of ``first``."""
    if first is None or then is None:
        return False
    return abs(then - first) <= first * tolerance


def normalize_address(address: str) -> str:
    """The form addresses are compared in: trimmed, and lower-cased when hex (``0x…``, EVM
    addresses are case-insensitive; their mixed case is only a checksum). Base58 addresses
    are case-sensitive and left as they are."""
    address = address.strip()
    return address.lower() if address[:2].lower() == "0x" else address


# -- inputs -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Transfer:
    """A USDT deposit or withdrawal of ``amount`` (> 0), at venue time ``ts_ms``;
    ``address`` is the outside wallet it came from or went to, when known."""

    transfer_id: str
    account: str
    direction: Direction
    amount: Decimal
    ts_ms: int
    address: str | None = None

    def __post_init__(self) -> None:
        _text(self.transfer_id, "transfer_id")
        _text(self.account, "account")
        if self.direction not in ("deposit", "withdrawal"):
            raise ComplianceError(f"direction must be deposit or withdrawal, "
                                  f"not {self.direction!r}")
        _positive(self.amount, "amount")
        _ts(self.ts_ms)
        if self.address is not None:
            _text(self.address, "address")

    @classmethod
    def from_signed(cls, transfer_id: str, account: str, amount: Decimal, ts_ms: int,
                    address: str | None = None) -> Transfer:
        """From a signed amount (> 0 deposit, < 0 withdrawal), as ``FundsTransferred``
        carries it."""
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount == 0:
            raise ComplianceError(f"signed amount must be a finite non-zero Decimal, "
                                  f"not {amount!r}")
        return cls(transfer_id, account, "deposit" if amount > 0 else "withdrawal", abs(amount),
                   ts_ms, address)


@dataclass(frozen=True, slots=True)
class Trade:
    """An exchange trade: ``buyer`` bought ``qty`` of ``symbol`` from ``seller`` at ``price``
    (USDT), at venue time ``ts_ms``."""

    trade_id: str
    symbol: str
    price: Decimal
    qty: Decimal
    buyer: str
    seller: str
    ts_ms: int

    def __post_init__(self) -> None:
        _text(self.trade_id, "trade_id")
        _text(self.symbol, "symbol")
        _positive(self.price, "price")
        _positive(self.qty, "qty")
        _text(self.buyer, "buyer")
        _text(self.seller, "seller")
        _ts(self.ts_ms)

    @property
    def notional(self) -> Decimal:
        """Price times quantity in USDT, exact."""
        return self.price * self.qty

    @classmethod
    def from_aggressor(cls, trade_id: str, symbol: str, price: Decimal, qty: Decimal,
                       aggressor_side: str, maker_account: str, taker_account: str,
                       ts_ms: int) -> Trade:
        """From the maker/taker view the ``trades`` contract carries."""
        if aggressor_side not in ("buy", "sell"):
            raise ComplianceError(f"aggressor_side must be buy or sell, not {aggressor_side!r}")
        buyer, seller = ((taker_account, maker_account) if aggressor_side == "buy"
                         else (maker_account, taker_account))
        return cls(trade_id, symbol, price, qty, buyer, seller, ts_ms)


# -- outputs ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Evidence:
    """One event as a case cites it, from ``account``'s point of view: ``amount`` is the
    USDT moved (transfer amount, or trade notional), ``side`` deposit/withdrawal/buy/sell."""

    kind: Literal["transfer", "trade"]
    event_id: str
    account: str
    side: str
    amount: Decimal
    ts_ms: int
    symbol: str | None = None
    price: Decimal | None = None
    qty: Decimal | None = None
    counterparty: str | None = None
    address: str | None = None

    @classmethod
    def of_transfer(cls, t: Transfer) -> Evidence:
        return cls("transfer", t.transfer_id, t.account, t.direction, t.amount, t.ts_ms,
                   address=t.address)

    @classmethod
    def of_trade(cls, t: Trade, account: str) -> Evidence:
        """The trade as ``account`` (its buyer or its seller) saw it."""
        buying = account == t.buyer
        return cls("trade", t.trade_id, account, "buy" if buying else "sell", t.notional,
                   t.ts_ms, symbol=t.symbol, price=t.price, qty=t.qty,
                   counterparty=t.seller if buying else t.buyer)

    def to_record(self) -> dict[str, Any]:
        return {"kind": self.kind, "event_id": self.event_id, "account": self.account,
                "side": self.side, "amount": str(self.amount), "ts_ms": self.ts_ms,
                "symbol": self.symbol, "price": _dec(self.price), "qty": _dec(self.qty),
                "counterparty": self.counterparty, "address": self.address}

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> Evidence:
        return cls(r["kind"], r["event_id"], r["account"], r["side"], Decimal(r["amount"]),
                   r["ts_ms"], r["symbol"], _undec(r["price"]), _undec(r["qty"]),
                   r["counterparty"], r["address"])


@dataclass(frozen=True, slots=True)
class Case:
    """An AML case for a compliance officer: which rule, which accounts, how urgent, since
    when (the venue time of the event that completed the evidence), and the evidence."""

    case_id: str
    rule: str
    code: ComplianceCode
    accounts: tuple[str, ...]
    severity: Severity
    opened_ts_ms: int
    summary: str
    evidence: tuple[Evidence, ...]

    @property
    def account(self) -> str:
        """The account the case is about (the first of ``accounts``)."""
        return self.accounts[0]

    def to_record(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "rule": self.rule, "code": int(self.code),
                "accounts": list(self.accounts), "severity": self.severity,
                "opened_ts_ms": self.opened_ts_ms, "summary": self.summary,
                "evidence": [e.to_record() for e in self.evidence]}

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> Case:
        return cls(r["case_id"], r["rule"], ComplianceCode(r["code"]), tuple(r["accounts"]),
                   r["severity"], r["opened_ts_ms"], r["summary"],
                   tuple(Evidence.from_record(e) for e in r["evidence"]))


# -- parameters ---------------------------------------------------------------------------
_HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class AmlRules:
    """The screening parameters. Defaults, and why:

    * velocity: more than 10 transfers in 1 hour — people fund or withdraw a few times a
      day; dozens an hour is a script moving money through the venue;
    * outflow: more than 100,000 USDT withdrawn in 24 hours — above tier 2's daily limit
      (50,000), so only tier 3 accounts can reach it, and those warrant the look;
    * structuring: 3 or more transfers in the same direction within 72 hours, each
      between 90% and 100% (excluded) of the 10,000 USDT reporting threshold — the
      classic way to stay under it;
    * round trip: the reverse trade within 10 minutes at a price within 1% of the first;
    * bounds: 1,000 events per window (above every count threshold), 100,000 windows,
      200,000 remembered event ids, 100,000 remembered case ids.
    """

    velocity_window_ms: int = _HOUR_MS
    velocity_max_transfers: int = 10
    outflow_window_ms: int = 24 * _HOUR_MS
    outflow_max_usdt: Decimal = Decimal(100_000)
    reporting_threshold_usdt: Decimal = Decimal(10_000)
    structuring_floor: Decimal = Decimal("0.9")
    structuring_min_count: int = 3
    structuring_window_ms: int = 72 * _HOUR_MS
    round_trip_window_ms: int = 10 * 60_000
    round_trip_price_tolerance: Decimal = Decimal("0.01")
    max_window_events: int = 1_000
    max_windows: int = 100_000
    max_seen_ids: int = 200_000
    max_raised_cases: int = 100_000

    def __post_init__(self) -> None:
        for name in ("velocity_window_ms", "velocity_max_transfers", "outflow_window_ms",
                     "structuring_min_count", "structuring_window_ms", "round_trip_window_ms",
                     "max_window_events", "max_windows", "max_seen_ids", "max_raised_cases"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ComplianceError(f"{name} must be an int >= 1, not {value!r}")
        _positive(self.outflow_max_usdt, "outflow_max_usdt")
        _positive(self.reporting_threshold_usdt, "reporting_threshold_usdt")
        _positive(self.structuring_floor, "structuring_floor")
        if self.structuring_floor >= 1:
            raise ComplianceError("structuring_floor must be below 1")
        tol = self.round_trip_price_tolerance
        if not isinstance(tol, Decimal) or not tol.is_finite() or tol < 0:
            raise ComplianceError("round_trip_price_tolerance must be a finite Decimal >= 0")
        if self.max_window_events <= max(self.velocity_max_transfers,
                                         self.structuring_min_count):
            raise ComplianceError("max_window_events must exceed every count threshold, "
                                  "or those rules could never fire")

    @property
    def structuring_low_usdt(self) -> Decimal:
        """The smallest amount that counts as "just under" the threshold."""
        return self.reporting_threshold_usdt * self.structuring_floor

    def window_ms(self, rule: str) -> int:
        return {VELOCITY_COUNT: self.velocity_window_ms,
                VELOCITY_OUTFLOW: self.outflow_window_ms,
                STRUCTURING: self.structuring_window_ms,
                ROUND_TRIP: self.round_trip_window_ms}[rule]


# -- the screener -------------------------------------------------------------------------
WindowKey = tuple[str, ...]  # (rule, account[, direction | symbol])


def _bounded_add(ids: OrderedDict[str, None], key: str, cap: int) -> None:
    ids[key] = None
    while len(ids) > cap:
        ids.popitem(last=False)


@dataclass
class Screener:
    """Screens transfers and trades; see the module docstring for the rules.

    ``related`` (account → group id) and ``sanctioned`` (addresses) are configuration, not
    state: they are given again to :meth:`from_record`, so a new sanctions list applies
    from the next event on.
    """

    rules: AmlRules = field(default_factory=AmlRules)
    related: Mapping[str, str] = field(default_factory=dict)
    sanctioned: frozenset[str] = frozenset()
    now_ms: int = 0  # the newest venue time seen: the clock that expires idle windows
    _windows: OrderedDict[WindowKey, list[Evidence]] = field(
        default_factory=OrderedDict, init=False, repr=False)
    _seen: OrderedDict[str, None] = field(default_factory=OrderedDict, init=False, repr=False)
    _raised: OrderedDict[str, None] = field(default_factory=OrderedDict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.related = MappingProxyType(dict(self.related))
        self.sanctioned = frozenset(normalize_address(a) for a in self.sanctioned)

    # -- public --------------------------------------------------------------------------
    def is_related(self, a: str, b: str) -> bool:
        """Same account, or both in the same group."""
        if a == b:
            return True
        group = self.related.get(a)
        return group is not None and group == self.related.get(b)

    def on_transfer(self, transfer: Transfer) -> list[Case]:
        """Screen one transfer; the new cases it opens (none for a replayed id)."""
        if not self._first_time(f"transfer:{transfer.transfer_id}", transfer.ts_ms):
            return []
        ev = Evidence.of_transfer(transfer)
        found: list[Case] = []
        if transfer.address is not None and \
                normalize_address(transfer.address) in self.sanctioned:
            preposition = "from" if transfer.direction == "deposit" else "to"
            found.append(self._case(SANCTIONED_ADDRESS, (transfer.account,), [ev],
                                    f"{transfer.direction} of {transfer.amount} USDT "
                                    f"{preposition} sanctioned address {transfer.address}"))
        found += self._velocity_count(ev)
        if transfer.direction == "withdrawal":
            found += self._velocity_outflow(ev)
        found += self._structuring(ev)
        return self._new(found)

    def on_trade(self, trade: Trade) -> list[Case]:
        """Screen one trade; the new cases it opens (none for a replayed id)."""
        if not self._first_time(f"trade:{trade.trade_id}", trade.ts_ms):
            return []
        found: list[Case] = []
        if self.is_related(trade.buyer, trade.seller):
            found.append(self._wash(trade))
            if trade.buyer != trade.seller:
                found += self._round_trips(trade)
        return self._new(found)

    def screen(self, events: Iterable[Transfer | Trade]) -> list[Case]:
        """Every new case of a sequence of events, in order."""
        out: list[Case] = []
        for e in events:
            out += self.on_transfer(e) if isinstance(e, Transfer) else self.on_trade(e)
        return out

    # -- rules ---------------------------------------------------------------------------
    def _velocity_count(self, ev: Evidence) -> list[Case]:
        window = self._slide((VELOCITY_COUNT, ev.account), ev)
        if window is None or len(window) <= self.rules.velocity_max_transfers:
            return []
        return [self._fire((VELOCITY_COUNT, ev.account), window, (ev.account,),
                           f"{len(window)} transfers within "
                           f"{self.rules.velocity_window_ms} ms "
                           f"(more than {self.rules.velocity_max_transfers})")]

    def _velocity_outflow(self, ev: Evidence) -> list[Case]:
        window = self._slide((VELOCITY_OUTFLOW, ev.account), ev)
        if window is None:
            return []
        total = sum((e.amount for e in window), Decimal(0))
        if total <= self.rules.outflow_max_usdt:
            return []
        return [self._fire((VELOCITY_OUTFLOW, ev.account), window, (ev.account,),
                           f"{total} USDT withdrawn within {self.rules.outflow_window_ms} ms "
                           f"(more than {self.rules.outflow_max_usdt})")]

    def _structuring(self, ev: Evidence) -> list[Case]:
        rules = self.rules
        if not rules.structuring_low_usdt <= ev.amount < rules.reporting_threshold_usdt:
            return []
        key = (STRUCTURING, ev.account, ev.side)
        window = self._slide(key, ev)
        if window is None or len(window) < rules.structuring_min_count:
            return []
        return [self._fire(key, window, (ev.account,),
                           f"{len(window)} {ev.side}s between {rules.structuring_low_usdt} "
                           f"and {rules.reporting_threshold_usdt} USDT within "
                           f"{rules.structuring_window_ms} ms")]

    def _wash(self, trade: Trade) -> Case:
        if trade.buyer == trade.seller:
            return self._case(WASH_TRADE, (trade.buyer,), [Evidence.of_trade(trade, trade.buyer)],
                              f"{trade.buyer} traded {trade.qty} {trade.symbol} at "
                              f"{trade.price} with itself", SELF_TRADE_SEVERITY)
        group = self.related.get(trade.buyer)
        return self._case(WASH_TRADE, (trade.buyer, trade.seller),
                          [Evidence.of_trade(trade, trade.buyer)],
                          f"{trade.buyer} bought {trade.qty} {trade.symbol} at {trade.price} "
                          f"from related account {trade.seller} (group {group})")

    def _round_trips(self, trade: Trade) -> list[Case]:
        """Each side of a trade between related accounts is a leg of its account; a leg
        closes the earliest opposite leg in the window at about the same price."""
        out: list[Case] = []
        tol = self.rules.round_trip_price_tolerance
        for account in (trade.buyer, trade.seller):
            leg = Evidence.of_trade(trade, account)
            key = (ROUND_TRIP, account, trade.symbol)
            window = self._slide(key, leg, add=False)
            if window is None:
                continue
            opening = next((e for e in window
                            if e.side != leg.side and _near(e.price, leg.price, tol)), None)
            if opening is None:
                self._insert(key, leg)
                continue
            window.remove(opening)
            if not window:
                del self._windows[key]
            first, then = ("bought", "sold") if opening.side == "buy" else ("sold", "bought")
            accounts = tuple(dict.fromkeys((account, opening.counterparty or account,
                                            leg.counterparty or account)))
            case = self._case(ROUND_TRIP, accounts, [opening, leg],
                              f"{account} {first} {opening.qty} {trade.symbol} at "
                              f"{opening.price} and {then} {leg.qty} at {leg.price} within "
                              f"{leg.ts_ms - opening.ts_ms} ms, with related accounts")
            # the other side of the same two trades is the same round trip: one case
            if not any(c.evidence[0].event_id == opening.event_id for c in out):
                out.append(case)
        return out

    # -- windows -------------------------------------------------------------------------
    def _slide(self, key: WindowKey, ev: Evidence, add: bool = True) -> list[Evidence] | None:
        """Drop what fell out of ``key``'s window at ``ev``'s time and (``add``) put ``ev``
        in; ``None`` if ``ev`` is already older than the window (too late to count)."""
        window_ms = self.rules.window_ms(key[0])
        items = self._windows.get(key, [])
        newest = max(items[-1].ts_ms, ev.ts_ms) if items else ev.ts_ms
        horizon = newest - window_ms
        cut = bisect.bisect_right(items, horizon, key=lambda e: e.ts_ms)
        if cut:
            del items[:cut]
            if not items:
                del self._windows[key]
        if ev.ts_ms <= horizon:
            return None
        if add:
            return self._insert(key, ev)
        return self._windows.get(key, [])

    def _insert(self, key: WindowKey, ev: Evidence) -> list[Evidence]:
        items = self._windows.get(key)
        if items is None:
            items = self._windows[key] = []
        else:
            self._windows.move_to_end(key)
        bisect.insort_right(items, ev, key=lambda e: e.ts_ms)
        overflow = len(items) - self.rules.max_window_events
        if overflow > 0:
            del items[:overflow]
        self._bound_windows(keep=key)
        return items

    def _bound_windows(self, keep: WindowKey) -> None:
        """Drop the least recently used windows that have expired (by the newest venue time
        seen anywhere), then any over the cap; never ``keep``, the one just written."""
        while self._windows:
            key, items = next(iter(self._windows.items()))
            if key == keep:
                break
            expired = items[-1].ts_ms <= self.now_ms - self.rules.window_ms(key[0])
            if not expired and len(self._windows) <= self.rules.max_windows:
                break
            del self._windows[key]

    def _fire(self, key: WindowKey, window: list[Evidence], accounts: tuple[str, ...],
              summary: str) -> Case:
        """A windowed rule fired: its evidence is the whole window, which it consumes."""
        self._windows.pop(key, None)
        return self._case(key[0], accounts, window, summary)

    # -- cases and ids -------------------------------------------------------------------
    def _case(self, rule: str, accounts: tuple[str, ...], evidence: list[Evidence],
              summary: str, severity: Severity | None = None) -> Case:
        code, default_severity = RULES[rule]
        opened = max(e.ts_ms for e in evidence)
        return Case(f"{rule}:{accounts[0]}:{evidence[0].event_id}", rule, code, accounts,
                    severity or default_severity, opened, summary, tuple(evidence))

    def _first_time(self, event_key: str, ts_ms: int) -> bool:
        if event_key in self._seen:
            return False
        _bounded_add(self._seen, event_key, self.rules.max_seen_ids)
        self.now_ms = max(self.now_ms, ts_ms)
        return True

    def _new(self, cases: list[Case]) -> list[Case]:
        out = []
        for case in cases:
            if case.case_id not in self._raised:
                _bounded_add(self._raised, case.case_id, self.rules.max_raised_cases)
                out.append(case)
        return out

    # -- state ---------------------------------------------------------------------------
    def to_record(self) -> dict[str, Any]:
        """The state as JSON-able data (Decimal as str); configuration is not included."""
        return {"version": RECORD_VERSION, "now_ms": self.now_ms,
                "windows": [[list(key), [e.to_record() for e in items]]
                            for key, items in self._windows.items()],
                "seen": list(self._seen), "raised": list(self._raised)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any], rules: AmlRules | None = None,
                    related: Mapping[str, str] | None = None,
                    sanctioned: Iterable[str] = ()) -> Screener:
        if record.get("version") != RECORD_VERSION:
            raise ComplianceError(f"unknown screener record version {record.get('version')!r}")
        screener = cls(rules or AmlRules(), related or {}, frozenset(sanctioned),
                       _ts(record["now_ms"], "now_ms"))
        for key, items in record["windows"]:
            if items:
                screener._windows[tuple(key)] = [Evidence.from_record(e) for e in items]
        screener._seen.update(dict.fromkeys(record["seen"]))
        screener._raised.update(dict.fromkeys(record["raised"]))
        return screener
