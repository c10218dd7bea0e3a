"""Data quality with Great Expectations: one suite per sunk table (``suites/``), run on every
sink batch (:func:`screen`, bad rows to ``quarantine``) and over the stored tables
(``strikeflow analytics check``, :func:`analytics.quality.check.run_checks`);
:func:`summary` for the demo."""

from typing import Any

from analytics.quality.screen import Held, screen

__all__ = ["Held", "screen", "summary"]


def summary(*args: Any, **kwargs: Any) -> Any:
    """See :func:`analytics.quality.summary.summary` (imported late: the sink needs none of it)."""
    from analytics.quality.summary import summary as _summary

    return _summary(*args, **kwargs)
