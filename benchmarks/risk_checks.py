"""Pre-trade risk checks per second: :meth:`AccountState.decide` (and applying the fills of
what it accepted) for many accounts with realistic positions, against decoding the same
requests with the ``orders.requests`` contract.

Why decoding is the baseline: the risk agent decodes every request with the topic contract
before it decides (:mod:`streams.risk.agents`), so decoding is per-message work the agent
pays anyway and cannot avoid. The ratio says how much the risk check itself adds on top of
that floor (a ratio near 1 means the check costs about what reading the message costs; far
below 1, the check is the bottleneck of the agent's pure work). A bare dict-lookup loop would
only measure the interpreter and tell nothing about the agent.

The book of accounts: ``--accounts`` accounts (default 2000), each funded with 20k..500k USDT
and holding what traders hold — long or short BTC and ETH spot, long options, some short
options (so margin and liability are computed on every check) — built by applying fills
before timing. The stream (``--requests``, default 40000, seeded) is about 80% submits (a
third of them options; mostly limits inside the price band, some market orders and
reduce-only closes), 10% amends and 10% cancels of resting orders. Market orders and half of
the limit orders fill at once (the fill is applied: position, average price, cash,
reservation); the other half rest until a later cancel releases them.
A few requests are rejected on purpose (far outside the band, too large for the account), so
reject paths are timed too. Requests and fills are built before timing, as the agent gets
them decoded from Kafka.

Each figure is the best of ``--repeats`` runs by process CPU time on fresh copies of the
accounts (the least disturbed; the machine is shared), the baseline measured in the same
process and run interleaved with the checks.

Run: ``.venv/bin/python -m benchmarks.risk_checks [--accounts N] [--requests N]``.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from streams.instruments import Catalogue, Instrument, listings_at
from streams.ledger.fees import FeeSchedule, to_usdt
from streams.risk import AccountState, RiskLimits
from topics.catalogue import by_name
from topics.contracts import (
    AmendOrder,
    CancelOrder,
    Fill,
    FundsTransferred,
    OrderReleased,
    SubmitOrder,
)

__all__ = ["Workload", "build_workload", "main"]

D = Decimal
NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
REQUESTS = by_name("orders.requests")
INDICES = {"BTC": D(100_000), "ETH": D(3500)}


class Prices:
    """Index per underlying and a mark per option, as the reference-price cache holds."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.indices = dict(INDICES)
        self.marks = {i.instrument_id: _mark(i) for i in catalogue.options()}

    def index(self, underlying: str) -> Decimal | None:
        return self.indices.get(underlying)

    def mark(self, symbol: str) -> Decimal | None:
        return self.marks.get(symbol)


def _mark(inst: Instrument) -> Decimal:
    """A plausible premium on the option's tick: intrinsic + 3% of the index."""
    index = INDICES[inst.base]
    strike = inst.strike or index
    intrinsic = max(index - strike, D(0)) if inst.right == "C" else max(strike - index, D(0))
    raw = intrinsic + index * D("0.03")
    return (raw / inst.tick_size).quantize(D(1)) * inst.tick_size


@dataclass
class Workload:
    accounts: dict[str, dict[str, Any]]  # account -> stored record (fresh copy per run)
    requests: list[tuple[str, Any, bytes, Fill | OrderReleased | None, int]]
    # (account, request, its JSON, activity to apply if accepted, broker time ms)


def _on_grid(value: Decimal, step: Decimal) -> Decimal:
    return max(step, (value / step).quantize(D(1)) * step)


