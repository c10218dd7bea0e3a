"""A save of an account's parts is atomic to whoever restores from the changelog, and a
restarted worker brings the changelog up to its own store.

The fault drill found it: a worker SIGKILLed while a save's parts were on their way to Kafka
left the changelog with the first parts only; the replayed batch was already done in the
worker's own store and wrote nothing, so the changelog kept open orders the engine had
finished ("risk holds 11 open orders, the engine 8"). Here a store is a dict, a save is
:meth:`AccountState.store_writes`, and a kill keeps any prefix of them. A small ring
(``RING`` patched to 4: a checkpoint every 3 saves) puts checkpoints, and kills inside them,
within reach of a few batches.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.risk import AccountState, records
from streams.risk.records import (
    CORE,
    ORDER_BUCKETS,
    RING,
    delta_part,
    orders_part,
    split_key,
    write_save,
)
from tests.unit.streams.risk.risk_support import decide, deposit, fill, release, submit

Store = dict[str, Any]


def _write(store: Store, writes: list[tuple[str, Any]]) -> None:
    for part, value in writes:
        if value is None:
            store.pop(part, None)
        else:
            store[part] = value


def _snapshot(state: AccountState) -> tuple[Any, ...]:
    return (state.cash, sorted(state.open_orders), dict(state.decisions.values),
            sorted(state.applied.values), state.seq)


def _step(state: AccountState, n: int, op: int) -> None:
    """One request or activity: orders placed, filled, cancelled."""
    coid = f"o{n % 7}"
    if op == 0 or coid not in state.open_orders:
        decide(state, submit(qty="0.01", price="100000", coid=coid, account=state.account))
    elif op == 1:
        fill(state, "BTC-USDT", "buy", "0.01", "100000", coid=coid)
    else:
        release(state, coid)


def _batches(min_size: int, max_size: int) -> st.SearchStrategy[list[list[int]]]:
    """Batches of :func:`_step` operations."""
    return st.lists(st.lists(st.integers(0, 2), min_size=1, max_size=4), min_size=min_size,
                    max_size=max_size)


def _funded() -> AccountState:
    state = AccountState("acc-1")
    deposit(state, "1000000")
    return state


def _play(state: AccountState, batch: list[int], n: int) -> int:
    """Apply one batch; the number of operations so far."""
    for op in batch:
        n += 1
        _step(state, n, op)
    return n


def _small_ring() -> Any:
    return mock.patch.object(records, "RING", 4)


@settings(max_examples=120, deadline=None)
@given(ops=_batches(1, 14), cut=st.integers(0, 400), small=st.booleans())
def test_a_save_cut_anywhere_reads_back_as_the_batch_before_or_the_batch_after(
        ops: list[list[int]], cut: int, small: bool) -> None:
    with _small_ring() if small else mock.patch.object(records, "RING", RING):
        state = _funded()
        store: Store = {}
        _write(store, state.store_writes())
        n = 0
        for batch in ops:
            before = _snapshot(state)
            n = _play(state, batch, n)
            after = _snapshot(state)
            writes = state.store_writes()
            torn = dict(store)
            _write(torn, writes[:cut % (len(writes) + 1)])
            read = AccountState.load("acc-1", torn.get)
            assert read is not None
            assert _snapshot(read) in (before, after)
            if cut % (len(writes) + 1) > 0:  # the ring record landed: the whole batch did
                assert _snapshot(read) == after
            _write(store, writes)
            again = AccountState.load("acc-1", store.get)
            assert again is not None and _snapshot(again) == after


def test_a_save_is_one_write_and_every_few_saves_a_checkpoint_follows_it() -> None:
    state = AccountState("acc-1")
    deposit(state, "1000")
    assert decide(state, submit(qty="0.001", price="100000", coid="x")).accepted
    writes = state.store_writes()
    assert writes == [(delta_part(1), {"w": 1, "parts": writes[0][1]["parts"]})]
    assert {CORE, orders_part(records.order_bucket("x"))} <= set(writes[0][1]["parts"])
    for _ in range(RING - 3):
        assert len(state.store_writes()) == 1
    checkpoint = state.store_writes()  # save RING - 1: the ring record, then the checkpoint
    assert checkpoint[0][0] == delta_part(RING - 1) and checkpoint[-1][0] == CORE
    assert checkpoint[-1][1]["w"] == RING - 1
    assert orders_part(records.order_bucket("x")) in dict(checkpoint)  # changed since
    assert len(state.store_writes()) == 1


@settings(max_examples=60, deadline=None)
@given(ops=_batches(1, 30))
def test_a_loaded_account_continues_its_ring_where_the_store_left_it(
        ops: list[list[int]]) -> None:
    """A process that loads an account without rewriting it (a tool, a test) must not
    checkpoint too early or too late: its saves keep reading back right."""
    with _small_ring():
        state = _funded()
        store: Store = {}
        _write(store, state.store_writes())
        n = 0
        for batch in ops:
            n = _play(state, batch, n)
            _write(store, state.store_writes())
            loaded = AccountState.load("acc-1", store.get)
            assert loaded is not None
            state = loaded
        assert _snapshot(AccountState.load("acc-1", store.get)) == _snapshot(state)  # type: ignore[arg-type]


def test_a_restarted_worker_writes_the_account_out_whole_once() -> None:
    state = AccountState("acc-1")
    deposit(state, "1000000")
    for n in range(5):
        assert decide(state, submit(qty="0.01", price="100000", coid=f"o{n}")).accepted
    store: Store = {}
    _write(store, state.store_writes())
    release(state, "o1")
    lost = state.store_writes()  # the kill: none of it reached the changelog
    local = dict(store)
    _write(local, lost)  # ... but the worker's own store has it (write-ahead log)
    again = AccountState.load("acc-1", local.get)
    assert again is not None
    again.rewrite_all = True  # what the agent sets on an account it loads
    release(again, "o1")  # the replayed release: applied before, nothing changes
    whole = dict(again.store_writes())
    assert {orders_part(b) for b in range(ORDER_BUCKETS)} <= set(whole)
    assert whole[delta_part(again.writes % RING)]["full"]
    _write(store, list(whole.items()))
    healed = AccountState.load("acc-1", store.get)
    assert healed is not None and "o1" not in healed.open_orders
    assert _snapshot(healed) == _snapshot(again)
    assert len(again.store_writes()) == 1  # once only: then saves are small again


def test_a_full_save_cut_anywhere_reads_back_whole_and_drops_a_lost_lineage() -> None:
    """The changelog lost saves the worker's own store kept; another worker restored from
    the changelog and writes the account out in full. Wherever that is cut, once its ring
    record landed the account reads as the full save, and when it completes no record of
    the lost saves is left to be replayed."""
    state = _funded()
    changelog: Store = {}
    _write(changelog, state.store_writes())
    n = _play(state, [0, 0, 0], 0)
    _write(changelog, state.store_writes())
    lost_lineage = dict(changelog)
    for batch in ([0, 1], [2, 0]):  # two saves that never reached the changelog
        n = _play(state, batch, n)
        _write(lost_lineage, state.store_writes())
    other = AccountState.load("acc-1", changelog.get)
    assert other is not None
    expected = _snapshot(other)
    other.rewrite_all = True
    writes = other.store_writes()
    for cut in range(1, len(writes) + 1):
        torn = dict(changelog)
        _write(torn, writes[:cut])
        read = AccountState.load("acc-1", torn.get)
        assert read is not None and _snapshot(read) == expected
    _write(lost_lineage, writes)  # the first worker's store, after it restores the changelog
    read = AccountState.load("acc-1", lost_lineage.get)
    assert read is not None and _snapshot(read) == expected


class FaustLikeTable(MutableMapping[bytes, Any]):
    """Faust's table as a save sees it: a write reaches the worker's own store and the
    changelog; ``__delitem__`` sends a tombstone whether or not the store holds the key,
    while ``MutableMapping.pop`` of a key the store lacks sends nothing (it looks first).
    ``reaching`` is the kill: only that many more writes reach the changelog, all of them
    the store (its write-ahead log survives the process)."""

    def __init__(self) -> None:
        self.local: dict[bytes, Any] = {}
        self.changelog: dict[bytes, Any] = {}  # compacted: the last value of each key
        self.reaching: int | None = None

    def _sent(self) -> bool:
        if self.reaching is None:
            return True
        self.reaching -= 1
        return self.reaching >= 0

    def __getitem__(self, key: bytes) -> Any:
        return self.local[key]

    def __setitem__(self, key: bytes, value: Any) -> None:
        if self._sent():
            self.changelog[key] = value
        self.local[key] = value

    def __delitem__(self, key: bytes) -> None:
        if self._sent():
            self.changelog.pop(key, None)
        self.local.pop(key, None)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.local)

    def __len__(self) -> int:
        return len(self.local)


def _read(stored: dict[bytes, Any], account: str = "acc-1") -> AccountState:
    parts = {split_key(k)[1]: v for k, v in stored.items() if split_key(k)[0] == account}
    state = AccountState.load(account, parts.get)
    assert state is not None
    return state


@settings(max_examples=150, deadline=None)
@given(ops=_batches(2, 12), kept=st.integers(0, 7), small=st.booleans())
def test_after_a_kill_and_a_restart_the_changelog_reads_as_the_store(
        ops: list[list[int]], kept: int, small: bool) -> None:
    """The drill's second find: a save the kill kept from the changelog emptied an order
    bucket; the restarted worker's store had no such key, so deleting it with ``pop`` sent
    no tombstone and the changelog kept the bucket's finished orders for good. The last
    batch is the one killed: its first ``kept`` writes reach the changelog."""
    with _small_ring() if small else mock.patch.object(records, "RING", RING):
        _kill_and_restart(ops, kept)


def _kill_and_restart(ops: list[list[int]], kept: int) -> None:
    table = FaustLikeTable()
    state = _funded()
    n = 0
    for i, batch in enumerate(ops):
        n = _play(state, batch, n)
        table.reaching = kept if i == len(ops) - 1 else None
        write_save(table, "acc-1", state.store_writes())
    table.reaching = None
    restarted = _read(table.local)  # a new process loads from its own store
    assert _snapshot(restarted) == _snapshot(state)
    restarted.rewrite_all = True  # the agent's load; the replayed batch changes nothing
    write_save(table, "acc-1", restarted.store_writes())
    assert _snapshot(_read(table.changelog)) == _snapshot(state)
