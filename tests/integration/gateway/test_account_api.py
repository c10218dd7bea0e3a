"""The account and market routes: transfers through the counter service, balances, the
OpenAPI document, instruments, risk limits, CORS and the web client's page."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest

from .conftest import Trader, Venue

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.redis]


def test_deposits_and_withdrawals_go_through_the_counter_service(
        venue: Venue, trader: Callable[..., Trader]) -> None:
    who = trader(funds=Decimal(0))
    first = who.http.post("/api/v1/transfers/deposit",
                          json={"amount": "1500.5", "reference": "dep-1"})
    assert first.status_code == 200, first.text
    assert first.json()["replayed"] is False and Decimal(first.json()["balance_after"]) == \
        Decimal("1500.5")
    again = who.http.post("/api/v1/transfers/deposit",
                          json={"amount": "1500.5", "reference": "dep-1"})
    assert again.json()["replayed"] is True  # idempotent by reference
    too_much = who.http.post("/api/v1/transfers/withdraw",
                             json={"amount": "99999", "reference": "wd-1"})
    assert too_much.status_code == 422 and too_much.json()["detail"]["code"]
    out = who.http.post("/api/v1/transfers/withdraw", json={"amount": "500", "reference": "wd-2"})
    assert out.status_code == 200 and Decimal(out.json()["balance_after"]) == Decimal("1000.5")
    bad = who.http.post("/api/v1/transfers/deposit", json={"amount": "-1", "reference": "x"})
    assert bad.status_code == 422


def test_public_reference_data_and_the_api_document(venue: Venue,
                                                    trader: Callable[..., Trader]) -> None:
    anon = httpx.Client(base_url=venue.url, timeout=10)
    spots = anon.get("/api/v1/market/instruments", params={"kind": "spot"}).json()
    assert {"BTC-USDT", "ETH-USDT", venue.symbol} <= {i["symbol"] for i in spots}
    options = anon.get("/api/v1/market/instruments", params={"kind": "option"}).json()
    assert options and all(o["strike"] and o["expiry"] and o["right"] for o in options)
    paths = anon.get("/openapi.json").json()["paths"]
    assert {"/api/v1/orders", "/api/v1/auth/login", "/api/v1/portfolio"} <= set(paths)
    assert anon.get("/docs").status_code == 200
    page = anon.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert anon.get("/api/v1/market/book/not-a-symbol").status_code == 422
    limits = trader(funds=Decimal(0)).http.get("/api/v1/risk/limits").json()
    assert limits and all(isinstance(k, str) for k in limits)


def test_cors_allows_the_configured_origins_only(venue: Venue) -> None:
    allowed = venue.settings.gateway.cors_origins[0]
    pre = {"Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization,content-type"}
    ok = httpx.options(f"{venue.url}/api/v1/orders", headers=pre | {"Origin": allowed})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == allowed
    evil = httpx.options(f"{venue.url}/api/v1/orders",
                         headers=pre | {"Origin": "https://evil.example"})
    assert evil.status_code == 400 and "access-control-allow-origin" not in evil.headers
