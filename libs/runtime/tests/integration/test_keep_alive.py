"""An idle keep-alive connection lasts ``keep_alive_s``: the setting reaches the real server."""

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from tradelab_runtime.serve import server_config
from tradelab_runtime.settings import ServiceSettings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served(keep_alive_s: int) -> Iterator[int]:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    settings = ServiceSettings(
        service_name="keep-alive", port=free_port(), keep_alive_s=keep_alive_s
    )
    config = server_config(app, settings)
    config.lifespan = "off"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield settings.port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def ask(connection: http.client.HTTPConnection) -> int | None:
    """One request on ``connection``: its status, or None when the server had closed it (the
    client's error in production: ``RemoteDisconnected`` on a request sent as it closed)."""
    try:
        connection.request("GET", "/ping")
        response = connection.getresponse()
        response.read()
    except (http.client.RemoteDisconnected, OSError):
        return None
    return response.status


def test_the_default_outlives_a_load_balancers_idle_timeout() -> None:
    assert ServiceSettings(service_name="x").keep_alive_s > 60


def test_an_idle_connection_stays_open_for_keep_alive_s_and_no_longer() -> None:
    idle_s = 1.5
    with served(keep_alive_s=4) as port:
        kept = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        assert ask(kept) == 200
        first = kept.sock
        time.sleep(idle_s)
        assert ask(kept) == 200, "closed before keep_alive_s"
        assert kept.sock is first, "not the same connection"
        kept.close()
    with served(keep_alive_s=1) as port:
        closed = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        assert ask(closed) == 200
        time.sleep(idle_s)
        assert ask(closed) is None, "still open after keep_alive_s"
        closed.close()