def build_workload(n_accounts: int, n_requests: int, seed: int, catalogue: Catalogue,
                   prices: Prices, fees: FeeSchedule) -> Workload:
    rnd = random.Random(seed)
    spots = catalogue.spots()
    options = catalogue.options()
    names = [f"acc-{i:05d}" for i in range(n_accounts)]
    trade_n = 0

    def make_fill(account: str, inst: Instrument, side: str, qty: Decimal, price: Decimal,
                  coid: str | None) -> Fill:
        nonlocal trade_n
        trade_n += 1
        notional = to_usdt(price * qty * (inst.contract_size or D(1)))
        return Fill(event_id=f"fill:T{trade_n}:taker", ts_event=NOW, account=account,
                    symbol=inst.instrument_id, trade_id=f"T{trade_n}", order_id=f"o{trade_n}",
                    client_order_id=coid, side=side, liquidity="taker", price=price, qty=qty,
                    cash=-notional if side == "buy" else notional,
                    fee=fees.fee(notional, option=inst.is_option, maker=False))

    def reference(inst: Instrument) -> Decimal:
        return prices.marks[inst.instrument_id] if inst.is_option else INDICES[inst.base]

    accounts: dict[str, dict[str, Any]] = {}
    for name in names:
        state = AccountState(name)
        state.apply(FundsTransferred(event_id=f"transfer:{name}", ts_event=NOW, account=name,
                                     transfer_id=name, amount=D(rnd.randint(20, 500) * 1000),
                                     reference="deposit"), catalogue)
        for inst in rnd.sample(spots, rnd.randint(1, len(spots))):
            qty = _on_grid(D(rnd.uniform(0.01, 0.05)) * 10_000 / INDICES[inst.base], inst.lot_size)
            side = rnd.choice(("buy", "buy", "sell"))
            state.apply(make_fill(name, inst, side, qty, reference(inst), None), catalogue)
        for inst in rnd.sample(options, rnd.randint(1, 4)):
            side = "sell" if rnd.random() < 0.3 else "buy"
            qty = _on_grid(D(rnd.uniform(0.05, 0.5)), inst.lot_size)
            state.apply(make_fill(name, inst, side, qty, reference(inst), None), catalogue)
        accounts[name] = state.to_json()

    resting: dict[str, list[tuple[str, str]]] = {n: [] for n in names}  # (coid, symbol)
    held: dict[str, dict[str, Decimal]] = {n: {} for n in names}  # symbol -> signed qty
    for name, record in accounts.items():
        held[name] = {s: D(p[0]) for s, p in record["positions"].items()}
    requests: list[tuple[str, Any, bytes, Fill | OrderReleased | None, int]] = []
    for i in range(n_requests):
        name = rnd.choice(names)
        now_ms = NOW_MS + i  # 1000 requests per second of broker time across all accounts
        x = rnd.random()
        activity: Fill | OrderReleased | None = None
        request: Any
        if x < 0.80 or not resting[name]:
            inst = rnd.choice(options) if rnd.random() < 0.33 else rnd.choice(spots)
            ref = reference(inst)
            side = rnd.choice(("buy", "sell"))
            position = held[name].get(inst.instrument_id, D(0))
            reduce_only = x >= 0.75 and position != 0
            if reduce_only:
                side = "sell" if position > 0 else "buy"
                qty = _on_grid(abs(position) / 2, inst.lot_size)
            elif inst.is_option:
                qty = _on_grid(D(rnd.uniform(0.01, 0.3)), inst.lot_size)
            else:
                qty = _on_grid(D(rnd.uniform(0.001, 0.02)) * 10_000 / INDICES[inst.base],
                               inst.lot_size)
            market = 0.65 <= x < 0.75
            band = D("0.5") if inst.is_option else D("0.1")
            offset = D(rnd.uniform(-0.8, 0.8)) * band
            if rnd.random() < 0.02:
                offset = band * 3  # outside the band: rejected
            if rnd.random() < 0.02:
                qty *= 200  # more than the account holds: rejected
            price = None if market else _on_grid(ref * (1 + offset), inst.tick_size)
            coid = f"c{i}"
            request = SubmitOrder(
                command_id=f"cmd-{i}", ts_sent=NOW + timedelta(milliseconds=i), account=name,
                symbol=inst.instrument_id, client_order_id=coid, side=side,
                order_type="market" if market else "limit", qty=qty, price=price,
                time_in_force="IOC" if market else "GTC", reduce_only=reduce_only)
            if market or rnd.random() < 0.5:
                activity = make_fill(name, inst, side, qty, price or ref, coid)
                signed = qty if side == "buy" else -qty
                held[name][inst.instrument_id] = position + signed
            else:
                resting[name].append((coid, inst.instrument_id))
        elif x < 0.90:
            coid, symbol = resting[name][rnd.randrange(len(resting[name]))]
            request = AmendOrder(command_id=f"cmd-{i}", ts_sent=NOW, account=name,
                                 symbol=symbol, client_order_id=coid,
                                 new_qty=_on_grid(D(rnd.uniform(0.001, 0.01)) * 10_000
                                                  / INDICES[catalogue[symbol].base],
                                                  catalogue[symbol].lot_size))
        else:
            coid, symbol = resting[name].pop(rnd.randrange(len(resting[name])))
            request = CancelOrder(command_id=f"cmd-{i}", ts_sent=NOW, account=name,
                                  symbol=symbol, client_order_id=coid)
            activity = OrderReleased(event_id=f"release:{coid}", ts_event=NOW, account=name,
                                     symbol=symbol, order_id=coid, client_order_id=coid,
                                     reason="cancelled")
        requests.append((name, request, request.model_dump_json().encode(), activity, now_ms))
    return Workload(accounts, requests)


