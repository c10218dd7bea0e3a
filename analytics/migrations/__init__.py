"""Numbered ClickHouse migrations: ``NNNN_name.py`` files, each with ``UP`` and ``DOWN`` SQL lists.

``{db}`` in a statement is replaced by the configured database. Applied versions are recorded in
``{db}.schema_migrations``; see :mod:`analytics.migrate`.
"""
