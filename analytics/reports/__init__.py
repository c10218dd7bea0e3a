"""Canned reports: SQL over the analytics views → a :class:`Report` → CSV and PDF files.

Building a report (``daily``, ``statement``) takes a ``fetch`` function (SQL → ``Table``), so
the same code reads through the running sink, the embedded store, or a test's fixture rows;
rendering (``render``) is pure: a report in, bytes out.
"""

from analytics.reports.model import Report, Section

__all__ = ["Report", "Section"]