def fresh_states(workload: Workload) -> dict[str, AccountState]:
    return {n: AccountState.from_json(r) for n, r in workload.accounts.items()}


def run_checks(workload: Workload, catalogue: Catalogue, prices: Prices, limits: RiskLimits,
               fees: FeeSchedule, apply: bool) -> tuple[float, Counter[str]]:
    """CPU seconds of deciding (and applying) the whole stream, and the outcome mix."""
    states = fresh_states(workload)
    outcomes: Counter[str] = Counter()
    start = time.process_time()
    for name, request, _, activity, now_ms in workload.requests:
        state = states[name]
        decision = state.decide(request, now_ms=now_ms, now=NOW, catalogue=catalogue,
                                prices=prices, limits=limits, fees=fees)
        if apply and activity is not None and (decision.accepted
                                               or isinstance(activity, OrderReleased)):
            state.apply(activity, catalogue)
        outcomes[decision.code.name if decision.code else "accepted"] += 1
    return time.process_time() - start, outcomes


def run_decode(workload: Workload) -> float:
    decode = REQUESTS.decode
    start = time.process_time()
    for _, _, raw, _, _ in workload.requests:
        decode(raw)
    return time.process_time() - start


def best_of(repeats: int, fn: Callable[[], float]) -> float:
    return min(fn() for _ in range(repeats))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=40_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)

    catalogue = listings_at(NOW)  # what the venue lists at the benchmark's clock
    prices = Prices(catalogue)
    limits, fees = RiskLimits(), FeeSchedule()
    t0 = time.perf_counter()
    workload = build_workload(args.accounts, args.requests, args.seed, catalogue, prices, fees)
    built = time.perf_counter() - t0
    states = fresh_states(workload)
    positions = sum(len(s.positions) for s in states.values())
    shorts = sum(p.qty < 0 for s in states.values() for p in s.positions.values())
    kinds = Counter(type(r).__name__ for _, r, _, _, _ in workload.requests)
    n = len(workload.requests)
    print(f"StrikeFlow risk checks benchmark: {args.accounts} accounts, {positions} positions "
          f"({shorts} short), {n} requests, seed {args.seed}; python "
          f"{platform.python_version()} (built in {built:.1f}s)")
    print("  requests: " + ", ".join(f"{k} {v / n:.0%}" for k, v in kinds.most_common()))

    decode_s, decide_s, full_s = [], [], []
    outcomes: Counter[str] = Counter()
    for _ in range(args.repeats):  # interleaved, so noise spreads over all three
        decode_s.append(run_decode(workload))
        seconds, _ = run_checks(workload, catalogue, prices, limits, fees, apply=False)
        decide_s.append(seconds)
        seconds, outcomes = run_checks(workload, catalogue, prices, limits, fees, apply=True)
        full_s.append(seconds)
    print("  outcomes: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
    print()
    rows = [("baseline: decode with the orders.requests contract", min(decode_s)),
            ("AccountState.decide", min(decide_s)),
            ("AccountState.decide + apply of fills/releases", min(full_s))]
    print(f"  {'best of ' + str(args.repeats) + ' by CPU time':<52}{'per s':>12}{'us each':>10}")
    for name, seconds in rows:
        print(f"  {name:<52}{n / seconds:>12,.0f}{seconds / n * 1e6:>10.1f}")
    base = min(decode_s)
    print()
    print(f"  => risk checks (decide + apply) run at {base / min(full_s):.2f}x the decode rate; "
          f"decode + check together: {n / (base + min(full_s)):,.0f} requests/s per core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
