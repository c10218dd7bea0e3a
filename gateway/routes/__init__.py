"""The REST routes, one module per area; :mod:`gateway.app` mounts them under ``/api/v1``."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import HTTPException

from analytics.query import QueryError

__all__ = ["read_history"]


async def read_history(fn: Any, *args: Any) -> Any:
    """Run a :mod:`gateway.history` read off the event loop; 503 when ClickHouse is away."""
    try:
        return await asyncio.to_thread(fn, *args)
    except QueryError as exc:
        raise HTTPException(503, f"analytics store unavailable: {exc}") from None
