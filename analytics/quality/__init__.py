"""Data quality with Great Expectations: one suite per sunk table (``suites/``), run on every
sink batch (:func:`screen`, bad rows to ``quarantine``) and over the stored tables
(:func:`run_checks`, ``strikeflow analytics check``)."""

from analytics.quality.screen import Held, screen

__all__ = ["Held", "screen"]
