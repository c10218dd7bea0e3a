"""The dashboards, in the order Grafana lists them."""

from __future__ import annotations

from dashboards.boards.health import HEALTH
from dashboards.boards.market import MARKET
from dashboards.boards.pipeline import PIPELINE
from dashboards.boards.risk import RISK
from dashboards.boards.settlement import SETTLEMENT
from dashboards.boards.trading import TRADING
from dashboards.model import Dashboard

__all__ = ["DASHBOARDS"]

DASHBOARDS: tuple[Dashboard, ...] = (MARKET, TRADING, RISK, SETTLEMENT, PIPELINE,
                                     HEALTH)
