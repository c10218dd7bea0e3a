"""The one catalogue of StrikeFlow's topics: name, key, partitions, retention, contract.

Every input topic has a dead-letter topic beside it (``<name>.dlq``). Debezium's ``cdc.*``
topics are declared here too, so ``strikeflow topics apply`` creates them with the right
settings before the connector writes; their payload is Debezium's envelope, decoded in ``cdc``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError

from topics.contracts import (
    Candle,
    DeadLetter,
    DeadLetterReplayed,
    ExpirySettled,
    HedgeFill,
    IndexPrice,
    L2Update,
    LedgerEntry,
    OptionMark,
    OrderEvent,
    Position,
    RiskAlert,
    SettlementResult,
    Tick,
    Trade,
    account_activity_adapter,
)
from topics.contracts.cdc import OptionOrderEvent
from topics.contracts.compliance import ComplianceCase
from topics.contracts.marketdata import FeedStateChanged, price_alert_command_adapter
from topics.contracts.orders import BookUpdate, order_command_adapter, order_request_adapter
from topics.contracts.rfq import RfqClearance, RfqUpdate, rfq_command_adapter
from topics.contracts.routing import ParentOrderReport, RouteOrder

__all__ = [
    "CATALOGUE",
    "MAX_PAYLOAD_BYTES",
    "ContractError",
    "TopicSpec",
    "by_name",
    "dead_letter_of",
]

DAY_MS = 24 * 3600 * 1000


#: The largest payload decoded: Kafka's default ``message.max.bytes`` (1 MiB and change). A
#: larger one was produced around the limit or is garbage; parsing it would only cost memory.
MAX_PAYLOAD_BYTES = 1_048_588
#: At most this many field errors are listed: a 5000-level book can break every level, and the
#: dead letter's error text would otherwise outgrow the payload.
_MAX_ERRORS = 20


class ContractError(ValueError):
    """A payload broke its topic's contract; ``errors`` says where and why, field by field.

    The only exception :meth:`TopicSpec.decode` raises, whatever the bytes, so an agent's
    ``except ContractError`` dead-letters every bad message. ``unexpected`` marks the last
    line of defence: an exception the decoder does not know turned into a contract error (a
    bug to fix, but not one that stops the worker).
    """

    def __init__(self, topic: str, errors: list[str], *, unexpected: bool = False) -> None:
        self.topic = topic
        self.errors = errors
        self.unexpected = unexpected
        super().__init__(f"{topic}: " + "; ".join(errors))


def _describe(exc: ValidationError) -> list[str]:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    out = []
    for err in errors[:_MAX_ERRORS]:
        where = ".".join(str(p) for p in err["loc"]) or "(message)"
        out.append(f"{where}: {err['msg']}")
    if len(errors) > _MAX_ERRORS:
        out.append(f"and {len(errors) - _MAX_ERRORS} more errors")
    return out


def _name(exc: BaseException) -> str:
    """``Type: message`` of an exception, bounded, even if its ``str`` misbehaves."""
    try:
        text = str(exc)[:200]
    except Exception:
        text = "(unprintable)"
    return f"{type(exc).__name__}: {text}"


def _payload_errors(raw: object) -> list[str]:
    """Why ``raw`` cannot be a JSON payload at all, before the parser sees it; [] if it can."""
    if raw is None:
        return ["(message): no value (a tombstone or an empty message)"]
    if not isinstance(raw, bytes | bytearray | str):
        return [f"(message): a payload is bytes or text, not {type(raw).__name__}"]
    if len(raw) > MAX_PAYLOAD_BYTES:
        return [f"(message): {len(raw)} bytes, more than the {MAX_PAYLOAD_BYTES} a message "
                "may have"]
    return []


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    description: str
    contract: TypeAdapter[Any] | None
    partitions: int = 3
    cleanup: Literal["delete", "compact"] = "delete"
    retention_ms: int | None = 7 * DAY_MS
    input: bool = False
    extra_config: dict[str, str] = field(default_factory=dict)

    @property
    def dead_letter(self) -> str | None:
        return f"{self.name}.dlq" if self.input else None

    @property
    def contract_name(self) -> str:
        """The contract's model, or its models ``A | B`` for a discriminated union."""
        if self.contract is None:
            return "Debezium envelope"
        return " | ".join(model.__name__ for model in _model_types(self.contract))

    def config(self) -> dict[str, str]:
        conf = {"cleanup.policy": self.cleanup}
        if self.input:
            # Time that decides anything (engine clock, GTD, expiry, rate limits) is the
            # broker's: a client's CreateTime is overwritten when the message is appended.
            conf["message.timestamp.type"] = "LogAppendTime"
        if self.retention_ms is not None:
            conf["retention.ms"] = str(self.retention_ms)
        return conf | self.extra_config

    def decode(self, raw: bytes | str | None) -> Any:
        """Validate a JSON payload against the contract, or raise :class:`ContractError`.

        Any bytes at all: invalid UTF-8, nesting deep enough to exhaust a parser, NaN,
        1E+100, a year-10000 timestamp or a tombstone are contract errors, never another
        exception (agents dead-letter ``ContractError`` and crash on anything else). The
        shared types of :mod:`topics.contracts.base` refuse bad values precisely; the last
        ``except`` is the safety net for whatever they miss.
        """
        if self.contract is None:
            raise ContractError(self.name, ["no contract: this topic carries an external format"])
        if problems := _payload_errors(raw):
            raise ContractError(self.name, problems)
        try:
            return self.contract.validate_json(raw)  # type: ignore[arg-type]
        except ValidationError as exc:
            raise ContractError(self.name, _describe(exc)) from None
        except Exception as exc:  # the last line of defence: see the docstring
            raise ContractError(self.name, [f"(message): undecodable: {_name(exc)}"],
                                unexpected=True) from exc

    def encode(self, message: BaseModel) -> bytes:
        """JSON of a contract instance. Instances validate on construction, so this only
        checks that the message is of this topic's contract, not every field again."""
        if self.contract is None:
            raise ContractError(self.name, ["no contract: this topic carries an external format"])
        if not isinstance(message, _model_types(self.contract)):
            raise ContractError(self.name, [f"{type(message).__name__} is not this topic's "
                                            "contract"])
        return message.model_dump_json().encode()


