"""Pre-trade and post-trade risk in USDT: the account state, the margin model, reject codes.

Pure domain code; :mod:`streams.risk.agents` is the Faust glue (keyed by account).
"""

from streams.risk.account import AccountState, Alert, Decision, PositionState, Prices, Revaluation
from streams.risk.codes import RiskCode, describe
from streams.risk.limits import RiskLimits

__all__ = [
    "AccountState",
    "Alert",
    "Decision",
    "PositionState",
    "Prices",
    "Revaluation",
    "RiskCode",
    "RiskLimits",
    "describe",
]
