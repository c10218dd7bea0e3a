"""The order database, the counter service and Debezium change data capture.

What lives here, and why it is one package: the PostgreSQL schema (``migrations/``, applied
by :mod:`cdc.migrate`), the counter service that writes an order and its USDT debit in one
transaction (:mod:`cdc.counter`, with its pure pricing in :mod:`cdc.quotes`), the Debezium
connector that streams those rows to ``cdc.*`` (:mod:`cdc.connector`), and the reconciliation
that proves every committed order reached the stream (:mod:`cdc.reconcile`). ``strikeflow cdc``
(:mod:`cdc.cli`) reaches all of it from the shell; :func:`cdc.demo.run` shows it end to end.
The bridge agent that turns Debezium envelopes into ``settlement.orders`` lives in
``cdc/bridge``.

Every error this package raises on purpose derives from :class:`CdcError`.
"""

from __future__ import annotations

__all__ = ["CdcError"]


class CdcError(Exception):
    """The base of every error raised on purpose by the ``cdc`` package."""
