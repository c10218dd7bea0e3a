"""Analysts' SQL over loopback, answered by the process that owns the embedded ClickHouse.

chDB allows one process per data directory, and the sink is that process while it runs; this
HTTP endpoint lets analysts read live data:

* ``/`` speaks ClickHouse's own HTTP interface (:mod:`sinks.clickhouse_http`), so
  ``clickhouse_connect`` with an ``http://`` DSN, curl or Grafana reach the store as they would
  a ClickHouse server;
* ``POST /query?format=CSVWithNames`` with the SQL as the body is the short form
  ``strikeflow analytics query`` uses.

Served by the sink: read-only statements only (the sink alone writes). ``strikeflow analytics
serve`` serves a store no sink owns, writes included.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from sinks.clickhouse_http import HttpError, answer, parse, read_body

__all__ = ["QueryServer", "is_read_only"]

_READ_ONLY = ("select", "with", "show", "describe", "desc", "explain", "exists")


def is_read_only(sql: str) -> bool:
    words = sql.lstrip("( \n\t").split(None, 1)
    return bool(words) and words[0].lower() in _READ_ONLY


class QueryServer:
    def __init__(self, client: Any, lock: threading.Lock, host: str, port: int,
                 read_only: bool = True) -> None:
        handler = _handler(client, lock, is_read_only if read_only else lambda _sql: True)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                       name="clickhouse-query-server")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(client: Any, lock: threading.Lock,
             allow: Callable[[str], bool]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as ClickHouse clients expect

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/" and "query" in parse_qs(url.query):
                self._clickhouse(url.query, b"")
            else:  # health: /, /ping
                self._reply(200, b"Ok.\n")

        def do_POST(self) -> None:
            url = urlparse(self.path)
            if url.path == "/":
                try:
                    body = read_body(self.rfile, self.headers)
                except HttpError as exc:
                    self._reply(exc.status, f"{exc}\n".encode())
                    return
                self._clickhouse(url.query, body)
                return
            if url.path != "/query":
                self._reply(404, b"unknown path\n")
                return
            fmt = parse_qs(url.query).get("format", ["CSVWithNames"])[0]
            sql = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
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

        def _clickhouse(self, query: str, body: bytes) -> None:
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
