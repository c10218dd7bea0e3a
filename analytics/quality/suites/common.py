"""Column types and patterns the suites share (as ``system.columns`` spells the types)."""

from __future__ import annotations

__all__ = ["META", "MONEY", "NMONEY", "NSTR", "SYMBOL", "TS"]

TS = "DateTime64(6, 'UTC')"
MONEY = "Decimal(38, 18)"
NMONEY = "Nullable(Decimal(38, 18))"
NSTR = "Nullable(String)"
SYMBOL = r"^[A-Z0-9]+-[A-Z0-9]+(?:-[0-9]+-[CP])?$"
META = {"ts_event": TS, "ts_init": TS, "causation_id": NSTR}