_MODEL_TYPES: dict[int, tuple[type, ...]] = {}


def _model_types(adapter: TypeAdapter[Any]) -> tuple[type, ...]:
    """The model classes a contract admits (several for a discriminated union)."""
    key = id(adapter)
    if key not in _MODEL_TYPES:
        kind = adapter._type
        origin = getattr(kind, "__origin__", None)
        if origin is not None and getattr(kind, "__metadata__", None):  # Annotated[Union, ...]
            kind = kind.__origin__
        _MODEL_TYPES[key] = tuple(getattr(kind, "__args__", ())) or (kind,)
    return _MODEL_TYPES[key]


def _t(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("md.ticks", "symbol", "venue trades, normalised", _t(Tick), input=True,
              retention_ms=3 * DAY_MS),
    TopicSpec("md.l2", "symbol", "venue L2 snapshots and deltas", _t(L2Update), input=True,
              retention_ms=1 * DAY_MS),
    TopicSpec("md.candles", "symbol",
              "OHLCV candles 1m (from ticks) and 5m/15m/1h (rolled up from 1m), versioned; "
              "last version final", _t(Candle), retention_ms=30 * DAY_MS, input=True),
    # md.index is an input too: the option-mark and price-alert agents consume it.
    TopicSpec("md.index", "underlying", "index price per underlying (median of venue mids)",
              _t(IndexPrice), input=True),
    TopicSpec("md.book", "symbol",
              "books: source=consolidated (live venues but index outliers), a venue code "
              "(that venue's ladder) or 'venue' (StrikeFlow's own book)", _t(BookUpdate),
              retention_ms=1 * DAY_MS),
    TopicSpec("md.feed.status", "symbol", "venue feed health: live, out_of_sync (resync), stale",
              _t(FeedStateChanged)),
    TopicSpec("md.marks", "symbol", "latest option mark and Greeks", _t(OptionMark),
              cleanup="compact", retention_ms=None),
    TopicSpec("md.alerts.commands", "underlying", "set or cancel a price alert of an account",
              price_alert_command_adapter, input=True),
    TopicSpec("orders.requests", "account",
              "what producers send: submit, cancel, amend, mass-cancel, cancel-all and "
              "market-maker protection; pre-trade risk forwards accepted orders to "
              "orders.commands", order_request_adapter, partitions=6,
              input=True),
    TopicSpec("orders.commands", "symbol", "risk-checked submit, cancel, amend, mass-cancel",
              order_command_adapter, partitions=6, input=True),
    # An input too: booking reads it, and a bad event must become a dead letter, not a crash.
    TopicSpec("orders.events", "symbol", "order lifecycle events", _t(OrderEvent),
              partitions=6, retention_ms=30 * DAY_MS, input=True),
    # An input too: AML screening (streams.compliance) reads it; bad trades become dead letters.
    TopicSpec("trades", "symbol", "executions with maker and taker", _t(Trade), partitions=6,
              retention_ms=30 * DAY_MS, input=True),
    # Co-partitioned with orders.requests (same key, same count): one risk agent reads both.
    TopicSpec("accounts.activity", "account",
              "fills (from trades), released orders and USDT transfers, per account",
              account_activity_adapter, partitions=6, input=True),
    TopicSpec("ledger", "account", "balanced USDT ledger entries", _t(LedgerEntry),
              retention_ms=None, extra_config={"retention.ms": "-1"}),
    TopicSpec("positions", "account|symbol", "latest position per account and instrument",
              _t(Position), cleanup="compact", retention_ms=None),
    TopicSpec("risk.alerts", "account", "risk alerts, once per threshold crossing",
              _t(RiskAlert), retention_ms=30 * DAY_MS),
    TopicSpec("rfq.commands", "rfq id", "block RFQs: open, quote, cancel a quote, accept, "
              "cancel", rfq_command_adapter, partitions=3, input=True),
    # Co-partitioned with rfq.commands (same key, same count): one RFQ agent reads both.
    TopicSpec("rfq.clearing", "rfq id", "risk's answers to a block trade's reservations "
              "(worker-only: a client cannot clear its own block)", _t(RfqClearance),
              partitions=3, input=True),
    TopicSpec("rfq.events", "rfq id", "what became of each RFQ command (quotes, refusals "
              "with 6xxx codes, the accepted block trade, expiry)", _t(RfqUpdate),
              partitions=3, retention_ms=30 * DAY_MS),
    TopicSpec("routing.orders", "parent id", "smart order routing: parent orders to work "
              "across our book and the external venues", _t(RouteOrder), partitions=3,
              input=True),
    TopicSpec("routing.reports", "parent id", "each routed parent's state per step: fills "
              "per venue, slippage against the arrival price, fees; the last is final",
              _t(ParentOrderReport), partitions=3, retention_ms=30 * DAY_MS),
    # Cases are evidence a regulator may ask for years later: kept forever, like the ledger.
    TopicSpec("compliance.cases", "account", "AML cases (velocity, structuring, wash trades, "
              "round trips, sanctioned addresses) with their evidence; id = case id",
              _t(ComplianceCase), partitions=6, retention_ms=None,
              extra_config={"retention.ms": "-1"}),
    TopicSpec("settlement.results", "order id", "hedge and booking outcome per order",
              _t(SettlementResult), retention_ms=30 * DAY_MS),
    TopicSpec("settlement.orders", "order id",
              "simplified-option orders from the order database, one event per status",
              _t(OptionOrderEvent), retention_ms=30 * DAY_MS, input=True),
    TopicSpec("settlement.hedges", "underlying", "the house's hedge fills on external venues",
              _t(HedgeFill), retention_ms=None, extra_config={"retention.ms": "-1"}),
    TopicSpec("settlement.expiries", "underlying",
              "option expiries cash-settled at the 30-minute TWAP of the index",
              _t(ExpirySettled), retention_ms=None, extra_config={"retention.ms": "-1"}),
    # Debezium envelopes (JSON, no schema; decoded in cdc/bridge/envelope.py). The key
    # is the row's primary key as Debezium writes it, {"id": "..."}, which fixes the partition.
    TopicSpec("cdc.public.orders", '{"id": order uuid} (Debezium key)',
              "Debezium: public.orders (+ re-reads injected by reconciliation)", None,
              input=True),
    TopicSpec("cdc.public.transfers", '{"id": transfer uuid} (Debezium key)',
              "Debezium: public.transfers", None, input=True),
    TopicSpec("cdc.public.accounts", '{"id": account id} (Debezium key)',
              "Debezium: public.accounts", None, input=True),
    TopicSpec("cdc.public.account_kyc", '{"id": account id} (Debezium key)',
              "Debezium: public.account_kyc (KYC status and tier per account)", None,
              input=True),
    # Operations: which dead letters were replayed (so a replay is never published twice)
    TopicSpec("ops.replays", "<source topic>/<partition>/<offset>",
              "dead letters re-published to their source topic by an operator",
              _t(DeadLetterReplayed), partitions=1, cleanup="compact", retention_ms=None),
)


def _with_dead_letters(specs: tuple[TopicSpec, ...]) -> tuple[TopicSpec, ...]:
    out = list(specs)
    for spec in specs:
        if spec.dead_letter:
            out.append(TopicSpec(spec.dead_letter, spec.key, f"dead letters of {spec.name}",
                                 _t(DeadLetter), partitions=1, retention_ms=30 * DAY_MS))
    return tuple(out)


CATALOGUE: tuple[TopicSpec, ...] = _with_dead_letters(_TOPICS)
_BY_NAME = {spec.name: spec for spec in CATALOGUE}


def by_name(name: str) -> TopicSpec:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not in the topic catalogue") from None


def dead_letter_of(name: str) -> TopicSpec:
    dlq = by_name(name).dead_letter
    if dlq is None:
        raise KeyError(f"{name!r} is not an input topic and has no dead-letter topic")
    return by_name(dlq)
