"""The stored parts of an account: whatever happened and whenever it was saved, the account
read back from the parts is the account in memory, and answers the next request the same."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.risk import AccountState, RiskLimits
from streams.risk.records import Remembered, split_key, store_key
from tests.unit.streams.risk.risk_support import decide, deposit, fill, release, submit

LIMITS = RiskLimits(max_open_orders=50, orders_per_second=1e6, order_burst=10**6)
# (kind, order number, flag): submit / fill part / fill all / cancel / save
steps = st.lists(st.tuples(st.sampled_from(["submit", "fill", "cancel", "save"]),
                           st.integers(0, 30), st.booleans()), max_size=120)


class Store(dict[str, Any]):
    def save(self, state: AccountState) -> None:
        for part, value in state.changes().items():
            if value is None:
                self.pop(part, None)
            else:
                self[part] = json.loads(json.dumps(value))


@settings(max_examples=60, deadline=None)
@given(steps)
def test_parts_saved_at_any_points_read_back_to_the_same_account(script: list[Any]) -> None:
    state = AccountState("acc-1")
    deposit(state, "100000")
    store = Store()
    for kind, n, flag in script:
        coid = f"o{n}"
        if kind == "submit":
            decide(state, submit(qty="0.002", price="100000", coid=coid,
                                 side="buy" if flag else "sell"), limits=LIMITS)
        elif kind == "fill" and coid in state.open_orders:
            held = state.open_orders[coid]
            fill(state, "BTC-USDT", held.side, "0.001" if flag else str(held.qty_left),
                 "100000", coid=coid, maker=True)
        elif kind == "cancel" and coid in state.open_orders:
            release(state, coid)
        elif kind == "save":
            store.save(state)
    store.save(state)
    restored = AccountState.load("acc-1", store.get)
    assert restored == state
    assert restored.reserved() == state.reserved()
    nxt = submit(qty="0.001", price="100000", coid="next")
    assert decide(restored, nxt, limits=LIMITS) == decide(state, nxt, limits=LIMITS)


@given(st.integers(0, 2000), st.integers(1, 20), st.integers(1, 10))
def test_remembered_keeps_the_last_ids_and_saves_only_what_changed(n: int, size: int,
                                                                   segments: int) -> None:
    kept = Remembered(size=size, segments=segments)
    saved: dict[int, Any] = {}

    def save() -> None:
        for seg, value in kept.changes().items():
            if value is None:
                saved.pop(seg, None)  # a segment may come and go between saves
            else:
                saved[seg] = value

    for i in range(n):
        kept.add(f"id{i}", i)
        if i % 7 == 0:
            save()
    save()
    assert len(kept) <= size * segments
    assert all(f"id{i}" in kept for i in range(max(0, n - size * (segments - 1)), n))
    assert len(saved) <= segments
    back = Remembered(size=size, segments=segments)
    back.load(kept.head, saved.get)
    assert back == kept


def test_store_keys_split_back_and_never_collide_with_an_account() -> None:
    assert split_key(store_key("acc-1", "")) == ("acc-1", "")
    assert split_key(store_key("acc-1", "o7")) == ("acc-1", "o7")
    assert store_key("acc-1", "o7") == b"acc-1/o7"
