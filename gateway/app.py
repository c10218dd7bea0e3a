"""The gateway's ASGI application: routes, limits, CORS, the web client."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from gateway import ws
from gateway.context import Gateway
from gateway.routes import account, auth, market, orders, rfq
from infra.metrics import GATEWAY_ORDERS, GATEWAY_REQUESTS, GATEWAY_SECONDS
from infra.settings import Settings, get_settings

__all__ = ["create_app"]

log = structlog.get_logger(__name__)
WEB = Path(__file__).with_name("web")
API = "/api/v1"


class BodyLimit:
    """Refuses a request body over ``max_bytes`` with 413, whether it announces its length
    or streams it (pure ASGI: it counts what it passes on)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await _too_large(send, self.max_bytes)
        seen = 0

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message: dict[str, Any] = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await _too_large(send, self.max_bytes)


class Measure:
    """Requests answered and their time per route (pure ASGI: Starlette's BaseHTTPMiddleware
    cost a quarter of the gateway's CPU per request, measured with py-spy)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = 500

        async def sent(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            route = getattr(scope.get("route"), "path", "other")
            GATEWAY_SECONDS.labels(route).observe(time.perf_counter() - t0)
            GATEWAY_REQUESTS.labels(route, str(status)).inc()
            if route == f"{API}/orders" and scope["method"] == "POST":
                GATEWAY_ORDERS.labels("rest", str(status)).inc()


class _TooLarge(Exception):
    pass


async def _too_large(send: Any, limit: int) -> None:
    body = f'{{"detail":"request body over {limit} bytes"}}'.encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gw = Gateway(settings)
        await gw.start()
        app.state.gateway = gw
        try:
            yield
        finally:
            await gw.stop()

    app = FastAPI(title="StrikeFlow trading API", version="1",
                  description="Orders, account and market data of the StrikeFlow venue. "
                              "Authenticate with `POST /api/v1/auth/login` (Bearer JWT) or an "
                              "API key with HMAC-signed requests (see the README).",
                  lifespan=lifespan)
    for module in (auth, orders, rfq, account, market):
        app.include_router(module.router, prefix=API)
    app.include_router(ws.router)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")}
                  for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed", path=request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    @app.get("/healthz", include_in_schema=False)
    async def healthz(request: Request) -> dict[str, Any]:
        gw: Gateway = request.app.state.gateway
        return {"ok": True, "kafka_caught_up": gw.bridge.ready.is_set(),
                "records": gw.bridge.records}

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(WEB / "index.html")

    app.mount("/web", StaticFiles(directory=WEB), name="web")
    app.add_middleware(CORSMiddleware, allow_origins=list(settings.gateway.cors_origins),
                       allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
                       allow_headers=["Authorization", "Content-Type", "X-SF-APIKEY",
                                      "X-SF-TIMESTAMP", "X-SF-RECV-WINDOW", "X-SF-SIGNATURE"],
                       max_age=600)
    app.add_middleware(BodyLimit, max_bytes=settings.gateway.max_body_bytes)
    app.add_middleware(Measure)
    return app
