"""Logging for every StrikeFlow process: structlog through the standard library, real levels.

Before this, structlog printed to stdout and Faust's worker redirected stdout into logging at
WARNING, so every line of a worker's log said ``[WARNING]``, debug and info included. Now
structlog hands each event to the standard ``logging`` module with its own level, and one
formatter renders our events and third-party records (Faust, aiokafka, urllib3) alike: as
readable key=value lines, or as one JSON object per line (``STRIKEFLOW_LOG__FORMAT=json``) for a
log shipper.
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any, Literal

import structlog

__all__ = ["configure", "logging_config"]

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
    structlog.processors.format_exc_info,
]


_CHATTY = ("aiokafka", "kafka", "elastic_transport", "elasticsearch", "httpx", "urllib3",
           "alembic", "great_expectations")


def logging_config(level: str = "info", fmt: Literal["console", "json"] = "console") -> dict:
    """A :func:`logging.config.dictConfig` dict (also what Faust's worker is given)."""
    renderer: Any = (structlog.processors.JSONRenderer() if fmt == "json"
                     else structlog.dev.ConsoleRenderer(colors=False))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"strikeflow": {
            "()": structlog.stdlib.ProcessorFormatter,
            "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            "foreign_pre_chain": _SHARED,
        }},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "strikeflow"}},
        "root": {"handlers": ["default"], "level": level.upper()},
        # chatty at INFO (a line per connection and SASL login): their warnings still show
        "loggers": {name: {"level": "WARNING"} for name in _CHATTY},
    }


def configure(level: str = "info", fmt: Literal["console", "json"] = "console") -> dict:
    """Route structlog through ``logging`` at ``level``; returns the dictConfig applied."""
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *_SHARED,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    config = logging_config(level, fmt)
    logging.config.dictConfig(config)
    return config
