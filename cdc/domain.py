"""The order database's domain, pure: ids, products, the order-status transition table.

Nothing here touches a database, Kafka or Faust, so the counter service, the bridge agent and
the tests share one definition of what a valid account id, product or status change is. The
migrations repeat the same rules in SQL (a migration is frozen history and must not import
code that changes); an integration test checks that the two agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum

from cdc import CdcError
from cdc.codes import CounterCode, describe
from streams.compliance.codes import ComplianceCode
from streams.compliance.codes import describe as describe_compliance

__all__ = [
    "ACCOUNT_ID_RE",
    "CAPTURED_TABLES",
    "CLIENT_ORDER_ID_RE",
    "EXPIRY_TIME_UTC",
    "ORDER_TRANSITIONS",
    "PUBLICATION",
    "CounterError",
    "OptionType",
    "OrderStatus",
    "Product",
    "ProductStatus",
    "TransferKind",
    "can_transition",
    "check_account_id",
    "check_client_order_id",
    "product_id",
]

ACCOUNT_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
CLIENT_ORDER_ID_RE = ACCOUNT_ID_RE
#: Options expire at 08:00 UTC on their expiry date, as on the venue's listed options.
EXPIRY_TIME_UTC = time(8, 0, tzinfo=UTC)
#: The publication Debezium reads (created by the migrations, never by Debezium).
PUBLICATION = "strikeflow_cdc"
#: The tables in that publication, in the order the migrations list them.
CAPTURED_TABLES = ("orders", "transfers", "accounts", "account_kyc")


class CounterError(CdcError):
    """The counter service refused a request; ``code`` is its number in :mod:`cdc.codes`, or
    compliance's 7xxx :class:`~streams.compliance.codes.ComplianceCode` when a KYC gate
    refused it (one table of codes, numbered by subsystem: the client keys on the number).

    Raised before anything is written, or with the transaction rolled back: a refused request
    leaves the database as it was.
    """

    def __init__(self, code: CounterCode | ComplianceCode, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        text = (describe_compliance(code) if isinstance(code, ComplianceCode)
                else describe(code))
        super().__init__(f"{code.value} {code.name}: {text}" + (f" ({detail})" if detail else ""))


class OptionType(StrEnum):
    CALL = "call"
    PUT = "put"

    @property
    def letter(self) -> str:
        return "C" if self is OptionType.CALL else "P"


class ProductStatus(StrEnum):
    LISTED = "listed"
    HALTED = "halted"
    EXPIRED = "expired"
    DELISTED = "delisted"


class TransferKind(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


class OrderStatus(StrEnum):
    """A simplified-option order's life: bought (``open``), then settled or cancelled."""

    OPEN = "open"
    SETTLING = "settling"
    SETTLED = "settled"
    CANCELLED = "cancelled"


#: ``(from, to)`` pairs the database allows (the migration holds the same rows). Each status
#: is reached at most once per order, so ``(order id, status)`` names one event forever.
ORDER_TRANSITIONS: frozenset[tuple[OrderStatus, OrderStatus]] = frozenset({
    (OrderStatus.OPEN, OrderStatus.SETTLING),
    (OrderStatus.OPEN, OrderStatus.CANCELLED),
    (OrderStatus.SETTLING, OrderStatus.SETTLED),
})


def can_transition(old: OrderStatus, new: OrderStatus) -> bool:
    """Whether an order may go from ``old`` to ``new`` (staying put is not a transition)."""
    return (old, new) in ORDER_TRANSITIONS


def check_account_id(account: str) -> str:
    if not isinstance(account, str) or not ACCOUNT_ID_RE.match(account):
        raise CounterError(CounterCode.INVALID_ACCOUNT_ID, repr(account))
    return account


def check_client_order_id(client_order_id: str) -> str:
    if not isinstance(client_order_id, str) or not CLIENT_ORDER_ID_RE.match(client_order_id):
        raise CounterError(CounterCode.INVALID_CLIENT_ORDER_ID, repr(client_order_id))
    return client_order_id


def _format_strike(strike: Decimal) -> str:
    return format(strike.normalize(), "f")


def product_id(underlying: str, expiry: date, strike: Decimal, option_type: OptionType) -> str:
    """``BTC-20261225-100000-C``: the venue's option id format (``streams/instruments/ids``)."""
    return (f"{underlying}-{expiry:%Y%m%d}-{_format_strike(strike)}-"
            f"{OptionType(option_type).letter}")


@dataclass(frozen=True, slots=True)
class Product:
    """A simplified option the house sells: European, cash-settled in USDT.

    ``contract_size`` is the coin amount of one contract (0.01 BTC): a buyer of ``n``
    contracts pays ``price * n * contract_size`` where ``price`` is per coin.
    """

    id: str
    underlying: str
    strike: Decimal
    expiry: datetime
    option_type: OptionType
    contract_size: Decimal
    status: ProductStatus = ProductStatus.LISTED

    def __post_init__(self) -> None:
        problems = []
        if self.underlying not in ("BTC", "ETH"):
            problems.append(f"underlying {self.underlying!r} is not BTC or ETH")
        if not (isinstance(self.strike, Decimal) and self.strike.is_finite() and self.strike > 0):
            problems.append(f"strike {self.strike!r} must be a positive Decimal")
        if not (isinstance(self.contract_size, Decimal) and self.contract_size.is_finite()
                and self.contract_size > 0):
            problems.append(f"contract size {self.contract_size!r} must be a positive Decimal")
        if self.expiry.tzinfo is None:
            problems.append("expiry must carry a timezone")
        if problems:
            raise CounterError(CounterCode.INVALID_PRODUCT, "; ".join(problems))

    @classmethod
    def listed(cls, underlying: str, expiry_date: date, strike: Decimal,
               option_type: OptionType, contract_size: Decimal) -> Product:
        """A product expiring at 08:00 UTC on ``expiry_date``, with its canonical id."""
        expiry = datetime.combine(expiry_date, EXPIRY_TIME_UTC)
        return cls(product_id(underlying, expiry_date, strike, option_type), underlying, strike,
                   expiry, OptionType(option_type), contract_size)
