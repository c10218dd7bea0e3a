"""Which agent packages run in which worker process.

One process can run them all (a worker with no ``STRIKEFLOW_WORKER__AGENTS``), but a Faust
worker is one event loop on one core, and the market-data agents (L2 books of every venue,
index, marks, candles) would then share it with the order path. The main job, like a
deployment, runs two workers with two app ids (two consumer groups, their own tables):
the trading worker keeps the platform's app id, the market-data worker adds ``-marketdata``.
Pure data: importing it starts no Faust app.
"""

from __future__ import annotations

import json

__all__ = ["AGENT_PACKAGES", "MARKET_DATA_AGENTS", "TRADING_AGENTS", "agents_env"]

TRADING_AGENTS = ("cdc.bridge", "streams.risk", "streams.matching", "streams.ledger",
                  "streams.settlement", "streams.rfq", "streams.routing",
                  "streams.compliance")
MARKET_DATA_AGENTS = ("streams.marketdata",)
AGENT_PACKAGES = [*MARKET_DATA_AGENTS, *TRADING_AGENTS]


def agents_env(packages: tuple[str, ...]) -> dict[str, str]:
    """The environment that makes a worker run only ``packages``."""
    return {"STRIKEFLOW_WORKER__AGENTS": json.dumps(list(packages))}
