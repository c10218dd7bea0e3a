"""Kafka → Elasticsearch: orders (latest state), trades, the audit trail and notifications.

``documents`` turns validated events into bulk actions (pure), ``indices`` owns the index
templates and mappings, ``sink`` consumes, writes and commits, ``runner`` makes it a process.
"""
