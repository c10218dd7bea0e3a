"""Pre-trade risk reject codes (5xxx; matching uses 1xxx, the counter service 4xxx)."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["RiskCode", "describe"]


class RiskCode(IntEnum):
    UNKNOWN_INSTRUMENT = 5001
    INSTRUMENT_NOT_TRADING = 5002
    RATE_LIMITED = 5003
    OUTSIDE_PRICE_BAND = 5004
    NO_REFERENCE_PRICE = 5005
    REDUCE_ONLY_WOULD_INCREASE = 5006
    EXPOSURE_LIMIT = 5007
    TOO_MANY_OPEN_ORDERS = 5008
    INSUFFICIENT_FUNDS = 5009
    UNKNOWN_ORDER = 5010
    DUPLICATE_CLIENT_ORDER_ID = 5011
    ACCOUNT_LIQUIDATING = 5012
    MMP_FROZEN = 5013
    KYC_TRADING_NOT_ALLOWED = 5014
    KYC_ORDER_LIMIT = 5015


_TEXT = {
    RiskCode.UNKNOWN_INSTRUMENT: "instrument is not listed",
    RiskCode.INSTRUMENT_NOT_TRADING: "instrument is not trading (expired or halted)",
    RiskCode.RATE_LIMITED: "order-rate limit of the account exceeded",
    RiskCode.OUTSIDE_PRICE_BAND: "limit price outside the band around the mark",
    RiskCode.NO_REFERENCE_PRICE: "no mark or index price yet to check a market order against",
    RiskCode.REDUCE_ONLY_WOULD_INCREASE: "reduce-only order would increase the position",
    RiskCode.EXPOSURE_LIMIT: "exposure limit of the account for this underlying exceeded",
    RiskCode.TOO_MANY_OPEN_ORDERS: "too many open orders",
    RiskCode.INSUFFICIENT_FUNDS: "available USDT does not cover premium, fees and margin",
    RiskCode.UNKNOWN_ORDER: "no open order with this client order id",
    RiskCode.DUPLICATE_CLIENT_ORDER_ID: "client order id already used by an open order",
    RiskCode.ACCOUNT_LIQUIDATING: "account is being liquidated: only reducing orders",
    RiskCode.MMP_FROZEN: "market-maker protection tripped in this underlying: new orders are "
                         "refused until the freeze ends or the maker resets it",
    # KYC (compliance's gate, streams.compliance.kyc.check_order): the reason text carries
    # compliance's own 7xxx code, e.g. 7001 (verify first) or 7105/7106 (the tier)
    RiskCode.KYC_TRADING_NOT_ALLOWED: "the account's KYC status or tier does not allow "
                                      "trading",
    RiskCode.KYC_ORDER_LIMIT: "order notional above the account's KYC tier limit",
}


def describe(code: RiskCode) -> str:
    return _TEXT[code]
