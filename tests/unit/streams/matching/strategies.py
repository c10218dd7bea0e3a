"""Hypothesis strategies: random but valid-looking command streams for one instrument.

Streams mix every order type and command on a narrow price band (so orders cross often),
three accounts (so self-trade prevention fires), repeated client order ids and repeated
commands (so idempotence is exercised), and short halts.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import strategies as st

from streams.matching import (
    AdvanceTime,
    AmendOrder,
    CancelOrder,
    HaltInstrument,
    MassCancel,
    OrderType,
    PostOnly,
    ResumeInstrument,
    Side,
    StpMode,
    SubmitOrder,
    TimeInForce,
    TriggerSource,
    UpdateMark,
)
from tests.unit.streams.matching.harness import IID

ACCOUNTS = ("A", "B", "C")
sides = st.sampled_from((Side.BUY, Side.SELL))
prices = st.integers(97, 103)
qtys = st.integers(1, 12)
accounts = st.sampled_from(ACCOUNTS)

limit_action = st.tuples(
    st.just("limit"), sides, prices, qtys, accounts,
    st.sampled_from((TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK,
                     TimeInForce.GTD)),
    st.sampled_from((PostOnly.NONE, PostOnly.NONE, PostOnly.NONE, PostOnly.REJECT,
                     PostOnly.REPRICE)),
    st.one_of(st.none(), st.none(), st.integers(1, 4)),
    st.sampled_from(tuple(StpMode)),
)  # fmt: skip
market_action = st.tuples(
    st.just("market"), sides, qtys, accounts, st.one_of(st.none(), prices),
    st.sampled_from((TimeInForce.IOC, TimeInForce.FOK)), st.sampled_from(tuple(StpMode)),
)  # fmt: skip
stop_action = st.tuples(
    st.just("stop"),
    sides,
    qtys,
    accounts,
    prices,
    st.one_of(st.none(), prices),
    st.sampled_from(tuple(TriggerSource)),
)
trailing_action = st.tuples(st.just("trailing"), sides, qtys, accounts, st.integers(1, 4))
ref = st.integers(0, 10_000)
cancel_action = st.tuples(st.just("cancel"), ref)
amend_action = st.tuples(
    st.just("amend"), ref, st.one_of(st.none(), prices), st.one_of(st.none(), qtys)
)
rare_action = st.one_of(
    st.tuples(st.just("mass"), st.one_of(st.none(), accounts), st.one_of(st.none(), sides)),
    st.tuples(st.just("mark"), prices),
    st.tuples(st.just("time"), st.integers(1, 20)),
    st.tuples(st.just("dup"), ref),
    st.tuples(st.just("repeat"), ref),
    st.tuples(st.just("halt")),
)
# one_of picks branches about evenly: repeat the common ones to weight the mix
any_action = st.one_of(
    limit_action, limit_action, limit_action, limit_action, limit_action, limit_action,
    market_action, stop_action, stop_action, trailing_action, cancel_action, cancel_action,
    amend_action, amend_action, rare_action, st.tuples(st.just("mark"), prices),
    st.tuples(st.just("time"), st.integers(1, 20)),
)  # fmt: skip


def build_commands(actions: list[tuple], *, with_controls: bool = True) -> list[Any]:
    """Turn drawn actions into commands (deterministically: ids from the position)."""
    commands: list[Any] = []
    submitted: list[tuple[str, str]] = []
    ts = 0
    resume_at = -1
    for i, action in enumerate(actions):
        if i == resume_at and with_controls:  # halts are short: resume three actions later
            commands.append(ResumeInstrument(command_id=f"r{i}", instrument_id=IID, ts=ts))
        kind = action[0]
        cid = f"c{i}"
        if kind == "limit":
            _, side, price, qty, account, tif, post_only, display, stp = action
            if display is not None:
                display = min(display, qty)
            expire = ts + 15 if tif is TimeInForce.GTD else None
            command = SubmitOrder(
                command_id=cid, instrument_id=IID, account_id=account, client_order_id=f"o{i}",
                side=side, qty=qty, price=price, time_in_force=tif, expire_ts=expire,
                post_only=post_only if tif in (TimeInForce.GTC, TimeInForce.GTD) else PostOnly.NONE,
                display_qty=display if tif in (TimeInForce.GTC, TimeInForce.GTD) else None,
                stp=stp, ts=ts,
            )  # fmt: skip
        elif kind == "market":
            _, side, qty, account, protection, tif, stp = action
            command = SubmitOrder(
                command_id=cid, instrument_id=IID, account_id=account, client_order_id=f"o{i}",
                side=side, qty=qty, order_type=OrderType.MARKET, protection_price=protection,
                time_in_force=tif, stp=stp, ts=ts,
            )  # fmt: skip
        elif kind == "stop":
            _, side, qty, account, stop, limit, trigger = action
            command = SubmitOrder(
                command_id=cid, instrument_id=IID, account_id=account, client_order_id=f"o{i}",
                side=side, qty=qty, price=limit, stop_price=stop, trigger=trigger,
                order_type=OrderType.STOP_MARKET if limit is None else OrderType.STOP_LIMIT,
                ts=ts,
            )  # fmt: skip
        elif kind == "trailing":
            _, side, qty, account, offset = action
            command = SubmitOrder(
                command_id=cid, instrument_id=IID, account_id=account, client_order_id=f"o{i}",
                side=side, qty=qty, order_type=OrderType.TRAILING_STOP, trailing_offset=offset,
                ts=ts,
            )  # fmt: skip
        elif kind in ("cancel", "amend", "dup"):
            if not submitted:
                continue
            # mostly recent orders, which are more often still live
            pool = submitted[-10:] if action[1] % 4 else submitted
            account, coid = pool[action[1] % len(pool)]
            if kind == "cancel":
                command = CancelOrder(command_id=cid, instrument_id=IID, account_id=account,
                                      client_order_id=coid, ts=ts)  # fmt: skip
            elif kind == "amend":
                command = AmendOrder(
                    command_id=cid, instrument_id=IID, account_id=account, client_order_id=coid,
                    price=action[2], qty=action[3], ts=ts,
                )  # fmt: skip
            else:
                command = SubmitOrder(
                    command_id=cid, instrument_id=IID, account_id=account, client_order_id=coid,
                    side=Side.BUY, qty=1, price=97, ts=ts,
                )  # fmt: skip
        elif kind == "repeat":
            if not commands:
                continue
            command = commands[action[1] % len(commands)]
        elif kind == "mass":
            command = MassCancel(command_id=cid, instrument_id=IID, account_id=action[1],
                                 side=action[2], ts=ts)  # fmt: skip
        elif kind == "mark":
            command = UpdateMark(command_id=cid, instrument_id=IID, mark_price=action[1], ts=ts)
        elif kind == "time":
            ts += action[1]
            command = AdvanceTime(command_id=cid, instrument_id=IID, ts=ts)
        elif not with_controls:
            continue
        else:
            command = HaltInstrument(command_id=cid, instrument_id=IID, ts=ts)
            resume_at = i + 3
        if isinstance(command, SubmitOrder) and kind != "dup":
            submitted.append((command.account_id, command.client_order_id))
        commands.append(command)
    return commands


def random_actions(seed: int, n: int = 120) -> list[tuple]:
    """A dense, varied action list from a seed: Hypothesis' structured lists shrink well but
    are often monotonous, so half of the examples come from here (rich, reproducible)."""
    rnd = random.Random(seed)
    side = lambda: rnd.choice((Side.BUY, Side.SELL))  # noqa: E731
    price = lambda: rnd.randint(97, 103)  # noqa: E731
    qty = lambda: rnd.randint(1, 12)  # noqa: E731
    account = lambda: rnd.choice(ACCOUNTS)  # noqa: E731
    maybe = lambda value: value if rnd.random() < 0.5 else None  # noqa: E731
    actions: list[tuple] = []
    for _ in range(n):
        x = rnd.random()
        if x < 0.45:
            tif = rnd.choice(
                (TimeInForce.GTC,) * 3 + (TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTD)
            )
            post_only = rnd.choice((PostOnly.NONE,) * 4 + (PostOnly.REJECT, PostOnly.REPRICE))
            display = rnd.randint(1, 4) if rnd.random() < 0.2 else None
            actions.append(
                (
                    "limit",
                    side(),
                    price(),
                    qty(),
                    account(),
                    tif,
                    post_only,
                    display,
                    rnd.choice(tuple(StpMode)),
                )
            )
        elif x < 0.52:
            actions.append(
                (
                    "market",
                    side(),
                    qty(),
                    account(),
                    maybe(price()),
                    rnd.choice((TimeInForce.IOC, TimeInForce.FOK)),
                    rnd.choice(tuple(StpMode)),
                )
            )
        elif x < 0.60:
            actions.append(
                (
                    "stop",
                    side(),
                    qty(),
                    account(),
                    price(),
                    maybe(price()),
                    rnd.choice(tuple(TriggerSource)),
                )
            )
        elif x < 0.63:
            actions.append(("trailing", side(), qty(), account(), rnd.randint(1, 4)))
        elif x < 0.75:
            actions.append(("cancel", rnd.randrange(10_000)))
        elif x < 0.83:
            if rnd.random() < 0.5:  # mostly a decrease: the priority-keeping case
                actions.append(("amend", rnd.randrange(10_000), None, rnd.randint(1, 6)))
            else:
                actions.append(("amend", rnd.randrange(10_000), maybe(price()), maybe(qty())))
        elif x < 0.88:
            actions.append(("mark", price()))
        elif x < 0.93:
            actions.append(("time", rnd.randint(1, 20)))
        elif x < 0.95:
            actions.append(("dup", rnd.randrange(10_000)))
        elif x < 0.97:
            actions.append(("repeat", rnd.randrange(10_000)))
        elif x < 0.99:
            actions.append(("mass", maybe(account()), maybe(side())))
        else:
            actions.append(("halt",))
    return actions  # fmt: skip


structured_streams = st.lists(any_action, min_size=30, max_size=90).map(build_commands)
seeded_streams = st.integers(0, 2**32 - 1).map(lambda seed: build_commands(random_actions(seed)))
command_streams = st.one_of(structured_streams, seeded_streams)
