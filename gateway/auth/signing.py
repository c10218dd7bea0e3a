"""HMAC-signed requests for bots, as crypto venues sign them.

Headers: ``X-SF-APIKEY`` (key id), ``X-SF-TIMESTAMP`` (ms since the epoch),
``X-SF-RECV-WINDOW`` (ms, optional) and ``X-SF-SIGNATURE``: the hex HMAC-SHA256, under the
key's secret, of ``timestamp + key + recv_window + METHOD + path?query + body``. A request
is refused outside ``timestamp ± recv_window`` (by the venue's clock), and a signature is
accepted once: the gateway remembers the ones it saw for the window (Redis).

The key's secret is derived, never stored: ``HMAC-SHA256(master, key id)``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["SignatureError", "derive_secret", "new_key_id", "sign", "string_to_sign", "verify"]


class SignatureError(ValueError):
    """The signature is wrong, or the request is stale or from the future."""


def new_key_id() -> str:
    return "sfk_" + secrets.token_hex(12)


def derive_secret(master: str, key_id: str) -> str:
    return hmac.new(master.encode(), key_id.encode(), hashlib.sha256).hexdigest()


def string_to_sign(timestamp_ms: int, key_id: str, recv_window_ms: int, method: str,
                   path_query: str, body: bytes) -> bytes:
    return (f"{timestamp_ms}{key_id}{recv_window_ms}{method.upper()}{path_query}".encode()
            + body)


def sign(secret: str, timestamp_ms: int, key_id: str, recv_window_ms: int, method: str,
         path_query: str, body: bytes = b"") -> str:
    message = string_to_sign(timestamp_ms, key_id, recv_window_ms, method, path_query, body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, signature: str, timestamp_ms: int, key_id: str, recv_window_ms: int,
           method: str, path_query: str, body: bytes, now_ms: int, max_window_ms: int) -> None:
    """Raise :class:`SignatureError` unless the signature is right and the request fresh."""
    if not 0 < recv_window_ms <= max_window_ms:
        raise SignatureError(f"recv window must be in (0, {max_window_ms}] ms")
    if abs(now_ms - timestamp_ms) > recv_window_ms:
        raise SignatureError(f"timestamp {timestamp_ms} outside the {recv_window_ms} ms window "
                             f"around the venue's clock {now_ms}")
    expected = sign(secret, timestamp_ms, key_id, recv_window_ms, method, path_query, body)
    if not hmac.compare_digest(expected, signature.lower()):
        raise SignatureError("signature does not match")
