"""Analysts' SQL over loopback, answered by the process that owns the embedded ClickHouse.

chDB allows one process per data directory, and the sink is that process while it runs; this
HTTP endpoint lets analysts read live data:

* ``/`` speaks ClickHouse's own HTTP interface (:mod:`sinks.clickhouse_http`), so
  ``clickhouse_connect`` with an ``http://`` DSN, curl or Grafana reach the store as they would
  a ClickHouse server;
* ``POST /query?format=CSVWithNames`` with the SQL as the body is the short form
  ``strikeflow analytics query`` uses.

Served by the sink: read-only statements only (the sink alone writes). ``strikeflow analytics
serve`` serves a store no sink owns, writes included for the ``writer`` user.

Every request but the health check names a user, the ways ClickHouse's HTTP interface takes
one: ``X-ClickHouse-User``/``X-ClickHouse-Key`` headers, HTTP basic auth, or ``user`` and
``password`` parameters. An unknown user or a wrong password gets ClickHouse's own refusal
(code 516, HTTP 401); ``analyst`` only ever reads.
"""

from __future__ import annotations

import base64
import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from infra.settings import ClickHouseSettings
from sinks.clickhouse_http import HttpError, answer, parse, read_body

__all__ = ["FrontUser", "QueryServer", "front_users", "is_read_only"]

_READ_ONLY = ("select", "with", "show", "describe", "desc", "explain", "exists")


def is_read_only(sql: str) -> bool:
    words = sql.lstrip("( \n\t").split(None, 1)
    return bool(words) and words[0].lower() in _READ_ONLY


@dataclass(frozen=True)
class FrontUser:
    name: str
    password: str
    may_write: bool


def front_users(ch: ClickHouseSettings) -> tuple[FrontUser, ...]:
    return (FrontUser(ch.analyst.name, ch.analyst.password.get_secret_value(), False),
            FrontUser(ch.writer.name, ch.writer.password.get_secret_value(), True))


def _everything(_sql: str) -> bool:
    return True


class QueryServer:
    def __init__(self, client: Any, lock: threading.Lock, host: str, port: int,
                 users: tuple[FrontUser, ...], read_only: bool = True) -> None:
        policies = {u.name: (u.password, _everything if u.may_write and not read_only
                             else is_read_only) for u in users}
        handler = _handler(client, lock, policies)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                       name="clickhouse-query-server")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _credentials(headers: Any, params: dict[str, list[str]]) -> tuple[str, str]:
    """The user and password a request names, as ClickHouse reads them ("default", "")."""
    if headers.get("X-ClickHouse-User"):
        return headers["X-ClickHouse-User"], headers.get("X-ClickHouse-Key", "")
    auth = headers.get("Authorization", "")
    if auth.startswith("Basic "):
        try:
            name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return name, password
        except (ValueError, UnicodeDecodeError):
            return "", ""
    return params.get("user", ["default"])[0], params.get("password", [""])[0]


def _handler(client: Any, lock: threading.Lock,
             policies: dict[str, tuple[str, Callable[[str], bool]]]
             ) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as ClickHouse clients expect

        def _allow(self, query: str) -> Callable[[str], bool] | None:
            """The caller's statement policy, or None (and a 401 sent) if not authenticated."""
            name, password = _credentials(self.headers, parse_qs(query))
            known = policies.get(name)
            if known is None or not hmac.compare_digest(known[0].encode(), password.encode()):
                self._reply(401, f"Code: 516. DB::Exception: {name}: Authentication failed: "
                                 "password is incorrect, or there is no user with such name. "
                                 "(AUTHENTICATION_FAILED)\n".encode(),
                            {"X-ClickHouse-Exception-Code": "516"})
                return None
            return known[1]

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/" and "query" in parse_qs(url.query):
                allow = self._allow(url.query)
                if allow is not None:
                    self._clickhouse(url.query, b"", allow)
            else:  # health: /, /ping
                self._reply(200, b"Ok.\n")

        def do_POST(self) -> None:
            url = urlparse(self.path)
            if url.path not in ("/", "/query"):
                self._reply(404, b"unknown path\n")
                return
            try:
                body = read_body(self.rfile, self.headers)
            except HttpError as exc:
                self._reply(exc.status, f"{exc}\n".encode())
                return
            allow = self._allow(url.query)
            if allow is None:
                return
            if url.path == "/":
                self._clickhouse(url.query, body, allow)
                return
            fmt = parse_qs(url.query).get("format", ["CSVWithNames"])[0]
            sql = body.decode()
            if not allow(sql):
                self._reply(403, b"read-only: SELECT, WITH, SHOW, DESCRIBE, EXPLAIN\n")
                return
            try:
                with lock:
                    body = client.raw_query(sql, fmt=fmt)
            except Exception as exc:
                self._reply(400, f"{type(exc).__name__}: {exc}\n".encode())
                return
            self._reply(200, body)

        def _clickhouse(self, query: str, body: bytes, allow: Callable[[str], bool]) -> None:
            try:
                request = parse(parse_qs(query, keep_blank_values=True), body)
                out = answer(client, lock, request, allow)
            except Exception as exc:  # a request must get an answer, never a dropped line
                if not isinstance(exc, HttpError):
                    exc = HttpError(500, f"Code: 1000. DB::Exception: {type(exc).__name__}: "
                                         f"{exc}")
                self._reply(exc.status, f"{exc}\n".encode(),
                            {"X-ClickHouse-Exception-Code": str(exc).split(".")[0][6:]})
                return
            self._reply(200, out, {"X-ClickHouse-Format": request.default_format,
                                   "X-ClickHouse-Timezone": "UTC",
                                   "X-ClickHouse-Summary": "{}"})

        def _reply(self, status: int, body: bytes,
                   headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # keep the sink's log for the sink
            return

    return Handler
