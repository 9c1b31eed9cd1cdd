"""Is a Docker engine there? Asked with one raw ``/_ping`` so no client library is needed.

Without an engine the socket is missing or refuses at once, so the probe costs about a millisecond.
"""

import functools
import os
import socket
from urllib.parse import urlparse

DEFAULT_SOCKET = "/var/run/docker.sock"


def _answers(family: int, address: str | tuple[str, int]) -> bool:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            status_line = sock.recv(64).split(b"\r\n", 1)[0]
            return status_line.startswith(b"HTTP/1.") and b" 200" in status_line
    except OSError:
        return False


@functools.cache
def docker_available() -> bool:
    """Return whether a Docker engine answers on ``DOCKER_HOST`` or the default socket."""
    host = os.environ.get("DOCKER_HOST", f"unix://{DEFAULT_SOCKET}")
    url = urlparse(host)
    if url.scheme == "unix":
        return _answers(socket.AF_UNIX, url.path)
    if url.scheme == "tcp" and url.hostname:
        return _answers(socket.AF_INET, (url.hostname, url.port or 2375))
    return False
