"""The REST routes, one module per area; :mod:`gateway.app` mounts them under ``/api/v1``."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict

from analytics.query import QueryError

__all__ = ["StrictBody", "read_history"]


class StrictBody(BaseModel):
    """A request body: unknown fields are refused (an order naming an account is not obeyed)."""

    model_config = ConfigDict(extra="forbid")


async def read_history(fn: Any, *args: Any) -> Any:
    """Run a :mod:`gateway.history` read off the event loop; 503 when ClickHouse is away."""
    try:
        return await asyncio.to_thread(fn, *args)
    except QueryError as exc:
        raise HTTPException(503, f"analytics store unavailable: {exc}") from None
