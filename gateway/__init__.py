"""The trading gateway: the side of the venue traders touch.

An ASGI service (FastAPI on uvicorn) that authenticates traders (passwords with JWTs, API keys
with HMAC-signed requests), publishes their orders to ``orders.requests`` with the
authenticated account, answers with risk's decision, serves history from ClickHouse and live
channels over WebSocket from Kafka, and serves the one-page web client. ``gateway.app``
builds the application; ``strikeflow gateway`` runs it.
"""
