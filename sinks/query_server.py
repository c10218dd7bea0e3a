"""Analysts' SQL over loopback, answered by the process that owns the embedded ClickHouse.

chDB allows one process per data directory, and the sink is that process while it runs; this
small HTTP endpoint lets ``strikeflow analytics query`` (or any HTTP client) read live data.
``POST /query?format=CSVWithNames`` with the SQL as the body returns ClickHouse's output in
that format. Read-only statements only: the sink alone writes.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

__all__ = ["QueryServer", "is_read_only"]

_READ_ONLY = ("select", "with", "show", "describe", "desc", "explain", "exists")


def is_read_only(sql: str) -> bool:
    words = sql.lstrip("( \n\t").split(None, 1)
    return bool(words) and words[0].lower() in _READ_ONLY


class QueryServer:
    def __init__(self, client: Any, lock: threading.Lock, host: str, port: int) -> None:
        handler = _handler(client, lock)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                       name="clickhouse-query-server")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(client: Any, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # health
            self._reply(200, b"Ok.\n")

        def do_POST(self) -> None:
            url = urlparse(self.path)
            if url.path != "/query":
                self._reply(404, b"unknown path\n")
                return
            fmt = parse_qs(url.query).get("format", ["CSVWithNames"])[0]
            sql = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            if not is_read_only(sql):
                self._reply(403, b"read-only: SELECT, WITH, SHOW, DESCRIBE, EXPLAIN\n")
                return
            try:
                with lock:
                    body = client.raw_query(sql, fmt=fmt)
            except Exception as exc:
                self._reply(400, f"{type(exc).__name__}: {exc}\n".encode())
                return
            self._reply(200, body)

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # keep the sink's log for the sink
            return

    return Handler
