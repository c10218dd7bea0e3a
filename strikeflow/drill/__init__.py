"""The fault drill: load through the whole platform, faults injected, end-to-end reconciliation."""

from strikeflow.drill.faults import FAULTS, SHORT
from strikeflow.drill.runner import DrillConfig, run_drill

__all__ = ["FAULTS", "SHORT", "DrillConfig", "run_drill"]
