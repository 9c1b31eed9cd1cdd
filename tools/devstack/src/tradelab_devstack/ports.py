"""Small network helpers."""

import asyncio
import socket
import time


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_port_range(count: int, attempts: int = 50) -> int:
    """Return a base port such that ``base .. base + count - 1`` are all free right now."""
    for _ in range(attempts):
        base = free_port()
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return base
    msg = f"no {count} consecutive free ports found"
    raise RuntimeError(msg)


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
