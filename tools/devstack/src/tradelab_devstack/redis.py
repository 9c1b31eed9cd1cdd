"""Redis for the local stack and the tests (the gateway's shared rate-limit counts).

Resolution order: ``REDIS_URL`` if set; the local server on 127.0.0.1:6379 when it answers
``PING``; otherwise a ``redis-server`` started here on a free loopback port, without persistence
(counts are short-lived, and losing them on a restart only resets the limits).
"""

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from .ports import free_port, wait_for_port
from .state import record, state_dir, stop_recorded

LOCAL_URL = "redis://127.0.0.1:6379/0"
REDIS = "redis"


@dataclass(frozen=True)
class RedisServer:
    """A Redis the stack may use."""

    url: str
    source: str


def answers(url: str) -> bool:
    """Return whether the Redis at ``url`` answers ``PING``."""
    # A loaded machine (a test run beside it) can keep a local Redis from answering within a
    # second: a refused connection answers at once, so a slow answer is worth a few tries.
    client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=1)
    try:
        for _ in range(3):
            try:
                return bool(client.ping())
            except RedisConnectionError:
                return False
            except (RedisError, OSError):
                continue
        return False
    finally:
        client.close()


class RedisProcess:
    """One ``redis-server`` on a loopback port, persistence off, recorded in the pid files."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path or state_dir() / "logs" / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @staticmethod
    def binary() -> str | None:
        """Return the ``redis-server`` binary, if installed."""
        return shutil.which("redis-server") or (
            "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
        )

    def start(self) -> RedisServer:
        """Start the server and wait until it accepts connections."""
        binary = self.binary()
        if binary is None:
            msg = "redis-server is not installed (apt-get install redis-server), set REDIS_URL"
            raise RuntimeError(msg)
        argv = [binary, "--bind", "127.0.0.1", "--port", str(self.port)]
        argv += ["--save", "", "--appendonly", "no", "--protected-mode", "yes"]
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(  # noqa: S603  (our own binary, fixed arguments)
            argv, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        record(REDIS, self._proc.pid, argv)
        wait_for_port("127.0.0.1", self.port, 15)
        return RedisServer(f"redis://127.0.0.1:{self.port}/0", "redis-server")

    def stop(self) -> None:
        """Stop the server (its counts go with it)."""
        if self._proc is not None:
            stop_recorded(REDIS, self._proc)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """Yield a Redis by the resolution order above, and stop what was started for it."""
    if url := os.environ.get("REDIS_URL"):
        yield RedisServer(url, "REDIS_URL")
        return
    if answers(LOCAL_URL):
        yield RedisServer(LOCAL_URL, "local")
        return
    process = RedisProcess()
    try:
        yield process.start()
    finally:
        process.stop()
