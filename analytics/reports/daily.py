"""The daily trading report: our venue's trading by instrument, fees, volume by venue (ours and
the hedge venues), top accounts, hedges, settlements and expiries of one UTC day."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from analytics.reports.model import Fetch, Report, Section, quote

__all__ = ["daily"]


def _total(section: Section, column: str) -> Decimal:
    i = section.columns.index(column)
    return sum((Decimal(r[i]) for r in section.rows if r[i] is not None), Decimal(0))


def daily(fetch: Fetch, day: date, db: str = "strikeflow", top: int = 10) -> Report:
    d = f"toDate({quote(day.isoformat())})"
    trading = Section.of("Trading by instrument (venue: strikeflow)", fetch(
        f"SELECT symbol, trades, volume, notional, vwap, open, high, low, close "
        f"FROM {db}.trading_daily WHERE day = {d} ORDER BY notional DESC, symbol"))
    fees = Section.of("Fees by instrument", fetch(
        f"SELECT symbol, sum(fees) AS fees, sum(entries) AS entries FROM {db}.fees_daily "
        f"WHERE day = {d} GROUP BY symbol ORDER BY fees DESC, symbol"),
        note="what clients paid (their kind='fee' ledger legs)")
    venues = Section.of("Volume by venue", fetch(
        f"SELECT venue, symbol, trades, volume, notional FROM {db}.volume_by_venue "
        f"WHERE day = {d} ORDER BY venue, symbol"),
        note="strikeflow: our trades; other venues: the house's hedges")
    accounts = Section.of(f"Top {top} accounts by notional", fetch(
        f"SELECT arrayJoin([maker_account, taker_account]) AS account, count() AS trades, "
        f"sum(qty) AS volume, sum(notional) AS notional FROM {db}.trades_notional "
        f"WHERE toDate(ts_event) = {d} GROUP BY account ORDER BY notional DESC, account "
        f"LIMIT {int(top)}"), note="maker and taker sides both count")
    hedges = Section.of("Hedges", fetch(
        f"SELECT ts_event AS time, venue, symbol, side, qty, avg_price, slippage_bps, fee, "
        f"order_id FROM {db}.hedges FINAL WHERE toDate(ts_event) = {d} ORDER BY ts_event"))
    settlements = Section.of("Settlement steps", fetch(
        f"SELECT state, count() AS steps, sum(ifNull(premium, 0)) AS premium, "
        f"sum(ifNull(fee, 0)) AS fee FROM {db}.settlement_results FINAL "
        f"WHERE toDate(ts_event) = {d} GROUP BY state ORDER BY state"))
    recon = Section.of("Reconciliation of the day's option orders", fetch(
        f"SELECT status, count() AS orders, sum(ordered_premium) AS ordered_premium, "
        f"sum(booked_premium) AS booked_premium FROM {db}.settlement_reconciliation "
        f"WHERE order_id IN (SELECT order_id FROM {db}.settlement_orders FINAL "
        f"WHERE toDate(ordered_at) = {d}) GROUP BY status ORDER BY status"),
        note="every open order booked exactly once at its premium: status ok")
    expiries = Section.of("Expiries", fetch(
        f"SELECT underlying, expiry, settlement_price, samples, positions, total_payout, "
        f"payout_to_accounts FROM {db}.expiries FINAL WHERE toDate(expiry) = {d} "
        f"ORDER BY expiry, underlying"))
    ok = sum(r[1] for r in recon.rows if r[0] == "ok")
    summary = [
        ("trades", int(_total(trading, "trades"))),
        ("notional (USDT)", _total(trading, "notional")),
        ("fees paid (USDT)", _total(fees, "fees")),
        ("hedges", len(hedges.rows)),
        ("hedge fees (USDT)", _total(hedges, "fee")),
        ("option orders reconciled ok", f"{ok} of {int(_total(recon, 'orders'))}"),
        ("expiries", len(expiries.rows)),
    ]
    return Report(f"daily-{day.isoformat()}", f"StrikeFlow daily report {day.isoformat()}",
                  "UTC day; figures from ClickHouse (de-duplicated tables)", summary,
                  [trading, fees, venues, accounts, hedges, settlements, recon, expiries])
