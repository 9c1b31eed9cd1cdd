"""``make up``'s launcher: ready, stops everything on SIGTERM, recovers from its own crash."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.polling import wait_for
from tradelab_devstack.ports import free_port_range, port_open
from tradelab_devstack.postgres import PostgresServer

pytestmark = pytest.mark.e2e
STACK_START_S = 240
"""An outer bound on a whole stack's start (five services importing, migrating and joining their
consumer groups, the engine loading its kernels), not a speed figure: on a slow 2-core VM under
the rest of the suite a start took ~130 s."""


class Launcher:
    """``tradelab-dev up`` in a subprocess, its output collected line by line."""

    def __init__(self, env: dict[str, str], port_base: int) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tradelab_devstack", "up", "--port-base", str(port_base)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.append(line.rstrip())

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code

    def ready_line(self) -> str | None:
        if self.proc.poll() is not None:
            pytest.fail("launcher exited early:\n" + "\n".join(self.lines))
        return next((line for line in self.lines if "ready in" in line), None)


def pids_recorded(state: Path) -> list[int]:
    return [int(p.read_text().split()[0]) for p in (state / "pids").glob("*.pid")]


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def test_launcher_starts_stack_survives_its_own_crash_and_stops_everything_on_sigterm(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    port_base = free_port_range(5)
    ports = range(port_base, port_base + 5)
    env = {
        **os.environ,
        "TRADELAB_STATE_DIR": str(tmp_path / "state"),
        "DATABASE_URL": pg_server.sqlalchemy_url("launcher_e2e"),
    }
    env.pop("KAFKA_BOOTSTRAP", None)  # the launcher starts its own broker

    launchers: list[Launcher] = []
    try:
        first = Launcher(env, port_base)
        launchers.append(first)
        wait_for(first.ready_line, STACK_START_S, "first launcher ready")
        health = httpx.get(f"http://127.0.0.1:{port_base}/api/v1/system/health", timeout=5)
        assert health.status_code == 200
        orphans = pids_recorded(tmp_path / "state")
        # Five services and the broker, and a redis-server when no Redis answered at 127.0.0.1:6379.
        own_redis = any(line.split()[:2] == ["redis", "redis-server:"] for line in first.lines)
        assert len(orphans) == 6 + own_redis, "\n".join(first.lines)

        first.proc.kill()  # the launcher crashes; its children live on in their own sessions
        first.wait(10)
        assert all(alive(pid) for pid in orphans)

        second = Launcher(env, port_base)
        launchers.append(second)
        started = time.monotonic()
        ready = wait_for(second.ready_line, STACK_START_S, "second launcher ready after a crash")
        assert not any(alive(pid) for pid in orphans), "leftovers of the crashed run were not ended"
        assert time.monotonic() - started < STACK_START_S
        assert "ready in" in ready

        children = pids_recorded(tmp_path / "state")
        second.proc.send_signal(signal.SIGTERM)
        second.proc.send_signal(signal.SIGTERM)  # uv forwards Ctrl-C too: a second one arrives
        assert second.wait(60) == 0
        assert any("stopped every process" in line for line in second.lines)
        assert not any(alive(pid) for pid in children)
        assert not any(port_open("127.0.0.1", port) for port in ports)
    finally:  # a failed check must not leave a launcher (and its stack) running
        for launcher in launchers:
            if launcher.proc.poll() is None:
                launcher.proc.send_signal(signal.SIGTERM)
                launcher.wait(60)
