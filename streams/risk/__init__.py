"""Pre-trade and post-trade risk in USDT: the account state, the margin model, reject codes.

Pure domain code; :mod:`streams.risk.agents` is the Faust glue (keyed by account).
"""

from infra.risk_limits import RiskLimits
from streams.risk.account import AccountState, Alert, Decision, PositionState, Prices, Revaluation
from streams.risk.codes import RiskCode, describe

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
