"""ClickHouse's HTTP interface in front of the embedded store (chDB).

chDB is ClickHouse's engine in-process, one process per data directory. Speaking ClickHouse's
own HTTP protocol on ``/`` lets anything that talks to a ClickHouse server reach that store
while its owner runs: ``clickhouse_connect.get_client(dsn="http://127.0.0.1:18123")`` (so the
sink, ``analytics query`` and the reports run unchanged against an ``http://`` DSN), curl, and
Grafana's ClickHouse data source over HTTP.

What is implemented is what those clients use: the SQL in the body or in ``?query=``, the data
of an ``INSERT … FORMAT X`` in the body (plain, chunked, or compressed with lz4, zstd, gzip or
deflate), ``database``, ``default_format``, ``param_*`` bind parameters, ``/ping``, errors as
``Code: N. DB::Exception: …`` with status 500. Everything runs on the real engine; sessions,
progress headers and per-request settings are not supported (settings in the URL are ignored).
"""

from __future__ import annotations

import gzip
import re
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

__all__ = ["ClickHouseRequest", "HttpError", "answer", "parse", "read_body"]

_TRAILING_FORMAT = re.compile(r"\s+FORMAT\s+(?P<fmt>\w+)\s*;?\s*$", re.IGNORECASE)
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(?P<table>[^\s(]+)\s*(?:\((?P<cols>[^)]*)\))?\s*"
                     r"FORMAT\s+(?P<fmt>\w+)\s*;?\s*$", re.IGNORECASE | re.DOTALL)


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ClickHouseRequest:
    sql: str
    data: bytes | None  # the rows of an INSERT … FORMAT
    database: str | None
    default_format: str
    params: dict[str, str]


def _decompress(body: bytes, encoding: str | None) -> bytes:
    if not encoding or encoding == "identity" or not body:
        return body
    if encoding == "lz4":
        import lz4.frame

        return lz4.frame.decompress(body)
    if encoding == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    raise HttpError(415, f"Content-Encoding {encoding!r} is not supported")


def read_body(stream: BinaryIO, headers: Any) -> bytes:
    """The request body, plain or chunked, decompressed."""
    if headers.get("Transfer-Encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                stream.readline()
                break
            parts.append(stream.read(size))
            stream.readline()
        raw = b"".join(parts)
    else:
        raw = stream.read(int(headers.get("Content-Length") or 0))
    return _decompress(raw, headers.get("Content-Encoding"))


def parse(query: dict[str, list[str]], body: bytes) -> ClickHouseRequest:
    first = {k: v[0] for k, v in query.items()}
    if "query" in first:
        sql, data = first["query"], body or None
        if data is not None and not _INSERT.match(sql):
            sql, data = sql + " " + body.decode(), None  # the SQL continues in the body
    else:  # an insert's statement comes first in the body, its rows after the newline
        head, newline, rest = body.partition(b"\n")
        if newline and _INSERT.match(head.decode("utf-8", "replace")):
            sql, data = head.decode(), rest
        else:
            try:
                sql, data = body.decode(), None
            except UnicodeDecodeError:
                raise HttpError(400, "Code: 27. DB::Exception: the query is not UTF-8") from None
    if not sql.strip():
        raise HttpError(400, "Code: 62. DB::Exception: Empty query")
    params = {k.removeprefix("param_"): v for k, v in first.items() if k.startswith("param_")}
    return ClickHouseRequest(sql, data, first.get("database"),
                             first.get("default_format", "TabSeparated"), params)


def answer(client: Any, lock: threading.Lock, request: ClickHouseRequest,
           allow: Callable[[str], bool]) -> bytes:
    """Run the request on the store; ``allow`` says which statements this endpoint takes."""
    if not allow(request.sql):
        raise HttpError(403, "Code: 164. DB::Exception: this endpoint is read-only "
                             "(the sink owns the writes)")
    try:
        with lock:
            if request.data is not None:
                insert = _INSERT.match(request.sql)
                assert insert is not None
                cols = [c.strip().strip("`\"") for c in (insert["cols"] or "").split(",")
                        if c.strip()]
                client.raw_insert(insert["table"], cols or None, insert_block=request.data,
                                  fmt=insert["fmt"])
                return b""
            sql, fmt = request.sql, request.default_format
            if (trailing := _TRAILING_FORMAT.search(sql)) is not None:  # the client's own
                sql, fmt = sql[:trailing.start()], trailing["fmt"]
            previous = client.database
            client.database = request.database or previous
            try:
                return client.raw_query(sql, parameters=request.params or None, fmt=fmt)
            finally:
                client.database = previous
    except HttpError:
        raise
    except Exception as exc:
        text = str(exc)
        raise HttpError(500, text if "DB::Exception" in text
                        else f"Code: 1000. DB::Exception: {type(exc).__name__}: {text}") from None
