"""Tokens, signed requests and password hashes: what must be refused is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.auth import signing
from gateway.auth.passwords import hash_password, verify_password
from gateway.auth.tokens import TokenError, TokenIssuer

SECRET = "x" * 40
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def issuer(secret: str = SECRET) -> TokenIssuer:
    return TokenIssuer(secret, access_ttl_s=300, refresh_ttl_s=3600)


def test_an_access_token_carries_who_and_for_how_long() -> None:
    token, claims = issuer().issue("alice", "alice", "trader", "access", NOW)
    got = issuer().verify(token, "access", NOW + timedelta(seconds=299))
    assert (got.username, got.account, got.role, got.jti) == ("alice", "alice", "trader",
                                                              claims.jti)


def test_an_expired_token_is_refused() -> None:
    token, _ = issuer().issue("alice", "alice", "trader", "access", NOW)
    with pytest.raises(TokenError, match="xpired"):
        issuer().verify(token, "access", NOW + timedelta(seconds=300))


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token, _ = issuer("y" * 40).issue("alice", "alice", "admin", "access", datetime.now(UTC))
    with pytest.raises(TokenError, match="Signature"):
        issuer().verify(token, "access")


def test_a_refresh_token_is_no_access_token_and_back() -> None:
    refresh, _ = issuer().issue("alice", "alice", "trader", "refresh", datetime.now(UTC), "fam")
    access, _ = issuer().issue("alice", "alice", "trader", "access", datetime.now(UTC))
    with pytest.raises(TokenError, match="udience"):
        issuer().verify(refresh, "access")
    with pytest.raises(TokenError, match="udience"):
        issuer().verify(access, "refresh")


def test_unsigned_and_tampered_tokens_are_refused() -> None:
    token, _ = issuer().issue("alice", "alice", "trader", "access", datetime.now(UTC))
    claims = jwt.decode(token, options={"verify_signature": False})
    unsigned = jwt.encode(claims | {"acc": "bob"}, None, algorithm="none")
    with pytest.raises(TokenError):
        issuer().verify(unsigned, "access")
    head, body, sig = token.split(".")
    forged_body = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(body).replace(b'"alice"', b'"bobby"')).decode()
    with pytest.raises(TokenError):
        issuer().verify(f"{head}.{forged_body}.{sig}", "access")


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        TokenIssuer("short", 300, 3600)


def _signed(ts: int = 1_000_000, window: int = 5000, body: bytes = b'{"qty":"1"}') -> str:
    return signing.sign("s3cret", ts, "sfk_1", window, "POST", "/api/v1/orders", body)


def test_a_signed_request_verifies_inside_its_window() -> None:
    signing.verify("s3cret", _signed(), 1_000_000, "sfk_1", 5000, "POST", "/api/v1/orders",
                   b'{"qty":"1"}', now_ms=1_004_999, max_window_ms=60_000)


@pytest.mark.parametrize(("now", "why"), [(1_005_001, "outside"), (994_999, "outside")])
def test_stale_or_future_requests_are_refused(now: int, why: str) -> None:
    with pytest.raises(signing.SignatureError, match=why):
        signing.verify("s3cret", _signed(), 1_000_000, "sfk_1", 5000, "POST",
                       "/api/v1/orders", b'{"qty":"1"}', now_ms=now, max_window_ms=60_000)


def test_a_window_over_the_maximum_is_refused() -> None:
    with pytest.raises(signing.SignatureError, match="window"):
        signing.verify("s3cret", _signed(window=600_000), 1_000_000, "sfk_1", 600_000, "POST",
                       "/api/v1/orders", b'{"qty":"1"}', now_ms=1_000_000,
                       max_window_ms=60_000)


@given(field=st.sampled_from(["secret", "ts", "key", "window", "method", "path", "body"]))
def test_any_change_to_a_signed_request_breaks_the_signature(field: str) -> None:
    args = {"secret": "s3cret", "ts": 1_000_000, "key": "sfk_1", "window": 5000,
            "method": "POST", "path": "/api/v1/orders", "body": b'{"qty":"1"}'}
    changed = dict(args)
    changed[field] = {"secret": "other", "ts": 1_000_001, "key": "sfk_2", "window": 4999,
                      "method": "DELETE", "path": "/api/v1/orders?x=1",
                      "body": b'{"qty":"2"}'}[field]
    sig = signing.sign(changed["secret"], changed["ts"], changed["key"], changed["window"],
                       changed["method"], changed["path"], changed["body"])
    with pytest.raises(signing.SignatureError, match="does not match"):
        signing.verify("s3cret", sig, 1_000_000, "sfk_1", 5000, "POST", "/api/v1/orders",
                       b'{"qty":"1"}', now_ms=1_000_000, max_window_ms=60_000)


def test_a_key_secret_is_derived_per_key() -> None:
    a, b = signing.derive_secret("m", "sfk_1"), signing.derive_secret("m", "sfk_2")
    assert a != b and a == signing.derive_secret("m", "sfk_1")
    assert signing.derive_secret("other", "sfk_1") != a


def test_passwords_hash_with_argon2id_and_verify() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse batterY")
    assert not verify_password(None, "correct horse battery")
    assert not verify_password("not a hash", "x")
    with pytest.raises(ValueError):
        hash_password("short")
