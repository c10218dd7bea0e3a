"""The WebSocket fan-out: channels with sequence numbers, snapshots, and slow clients.

A channel (``book.BTC-USDT``, ``trades.BTC-USDT``, ``orders:acc-a`` …) numbers every update it
publishes and keeps the last ``ring`` of them. A client subscribing with ``since`` (the last
sequence it saw, after a reconnect) gets what it missed from the ring, or a snapshot when the
ring no longer reaches back; otherwise it gets the snapshot (or the recent history) first.

Each client has a bounded queue. Publishing never waits: when a client's queue is full, its
queue is emptied and every channel it follows is re-sent as a snapshot (``resync``) — the slow
client catches up from the current state, and nobody else is held back. Pure asyncio: no
Kafka, no web framework (only the resync counter of :mod:`infra.metrics`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.metrics import GATEWAY_WS_RESYNCS

__all__ = ["Channel", "Client", "Hub"]

Snapshot = Callable[[], Any]


@dataclass
class Channel:
    name: str
    snapshot: Snapshot | None = None  # current state; None: the channel replays its ring
    ring_size: int = 500
    seq: int = 0
    ring: deque[tuple[int, Any]] = field(default_factory=deque)
    clients: set[Client] = field(default_factory=set)

    def append(self, data: Any) -> int:
        self.seq += 1
        self.ring.append((self.seq, data))
        while len(self.ring) > self.ring_size:
            self.ring.popleft()
        return self.seq

    def since(self, seq: int) -> list[tuple[int, Any]] | None:
        """The updates after ``seq``, or None when the ring no longer reaches back — or when
        ``seq`` is ahead of the channel (this gateway restarted and numbers from 0 again)."""
        if seq == self.seq:
            return []
        if seq > self.seq:
            return None
        if not self.ring or self.ring[0][0] > seq + 1:
            return None
        return [(s, d) for s, d in self.ring if s > seq]

    def first_messages(self) -> list[dict[str, Any]]:
        if self.snapshot is not None:
            return [{"channel": self.name, "type": "snapshot", "seq": self.seq,
                     "data": self.snapshot()}]
        return [{"channel": self.name, "type": "snapshot", "seq": self.seq,
                 "data": [d for _, d in self.ring]}]


class Client:
    """One WebSocket connection's outbox. ``account`` is set once it authenticated."""

    def __init__(self, max_queue: int, account: str | None = None) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(max_queue)
        self.account = account
        self.channels: dict[str, str] = {}  # internal channel name -> name the client used
        self.resyncs = 0
        self.dropped = 0

    def offer(self, message: dict[str, Any]) -> bool:
        try:
            self.queue.put_nowait(message)
            return True
        except asyncio.QueueFull:
            return False


class Hub:
    def __init__(self) -> None:
        self.channels: dict[str, Channel] = {}

    def channel(self, name: str, snapshot: Snapshot | None = None,
                ring_size: int = 500) -> Channel:
        chan = self.channels.get(name)
        if chan is None:
            chan = self.channels[name] = Channel(name, snapshot, ring_size)
        elif snapshot is not None and chan.snapshot is None:
            # a client subscribed before the first update made the channel: now it has state
            chan.snapshot, chan.ring_size = snapshot, ring_size
        return chan

    def publish(self, name: str, data: Any) -> int:
        """Number ``data`` on channel ``name`` and offer it to every subscriber."""
        chan = self.channel(name)
        seq = chan.append(data)
        for client in list(chan.clients):
            shown = client.channels.get(name, name)
            if not client.offer({"channel": shown, "type": "update", "seq": seq, "data": data}):
                self.resync(client)
        return seq

    def subscribe(self, client: Client, name: str, shown: str | None = None,
                  since: int | None = None) -> None:
        chan = self.channel(name)
        chan.clients.add(client)
        client.channels[name] = shown or name
        if since is not None and (missed := chan.since(since)) is not None:
            messages = [{"channel": shown or name, "type": "update", "seq": s, "data": d}
                        for s, d in missed]
        else:
            messages = [m | {"channel": shown or name} for m in chan.first_messages()]
        for message in messages:
            if not client.offer(message):
                self.resync(client)
                return

    def unsubscribe(self, client: Client, name: str | None = None) -> None:
        names = [name] if name else list(client.channels)
        for n in names:
            chan = self.channels.get(n)
            if chan is not None:
                chan.clients.discard(client)
            client.channels.pop(n, None)

    def resync(self, client: Client) -> None:
        """Empty a slow client's queue and give it each channel's current state."""
        client.resyncs += 1
        GATEWAY_WS_RESYNCS.inc()
        while not client.queue.empty():
            client.queue.get_nowait()
            client.dropped += 1
        client.offer({"type": "resync", "reason": "slow consumer: updates dropped, "
                      "snapshots follow"})
        for name, shown in client.channels.items():
            for message in self.channels[name].first_messages():
                if not client.offer(message | {"channel": shown}):
                    return  # still too small: the next publish tries again
