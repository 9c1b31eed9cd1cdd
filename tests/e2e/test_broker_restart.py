"""``make up`` restarts what dies: a SIGKILLed broker comes back on its port with every topic,
every service is restarted with it and serves again, the jobs in flight when it died resume from
PostgreSQL and complete with no user action, and a killed service is started again."""

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
from uuid import UUID

import asyncpg
import httpx
import pytest

from tests.e2e.helpers import auth, register, upload_goog
from tests.e2e.test_dev_launcher import Launcher
from tests.polling import wait_for
from tradelab_contracts.topics import ALL_TOPICS
from tradelab_devstack.ports import free_port_range
from tradelab_devstack.postgres import PostgresServer, drop_database
from tradelab_devstack.stack import partition_counts

pytestmark = pytest.mark.e2e
STACK_START_S = 240
"""Outer bounds, not speed figures: a whole stack's start (five services importing, migrating and
joining their consumer groups, the engine loading its kernels), and services started again and
answering, took ~130 s and over 90 s on a slow 2-core VM under the rest of the suite."""
RESTART_S = 180

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


FINAL = {"completed", "failed", "cancelled"}
GRID: dict[str, Any] = {
    "strategy": "sma_cross",
    "parameter_space": {
        "fast": {"start": 2, "stop": 60, "step": 1},
        "slow": {"start": 20, "stop": 200, "step": 2},
    },
    "constraints": [{"left": "fast", "op": "<", "right": "slow"}],
    "objective": {"metric": "sharpe", "direction": "maximize"},
}


def submit_jobs(client: httpx.Client, token: str, dataset: str) -> list[str]:
    """Three backtests and an optimisation: the paths of their ``GET``."""
    paths = []
    for fast in (7, 8, 9):
        body = {"dataset_id": dataset, "strategy": "sma_cross", "parameters": {"fast": fast}}
        response = client.post("/api/v1/backtests", headers=auth(token), json=body)
        assert response.status_code == 202, response.text
        paths.append(f"/api/v1/backtests/{response.json()['id']}")
    response = client.post(
        "/api/v1/optimizations", headers=auth(token), json={"dataset_id": dataset, **GRID}
    )
    assert response.status_code == 202, response.text
    paths.append(f"/api/v1/optimizations/{response.json()['id']}")
    return paths


async def stored_statuses(dsn: str, paths: list[str]) -> dict[str, str]:
    """Each job's status as the engine's tables hold it."""
    ids = [UUID(path.rsplit("/", 1)[1]) for path in paths]
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT id, status::text FROM engine.runs WHERE id = ANY($1) UNION ALL "
            "SELECT id, status::text FROM engine.optimizations WHERE id = ANY($1)",
            ids,
        )
    finally:
        await connection.close()
    found = {row["id"]: row["status"] for row in rows}
    return {path: found[job] for path, job in zip(paths, ids, strict=True)}


def statuses(client: httpx.Client, token: str, paths: list[str]) -> dict[str, str] | None:
    """Each job's status, or None while the gateway or the engine cannot say."""
    found = {}
    for path in paths:
        try:
            response = client.get(path, headers=auth(token), timeout=10)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            assert response.status_code == 503, response.text
            return None
        found[path] = response.json()["status"]
    return found


@pytest.mark.timeout(2 * STACK_START_S + 3 * RESTART_S)  # its own stack, started and restarted
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
        # The sweeper's clocks, shortened: a lease lost with the killed engine expires in 4 s,
        # and a queued job whose message the empty broker lost is sent again after 10 s.
        "ENGINE_LEASE_S": "4",
        "ENGINE_SWEEP_INTERVAL_S": "1",
        "ENGINE_REDISPATCH_AFTER_S": "10",
        # Rate-limit keys of this stack's own; every registration retried while the broker is
        # away counts, and the registration limit is not what this tests.
        "GATEWAY_RATE_LIMIT_PREFIX": database,
        "GATEWAY_RATE_LIMIT_REGISTRATION_PER_ADDRESS": "1000/minute",
    }
    env.pop("KAFKA_BOOTSTRAP", None)  # the launcher starts (and supervises) its own broker
    launcher = OwnDatabaseLauncher(env, port_base, database)
    client = httpx.Client(base_url=base, timeout=30)
    try:
        wait_for(launcher.ready_line, STACK_START_S, "launcher ready")
        kafka_line = wait_for(lambda: logged(launcher, "kafka     tansu:"), 5, "broker address")
        bootstrap = kafka_line.rsplit(" ", 1)[1]
        wait_for(lambda: all_up(base), RESTART_S, "all services up")
        token = register(client, "broker-loss")
        jobs = submit_jobs(client, token, upload_goog(client, token))

        broker_pid = recorded_pid(state, "tansu")
        os.kill(broker_pid, signal.SIGKILL)
        # What the engine had stored when the broker died (the API needs the broker).
        at_kill = asyncio.run(stored_statuses(pg_server.dsn(database), jobs))
        in_flight = [path for path, status in at_kill.items() if status not in FINAL]
        assert in_flight, f"every job ended before the broker died: {at_kill}"
        print(f"in flight when the broker died: {at_kill}")  # shown with -s, or on failure
        wait_for(lambda: logged(launcher, "tansu exited with code -9"), 10, "broker exit logged")
        wait_for(lambda: logged(launcher, "tansu restarted"), 30, "broker restarted")
        for name in ALL_SERVICES:  # restarted with it: fresh consumers on the empty broker
            line = f"{name} restarted (restart 1)"
            wait_for(partial(logged, launcher, line), RESTART_S, line)
        assert recorded_pid(state, "tansu") != broker_pid
        assert asyncio.run(partition_counts(bootstrap, list(WANTED))) == WANTED

        wait_for(lambda: all_up(base), RESTART_S, "every service up again on the new broker")

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

        def all_ended() -> dict[str, str] | None:
            now = statuses(client, token, jobs)
            return now if now is not None and set(now.values()) <= FINAL else None

        ended = wait_for(all_ended, 180, "the jobs in flight resumed and ended")
        assert set(ended.values()) == {"completed"}, (at_kill, ended)

        engine_pid = recorded_pid(state, "engine")
        os.kill(engine_pid, signal.SIGKILL)
        wait_for(lambda: logged(launcher, "engine exited with code -9"), 10, "engine exit logged")
        wait_for(lambda: logged(launcher, "engine restarted (restart 2)"), 10, "engine restarted")
        wait_for(lambda: all_up(base), RESTART_S, "engine up again")
    finally:
        client.close()
        launcher.proc.send_signal(signal.SIGTERM)
        code = launcher.wait(60)
        asyncio.run(drop_database(pg_server, database))
    assert code == 0, "\n".join(launcher.lines)
