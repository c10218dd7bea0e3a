"""The WebSocket fan-out: snapshots first, resume from a sequence, slow clients resynced."""

from __future__ import annotations

from typing import Any

from gateway.feed import Client, Hub


def drain(client: Client) -> list[dict[str, Any]]:
    out = []
    while not client.queue.empty():
        out.append(client.queue.get_nowait())
    return out


def test_a_subscriber_gets_the_snapshot_then_numbered_updates() -> None:
    hub = Hub()
    state = {"bids": [["100", "1"]]}
    hub.channel("book.X", lambda: state)
    hub.publish("book.X", {"bids": [["100", "1"]]})
    client = Client(10)
    hub.subscribe(client, "book.X")
    hub.publish("book.X", {"bids": [["101", "2"]]})
    first, second = drain(client)
    assert (first["type"], first["seq"], first["data"]) == ("snapshot", 1, state)
    assert (second["type"], second["seq"]) == ("update", 2)


def test_a_reconnecting_client_resumes_from_its_last_sequence() -> None:
    hub = Hub()
    hub.channel("trades.X", ring_size=5)
    for n in range(10):
        hub.publish("trades.X", {"n": n})
    client = Client(20)
    hub.subscribe(client, "trades.X", since=7)
    assert [m["data"]["n"] for m in drain(client)] == [7, 8, 9]  # seqs 8..10
    too_old = Client(20)
    hub.subscribe(too_old, "trades.X", since=2)  # the ring starts at seq 6: a snapshot
    (snap,) = drain(too_old)
    assert snap["type"] == "snapshot" and [d["n"] for d in snap["data"]] == [5, 6, 7, 8, 9]


def test_a_slow_client_is_resynced_and_never_holds_back_the_others() -> None:
    hub = Hub()
    count = {"n": 0}
    hub.channel("ticker.X", lambda: dict(count))
    slow, fast = Client(4), Client(1000)
    hub.subscribe(slow, "ticker.X")
    hub.subscribe(fast, "ticker.X")
    for n in range(1, 101):
        count["n"] = n
        hub.publish("ticker.X", {"n": n})
    got_fast = [m for m in drain(fast) if m["type"] == "update"]
    assert [m["data"]["n"] for m in got_fast] == list(range(1, 101))
    got_slow = drain(slow)
    assert slow.resyncs > 0 and slow.dropped > 0
    assert any(m.get("type") == "resync" for m in got_slow)
    # whatever it kept ends at the current state, by snapshot or update
    last = got_slow[-1]
    assert last["data"] == {"n": 100} or last["data"]["n"] == 100


def test_private_channels_are_shown_under_the_name_the_client_used() -> None:
    hub = Hub()
    client = Client(10)
    hub.subscribe(client, "orders:acc-a", shown="orders")
    hub.publish("orders:acc-a", {"client_order_id": "c1"})
    hub.publish("orders:acc-b", {"client_order_id": "other"})
    msgs = drain(client)
    assert {m["channel"] for m in msgs} == {"orders"}
    assert [m["data"] for m in msgs if m["type"] == "update"] == [{"client_order_id": "c1"}]
    hub.unsubscribe(client)
    hub.publish("orders:acc-a", {"client_order_id": "c2"})
    assert drain(client) == []


def test_a_channel_subscribed_before_its_first_update_still_gets_snapshots() -> None:
    hub = Hub()
    early = Client(10)
    hub.subscribe(early, "book.X")  # nothing published yet: no state known
    state = {"bids": [["1", "1"]]}
    hub.channel("book.X", lambda: state)  # the view creates it with its snapshot
    hub.publish("book.X", {"delta": 1})
    late = Client(10)
    hub.subscribe(late, "book.X")
    assert late.queue.get_nowait()["data"] == state


def test_a_client_ahead_of_a_restarted_gateway_gets_a_snapshot() -> None:
    hub = Hub()
    hub.channel("trades.X")
    hub.publish("trades.X", {"n": 1})
    client = Client(10)
    hub.subscribe(client, "trades.X", since=500)  # seen before the restart
    (msg,) = drain(client)
    assert msg["type"] == "snapshot" and msg["data"] == [{"n": 1}]
