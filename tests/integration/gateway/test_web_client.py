"""The web client in a real browser: Debian's Chromium, headless, driven by Playwright.

A maker rests a sell over the API; a second trader logs in through the page, sees the level in
the live book, buys it with the order form, and the page shows the answer, the fill and the
position. Screenshots of the login page and of the trading screen after the fill go to the
test's temporary directory, or to ``docs/screenshots/`` (the README's) with
``STRIKEFLOW_SCREENSHOTS=1``, so that a test run leaves the work tree as it was.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect, sync_playwright

from .conftest import PASSWORD, Trader, Venue

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.redis, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
README_SHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
TIMEOUT_MS = 30_000
TICK = Decimal("0.01")  # the test instrument is listed on BTC's grid
QTY = Decimal("0.25")

expect.set_options(timeout=TIMEOUT_MS)  # every expect below waits up to 30 s


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def _decimal_text(value: Decimal) -> re.Pattern[str]:
    """The value as the server may print it: ``0.25``, ``0.250000`` …"""
    whole, _, frac = format(value.normalize(), "f").partition(".")
    return re.compile(rf"^{whole}\.{frac}0*$" if frac else rf"^{whole}(\.0*)?$")


def _free_price(maker: Trader, symbol: str) -> tuple[Decimal, Decimal]:
    """A price inside the current spread (other tests of the session may have left orders on
    the instrument) and a step for levels around it that stay inside it too: the maker's sell
    must rest, and the buy must meet only it."""
    r = maker.http.get(f"/api/v1/market/book/{symbol}")
    book: dict[str, Any] = r.json() if r.status_code == 200 else {"bids": [], "asks": []}
    best_bid = max((Decimal(p) for p, _ in book["bids"]), default=None)
    best_ask = min((Decimal(p) for p, _ in book["asks"]), default=None)
    low = best_bid if best_bid is not None else Decimal(0)
    high = best_ask if best_ask is not None else max(low * 2, Decimal(200))
    price = ((low + high) / 2).quantize(TICK, ROUND_DOWN)
    step = ((high - low) / 20).quantize(TICK, ROUND_DOWN)
    assert step >= TICK and low < price - 5 * step and price + 4 * step < high, \
        f"no room inside the spread {low}..{high}"
    return price, step


def _rest(who: Trader, symbol: str, side: str, qty: Decimal, price: Decimal) -> None:
    """A resting limit order over the API (``trader()`` returns once risk has the deposit)."""
    r = who.http.post("/api/v1/orders", json={
        "symbol": symbol, "side": side, "type": "limit", "qty": str(qty), "price": str(price),
        "time_in_force": "GTC", "client_order_id": f"maker-{uuid.uuid4().hex[:12]}"})
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text


def _level(page: Page, side: str, price: Decimal) -> Locator:
    """The book's row for ``price`` on ``side`` (asks or bids), as the page shows it."""
    return page.locator(f"#book-{side} [data-testid=book-level]").filter(
        has=page.locator("span.p", has_text=re.compile(rf"^{re.escape(format(price, 'f'))}$")))


def test_a_trader_buys_a_resting_ask_through_the_page(
        venue: Venue, trader: Callable[..., Trader], page: Page, tmp_path: Path) -> None:
    shots = README_SHOTS if os.environ.get("STRIKEFLOW_SCREENSHOTS") else tmp_path
    buyer, maker = trader(), trader()
    price, step = _free_price(maker, venue.symbol)
    price_text = format(price, "f")  # the page shows prices on the instrument's tick
    _rest(maker, venue.symbol, "sell", QTY, price)
    try:
        # Some depth around it, for the book to show (and for the screenshot).
        for k in range(1, 5):
            _rest(maker, venue.symbol, "sell", Decimal("0.1") * k, price + k * step)
            _rest(maker, venue.symbol, "buy", Decimal("0.15") * k, price - k * step)
        _trade_through_the_page(venue, buyer, page, price, price_text, step, shots)
    finally:
        maker.http.delete("/api/v1/orders", params={"symbol": venue.symbol})


