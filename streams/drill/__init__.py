"""The fault drill: load through the whole platform, faults injected, end-to-end reconciliation."""

from streams.drill.faults import FAULTS, SHORT
from streams.drill.runner import DrillConfig, run_drill

__all__ = ["FAULTS", "SHORT", "DrillConfig", "run_drill"]
