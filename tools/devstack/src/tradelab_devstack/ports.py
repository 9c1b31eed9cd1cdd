"""Small network helpers."""

import asyncio
import secrets
import socket
import time
from pathlib import Path

LOWEST_PORT = 15_000
"""Ports are chosen from here up to where the kernel's ephemeral range begins."""


def ephemeral_low() -> int:
    """The first port the kernel hands out to outgoing connections (Linux; 32768 elsewhere)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _bindable(ports: range) -> bool:
    sockets: list[socket.socket] = []
    try:
        for port in ports:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    finally:
        for sock in sockets:
            sock.close()
    return True


def free_port_range(count: int, attempts: int = 200) -> int:
    """Return a base port such that ``base .. base + count - 1`` are all free right now.

    Chosen below the ephemeral range: a port from it, free when chosen, can be taken by any
    outgoing connection (the stack's own Kafka and PostgreSQL clients open hundreds) before the
    server that was meant to listen on it binds, which CI saw as "address already in use".
    """
    high = ephemeral_low() - count
    for _ in range(attempts):
        base = secrets.choice(range(LOWEST_PORT, high)) if high > LOWEST_PORT else 0
        if base and _bindable(range(base, base + count)):
            return base
    msg = f"no {count} consecutive free ports found below the ephemeral range"
    raise RuntimeError(msg)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now (below the ephemeral
    range, see :func:`free_port_range`)."""
    return free_port_range(1)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Return whether something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, deadline_s: float) -> None:
    """Block until ``host:port`` accepts connections, or raise ``TimeoutError``."""
    end = time.monotonic() + deadline_s
    while not port_open(host, port):
        if time.monotonic() > end:
            msg = f"nothing listens on {host}:{port} after {deadline_s:.0f} s"
            raise TimeoutError(msg)
        time.sleep(0.05)


async def async_wait_for_port(host: str, port: int, deadline_s: float) -> None:
    """Async form of :func:`wait_for_port`."""
    await asyncio.to_thread(wait_for_port, host, port, deadline_s)