def _trade_through_the_page(venue: Venue, buyer: Trader, page: Page, price: Decimal,
                            price_text: str, step: Decimal, shots: Path) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))

    def console(msg: ConsoleMessage) -> None:
        # Non-2xx answers are logged by Chromium as resources that failed to load (e.g. the
        # portfolio's 503 when no ClickHouse sink runs): those are the API's, not the page's.
        if msg.type == "error" and "Failed to load resource" not in msg.text:
            errors.append(f"console: {msg.text}")
    page.on("console", console)

    # -- the login page -----------------------------------------------------------------------
    page.goto(f"{venue.url}/?symbol={venue.symbol}")
    expect(page).to_have_title(re.compile("StrikeFlow"))
    expect(page.locator("#login-submit")).to_be_visible()
    expect(page.locator("#trade-view")).to_be_hidden()
    page.fill("#login-username", buyer.username)
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "web-client-login.png"))

    # A wrong password is refused on the page, and the page stays on the login form.
    page.fill("#login-password", "not the password")
    page.click("#login-submit")
    expect(page.locator("#auth-message")).to_contain_text("wrong username or password")
    expect(page.locator("#trade-view")).to_be_hidden()

    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#trade-view")).to_be_visible()
    expect(page.locator("#who")).to_contain_text(buyer.account)
    expect(page.locator("#ws-status")).to_have_text("live")
    expect(page.locator("#instrument")).to_have_value(venue.symbol)  # from ?symbol=

    # -- the maker's levels in the live book -----------------------------------------------------
    level = _level(page, "asks", price)
    expect(level).to_have_count(1)
    expect(level).to_have_attribute("data-qty", _decimal_text(QTY))
    expect(_level(page, "asks", price + step)).to_have_attribute("data-qty", _decimal_text(
        Decimal("0.1")))
    expect(_level(page, "bids", price - step)).to_have_attribute("data-qty", _decimal_text(
        Decimal("0.15")))

    # -- the order form --------------------------------------------------------------------------
    page.select_option("#order-side", "buy")
    page.select_option("#order-type", "limit")
    page.select_option("#order-tif", "GTC")
    page.fill("#order-qty", str(QTY))
    page.fill("#order-price", price_text)
    expect(page.locator("#order-submit")).to_contain_text("Buy")
    page.click("#order-submit")

    answer = page.locator("#order-answer")
    expect(answer).to_contain_text(re.compile(r"ACCEPTED|FILLED"))
    expect(answer).to_have_class(re.compile(r"\baccepted\b"))
    # …and it follows the order on the feed until it is filled.
    expect(answer).to_have_attribute("data-status", "filled")
    expect(answer.locator(".live-status")).to_have_text("filled")

    # The fill, in the fills table and as a notification.
    fill = page.locator(f'#fills tr[data-symbol="{venue.symbol}"][data-side="buy"]')
    expect(fill).to_have_count(1)
    expect(fill).to_have_attribute("data-price", _decimal_text(price))
    expect(fill).to_have_attribute("data-qty", _decimal_text(QTY))
    expect(page.locator("#notifications li[data-kind=fill]")).to_have_count(1)
    expect(page.locator("#notifications li[data-kind=fill]")).to_contain_text(
        f"buy {QTY}")

    # The position, long what was bought.
    position = page.locator(f'#positions tr[data-symbol="{venue.symbol}"]')
    expect(position).to_have_count(1)
    expect(position).to_have_attribute("data-qty", _decimal_text(QTY))
    assert Decimal(position.get_attribute("data-qty") or "0") > 0

    # The level is gone from the book, the trade is on the tape, nothing of ours is open.
    expect(level).to_have_count(0)
    trade = page.locator("#trades [data-testid=trade]").filter(
        has=page.locator("span.p", has_text=re.compile(rf"^{re.escape(price_text)}$")))
    expect(trade.first).to_be_visible()
    expect(page.locator("#open-orders tr")).to_have_count(0)

    # -- a resting bid: in the open orders and the book, then cancelled with its button --------
    bid = price - 5 * step
    page.fill("#order-qty", "0.1")
    page.fill("#order-price", format(bid, "f"))
    page.click("#order-submit")
    expect(answer).to_have_attribute("data-status", "accepted")
    mine = page.locator("#open-orders tr[data-testid=open-order]")
    expect(mine).to_have_count(1)
    expect(mine).to_have_attribute("data-status", "accepted")
    expect(mine).to_contain_text(format(bid, "f"))
    expect(_level(page, "bids", bid)).to_have_count(1)

    page.screenshot(path=str(shots / "web-client-trading.png"))

    # The connection drops: the page reconnects, resumes where it was, and keeps following.
    status = page.locator("#ws-status")
    expect(status).to_have_attribute("data-connects", "1")
    page.evaluate("window.strikeflow.dropSocket()")
    expect(status).to_have_attribute("data-connects", "2")
    expect(status).to_have_text("live")
    expect(mine).to_have_count(1)

    mine.locator("[data-testid=cancel-order]").click()
    expect(mine).to_have_count(0)
    expect(_level(page, "bids", bid)).to_have_count(0)
    expect(page.locator("#notifications li[data-kind=order]").first).to_contain_text(
        "cancelled")

    for shot in ("web-client-login.png", "web-client-trading.png"):
        assert (shots / shot).stat().st_size < 300_000, f"{shot} is over 300 KB"
    assert not errors, errors
