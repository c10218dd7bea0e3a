"""Free loopback ports for private services (test clusters, benchmark brokers)."""

from __future__ import annotations

import socket

__all__ = ["free_port_block"]


def free_port_block(first: int = 29300, size: int = 6) -> int:
    """The first of ``size`` consecutive loopback ports, from ``first`` on, all free now."""
    for base in range(first, first + 1000, 10):
        try:
            for port in range(base, base + size):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free block of loopback ports")
