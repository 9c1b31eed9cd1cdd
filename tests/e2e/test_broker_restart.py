"""``make up`` restarts what dies: a SIGKILLed broker comes back on its port with every topic,
every service is restarted with it and serves again, and a killed service is started again."""

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_dev_launcher import Launcher
from tests.polling import wait_for
from tradelab_contracts.topics import ALL_TOPICS
from tradelab_devstack.ports import free_port_range
from tradelab_devstack.postgres import PostgresServer, drop_database
from tradelab_devstack.stack import partition_counts

pytestmark = pytest.mark.e2e

WANTED = {spec.name: spec.partitions for spec in ALL_TOPICS}
ALL_SERVICES = {"gateway", "auth", "datasets", "engine", "analytics"}


class OwnDatabaseLauncher(Launcher):
    """The launcher on a database of its own (the default ``tradelab`` may be someone's)."""

    def __init__(self, env: dict[str, str], port_base: int, database: str) -> None:
        self.lines = []
        argv = ["up", "--port-base", str(port_base), "--database", database]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tradelab_devstack", *argv],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()


def recorded_pid(state: Path, name: str) -> int:
    return int((state / "pids" / f"{name}.pid").read_text().split()[0])


def all_up(base: str) -> bool | None:
    try:
        body = httpx.get(f"{base}/api/v1/system/health", timeout=5).json()
    except httpx.HTTPError:  # the gateway itself is being restarted
        return None
    statuses = {s["service"]: s["status"] for s in body["services"]}
    return (set(statuses) == ALL_SERVICES and set(statuses.values()) == {"up"}) or None


def logged(launcher: Launcher, text: str) -> str | None:
    return next((line for line in launcher.lines if text in line), None)


def post_or_none(url: str, **kwargs: Any) -> httpx.Response | None:
    """POST, or None while the gateway is being restarted."""
    try:
        return httpx.post(url, **kwargs)
    except httpx.HTTPError:
        return None


def test_killed_broker_and_service_are_restarted_and_the_stack_serves_again(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    port_base = free_port_range(5)
    base = f"http://127.0.0.1:{port_base}"
    database = f"restart_{secrets.token_hex(4)}"
    env = {
        **os.environ,
        "TRADELAB_STATE_DIR": str(state),
        "DATABASE_URL": pg_server.sqlalchemy_url(database),
    }
    env.pop("KAFKA_BOOTSTRAP", None)  # the launcher starts (and supervises) its own broker
    launcher = OwnDatabaseLauncher(env, port_base, database)
    try:
        wait_for(launcher.ready_line, 120, "launcher ready")
        kafka_line = wait_for(lambda: logged(launcher, "kafka     tansu:"), 5, "broker address")
        bootstrap = kafka_line.rsplit(" ", 1)[1]
        wait_for(lambda: all_up(base), 60, "all services up")

        broker_pid = recorded_pid(state, "tansu")
        os.kill(broker_pid, signal.SIGKILL)
        wait_for(lambda: logged(launcher, "tansu exited with code -9"), 10, "broker exit logged")
        wait_for(lambda: logged(launcher, "tansu restarted"), 30, "broker restarted")
        for name in ALL_SERVICES:  # restarted with it: fresh consumers on the empty broker
            line = f"{name} restarted (restart 1)"
            wait_for(partial(logged, launcher, line), 60, line)
        assert recorded_pid(state, "tansu") != broker_pid
        assert asyncio.run(partition_counts(bootstrap, list(WANTED))) == WANTED

        wait_for(lambda: all_up(base), 90, "every service up again on the new broker")

        def registered() -> bool | None:
            # A fresh address each try: a 503 may still have registered the one before.
            response = post_or_none(
                f"{base}/api/v1/auth/register",
                json={
                    "email": f"after-{secrets.token_hex(4)}@example.com",
                    "password": "correct horse battery",
                },
                timeout=10,
            )
            if response is None:
                return None
            assert response.status_code in {201, 503}, response.text
            return response.status_code == 201 or None

        wait_for(registered, 60, "a request served through the new broker")

        engine_pid = recorded_pid(state, "engine")
        os.kill(engine_pid, signal.SIGKILL)
        wait_for(lambda: logged(launcher, "engine exited with code -9"), 10, "engine exit logged")
        wait_for(lambda: logged(launcher, "engine restarted (restart 2)"), 10, "engine restarted")
        wait_for(lambda: all_up(base), 90, "engine up again")
    finally:
        launcher.proc.send_signal(signal.SIGTERM)
        code = launcher.wait(60)
        asyncio.run(drop_database(pg_server, database))
    assert code == 0, "\n".join(launcher.lines)
