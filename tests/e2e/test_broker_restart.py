"""``make up`` restarts what dies: a SIGKILLed broker comes back on its port with every topic,
the services find it again, the jobs it held (running, and queued with their messages lost with
the broker) finish from PostgreSQL without any user action, and a killed service is started
again."""

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import auth, minute_bars_csv, register
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
    body = httpx.get(f"{base}/api/v1/system/health", timeout=5).json()
    statuses = {s["service"]: s["status"] for s in body["services"]}
    return (set(statuses) == ALL_SERVICES and set(statuses.values()) == {"up"}) or None


def logged(launcher: Launcher, text: str) -> str | None:
    return next((line for line in launcher.lines if text in line), None)


def submit_jobs(base: str) -> tuple[str, list[str]]:
    """A user, a 40,000-bar dataset and four paced backtests on it (one runs ~8 s, the others
    wait in the queue of the one engine); the token and the run ids."""
    with httpx.Client(base_url=base, timeout=30) as client:
        token = register(client, "restart")
        created = client.post(
            "/api/v1/datasets",
            headers=auth(token),
            files={"file": ("walk.csv", minute_bars_csv(40_000, seed=5), "text/csv")},
        )
        assert created.status_code == 202, created.text
        dataset = created.json()["id"]

        def ready() -> bool | None:
            body = client.get(f"/api/v1/datasets/{dataset}", headers=auth(token)).json()
            return body["status"] == "ready" or None

        wait_for(ready, 60, "dataset ingested")
        runs = []
        for fast in (5, 6, 7, 8):
            body = {"dataset_id": dataset, "strategy": "sma_cross", "parameters": {"fast": fast}}
            response = client.post("/api/v1/backtests", headers=auth(token), json=body)
            assert response.status_code == 202, response.text
            runs.append(response.json()["id"])

        def running() -> bool | None:
            first = client.get(f"/api/v1/backtests/{runs[0]}", headers=auth(token)).json()
            return first["status"] == "running" or None

        wait_for(running, 30, "the first backtest running")
        return token, runs


def all_analysed(base: str, token: str, runs: list[str]) -> bool | None:
    """Every run completed and analysed (each status read through the gateway)."""
    with httpx.Client(base_url=base, timeout=10) as client:
        for run_id in runs:
            run = client.get(f"/api/v1/backtests/{run_id}", headers=auth(token))
            if run.status_code != 200:
                return None
            assert run.json()["status"] not in {"failed", "cancelled"}, run.json()
            if run.json()["status"] != "completed":
                return None
            if client.get(f"/api/v1/analytics/{run_id}", headers=auth(token)).status_code != 200:
                return None
    return True


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
        # Paced backtests (40,000 bars take ~8 s) and a quick re-dispatch of lost job messages.
        "ENGINE_CHUNK_BARS": "500",
        "ENGINE_CHUNK_PAUSE_S": "0.1",
        "ENGINE_REDISPATCH_AFTER_S": "10",
        "ENGINE_SWEEP_INTERVAL_S": "1",
    }
    env.pop("KAFKA_BOOTSTRAP", None)  # the launcher starts (and supervises) its own broker
    launcher = OwnDatabaseLauncher(env, port_base, database)
    try:
        wait_for(launcher.ready_line, 120, "launcher ready")
        kafka_line = wait_for(lambda: logged(launcher, "kafka     tansu:"), 5, "broker address")
        bootstrap = kafka_line.rsplit(" ", 1)[1]
        wait_for(lambda: all_up(base), 60, "all services up")
        token, runs = submit_jobs(base)

        broker_pid = recorded_pid(state, "tansu")
        os.kill(broker_pid, signal.SIGKILL)
        wait_for(lambda: logged(launcher, "tansu exited with code -9"), 10, "broker exit logged")
        wait_for(lambda: logged(launcher, "tansu restarted"), 30, "broker restarted")
        assert recorded_pid(state, "tansu") != broker_pid
        assert asyncio.run(partition_counts(bootstrap, list(WANTED))) == WANTED

        wait_for(lambda: all_up(base), 90, "every service up again on the new broker")

        def registered() -> bool | None:
            # A fresh address each try: a 503 may still have registered the one before (the
            # reply topic of the gateway comes back only with the first reply published to it).
            response = httpx.post(
                f"{base}/api/v1/auth/register",
                json={
                    "email": f"after-{secrets.token_hex(4)}@example.com",
                    "password": "correct horse battery",
                },
                timeout=10,
            )
            assert response.status_code in {201, 503}, response.text
            return response.status_code == 201 or None

        wait_for(registered, 60, "a request served through the new broker")
        # The running job finished on PostgreSQL and its stored event went out once the broker
        # was back; the queued jobs' messages died with the broker and the sweeper sent them
        # again. Nobody resubmitted anything.
        wait_for(lambda: all_analysed(base, token, runs), 120, "every job completed and analysed")

        engine_pid = recorded_pid(state, "engine")
        os.kill(engine_pid, signal.SIGKILL)
        wait_for(lambda: logged(launcher, "engine exited with code -9"), 10, "engine exit logged")
        wait_for(lambda: logged(launcher, "engine restarted"), 10, "engine restarted")
        wait_for(lambda: all_up(base), 90, "engine up again")
    finally:
        launcher.proc.send_signal(signal.SIGTERM)
        code = launcher.wait(60)
        asyncio.run(drop_database(pg_server, database))
    assert code == 0, "\n".join(launcher.lines)
