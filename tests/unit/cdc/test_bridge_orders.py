"""Each (order, status) is emitted once, whatever order and how often changes arrive."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cdc.bridge.envelope import Change, decode
from cdc.bridge.orders import STATUS_RANK, Verdict, apply_order_change

from .debezium import envelope, key, order_row

TOPIC = "cdc.public.orders"


def _change(status: str = "open", op: str = "c", lsn: int | None = 100, **kw: Any) -> Change:
    got = decode(TOPIC, key(), envelope(order_row(status=status), op=op, lsn=lsn, **kw))
    assert isinstance(got, Change)
    return got


def _snapshot(status: str = "open") -> Change:
    return _change(status, op="r", lsn=50, snapshot="true")


def _reread(status: str = "open") -> Change:
    return _change(status, op="r", lsn=None, tx=None, snapshot="reconcile",
                   connector="strikeflow-reconcile")


def test_first_sight_emits_an_exact_event_with_a_deterministic_id() -> None:
    result = apply_order_change(None, _change())
    assert result.verdict is Verdict.APPLIED and result.event is not None
    ev = result.event
    assert ev.event_id == "option-order:2e23e630-69d7-4834-8c23-ef6a0b3a1a3c:open"
    assert ev.total == Decimal("103.249021") and str(ev.contracts) == "2"
    assert ev.source == "stream" and ev.source_lsn == 100
    assert ev.causation_id == "acc-1:c1"
    assert result.state == {"v": 1, "lsn": 100, "tx": 745, "status": "open"}


def test_a_replayed_streamed_change_is_a_duplicate() -> None:
    state = apply_order_change(None, _change()).state
    again = apply_order_change(state, _change())
    assert again.verdict is Verdict.DUPLICATE and again.event is None


def test_updates_move_forward_and_emit_each_status() -> None:
    state = apply_order_change(None, _change("open", lsn=100)).state
    settling = apply_order_change(state, _change("settling", op="u", lsn=200))
    assert settling.verdict is Verdict.APPLIED and settling.event is not None
    assert settling.event.event_id.endswith(":settling")
    older = apply_order_change(settling.state, _change("open", op="u", lsn=150))
    assert older.verdict is Verdict.DUPLICATE


def test_a_reconcile_reread_then_debeziums_copy_emits_once() -> None:
    first = apply_order_change(None, _reread())
    assert first.event is not None and first.event.source == "reconcile"
    assert first.event.source_lsn is None
    late = apply_order_change(first.state, _change())
    assert late.verdict is Verdict.ALREADY_APPLIED and late.event is None
    assert late.state["lsn"] == 100  # the stream's position is recorded from now on


def test_a_snapshot_after_the_stream_is_already_applied_and_keeps_the_lsn() -> None:
    state = apply_order_change(None, _change(lsn=100)).state
    snap = apply_order_change(state, _snapshot())
    assert snap.verdict is Verdict.ALREADY_APPLIED and snap.state["lsn"] == 100


def test_a_stale_status_is_never_emitted_after_a_later_one() -> None:
    state = apply_order_change(None, _reread("settled")).state
    stale = apply_order_change(state, _change("open", lsn=100))
    assert stale.verdict is Verdict.STALE and stale.event is None


@settings(max_examples=200, deadline=None)
@given(lifecycle=st.sampled_from([["open"], ["open", "settling"],
                                  ["open", "settling", "settled"], ["open", "cancelled"]]),
       plan=st.lists(st.tuples(st.sampled_from(["stream", "replay", "reread", "snapshot"]),
                               st.integers(0, 2)), max_size=12),
       data=st.data())
def test_any_mix_of_replays_rereads_and_snapshots_emits_each_status_at_most_once_in_order(
        lifecycle: list[str], plan: list[tuple[str, int]], data: Any) -> None:
    """The stream delivers the lifecycle in order (with LSNs); replays, rereads of the status
    current at some point, and snapshots interleave anywhere. Emitted statuses are unique and
    only move forward, and the final status is always emitted."""
    changes: list[Change] = []
    streamed: list[Change] = []
    for i, status in enumerate(lifecycle):
        c = _change(status, op="c" if i == 0 else "u", lsn=100 * (i + 1))
        streamed.append(c)
        changes.append(c)
    for kind, idx in plan:
        status = lifecycle[min(idx, len(lifecycle) - 1)]
        pos = data.draw(st.integers(0, len(changes)))
        extra = {"stream": lambda s=status, i=idx: streamed[min(i, len(streamed) - 1)],
                 "replay": lambda s=status, i=idx: streamed[min(i, len(streamed) - 1)],
                 "reread": lambda s=status, i=idx: _reread(s),
                 "snapshot": lambda s=status, i=idx: _snapshot(s)}[kind]()
        changes.insert(pos, extra)
    state: dict[str, Any] | None = None
    emitted: list[str] = []
    for change in changes:
        result = apply_order_change(state, change)
        state = result.state if result.verdict is not Verdict.DUPLICATE else state
        if result.event is not None:
            emitted.append(result.event.status)
    assert len(emitted) == len(set(emitted))
    ranks = [STATUS_RANK[s] for s in emitted]
    assert ranks == sorted(ranks)
    assert emitted[-1] == lifecycle[-1] or STATUS_RANK[emitted[-1]] >= STATUS_RANK[lifecycle[-1]]
