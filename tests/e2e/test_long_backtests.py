"""Long backtests through the gateway: progress while running, cancel mid-run, and kill -9 of the
replica that is running a job.

Our kernels finish any dataset under the upload limit in well under a second, so the e2e stack's
engines run with ``ENGINE_CHUNK_PAUSE_S`` (a pause after every chunk of ``ENGINE_CHUNK_BARS``
bars, refused in production). Everything else is the production path: the same consumers, the
same cancellation check between chunks, the same claim and redelivery on failover.
"""

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.e2e.helpers import auth, forwarded_for, minute_bars_csv
from tests.polling import wait_for
from tradelab_contracts.topics import (
    BACKTEST_CANCELLED,
    BACKTEST_COMPLETED,
    BACKTEST_FAILED,
    BACKTEST_PROGRESS,
)
from tradelab_devstack.kafka import KafkaBroker
from tradelab_devstack.ports import free_port
from tradelab_devstack.services import ServiceProcess, wait_until_ready
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e

BARS = 40_000  # 80 chunks of 500 bars, each followed by a 0.1 s pause: about 8 s per run
TERMINAL = {"completed", "failed", "cancelled"}


@pytest.fixture(scope="module")
def long_dataset(gateway_module: httpx.Client, module_token: str) -> str:
    """A 40,000-bar dataset owned by the module's user, ingested and ready."""
    created = gateway_module.post(
        "/api/v1/datasets",
        headers=auth(module_token),
        files={"file": ("minutes.csv", minute_bars_csv(BARS, seed=7), "text/csv")},
    )
    assert created.status_code == 202, created.text
    dataset_id = created.json()["id"]

    def ready() -> str | None:
        body = gateway_module.get(
            f"/api/v1/datasets/{dataset_id}", headers=auth(module_token)
        ).json()
        assert body["status"] != "failed", body
        return dataset_id if body["status"] == "ready" else None

    return wait_for(ready, 60, "long dataset ingested")


@pytest.fixture(scope="module")
def gateway_module(stack: Stack) -> Iterator[httpx.Client]:
    """An HTTP client on the gateway shared by the module's tests."""
    with httpx.Client(base_url=stack.gateway_url, timeout=10, headers=forwarded_for()) as client:
        yield client


@pytest.fixture(scope="module")
def module_token(gateway_module: httpx.Client) -> str:
    """An access token of a user registered for this module."""
    response = gateway_module.post(
        "/api/v1/auth/register",
        json={"email": f"long-{time.monotonic_ns()}@example.com", "password": "correct horse b"},
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["access_token"]
    return token


def submit(client: httpx.Client, token: str, dataset_id: str, fast: int) -> str:
    """Start an sma_cross run (``fast`` makes each request distinct, so none is cached)."""
    body: dict[str, Any] = {
        "dataset_id": dataset_id,
        "strategy": "sma_cross",
        "parameters": {"fast": fast, "slow": 200},
        "options": {"fee_rate": 0.001},
    }
    response = client.post("/api/v1/backtests", headers=auth(token), json=body)
    assert response.status_code == 202, response.text
    run_id: str = response.json()["id"]
    return run_id


def get_run(client: httpx.Client, token: str, run_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/backtests/{run_id}", headers=auth(token))
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


def running_with_progress(client: httpx.Client, token: str, run_id: str) -> dict[str, Any]:
    """Wait until the run is running and has reported some progress."""

    def probe() -> dict[str, Any] | None:
        run = get_run(client, token, run_id)
        assert run["status"] not in TERMINAL, run
        return run if run["status"] == "running" and run["progress"] > 0 else None

    return wait_for(probe, 60, f"run {run_id} running with progress")


def finished(client: httpx.Client, token: str, run_id: str, deadline_s: float) -> dict[str, Any]:
    """Wait for the run's end; 503 is tolerated (engine requests go unanswered while the group
    rebalances after a replica died)."""

    def probe() -> dict[str, Any] | None:
        response = client.get(f"/api/v1/backtests/{run_id}", headers=auth(token))
        if response.status_code == httpx.codes.SERVICE_UNAVAILABLE:
            return None
        assert response.status_code == httpx.codes.OK, response.text
        run: dict[str, Any] = response.json()
        return run if run["status"] in TERMINAL else None

    return wait_for(probe, deadline_s, f"run {run_id} finished")


async def events_of(bootstrap: str, topic: str, run_id: str) -> list[dict[str, Any]]:
    """Every event of ``run_id`` on ``topic``, read from the beginning, in order."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        idle = 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=1000)
            idle = 0 if batch else idle + 1
            for records in batch.values():
                for record in records:
                    event = json.loads(record.value)
                    if event["run_id"] == run_id:
                        found.append(event)
    finally:
        await consumer.stop()
    return found


def terminal_events(bootstrap: str, run_id: str) -> dict[str, int]:
    """How many completed, failed and cancelled events ``run_id`` has."""
    topics = {
        "completed": BACKTEST_COMPLETED,
        "failed": BACKTEST_FAILED,
        "cancelled": BACKTEST_CANCELLED,
    }
    return {
        name: len(asyncio.run(events_of(bootstrap, topic, run_id)))
        for name, topic in topics.items()
    }


def engine_row(database_url: str, run_id: str) -> dict[str, Any]:
    """The engine's own record of a run (worker and attempt are not part of the API)."""

    async def fetch() -> dict[str, Any]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                row = (
                    await conn.execute(
                        text("SELECT status, worker, attempt FROM engine.runs WHERE id = :id"),
                        {"id": run_id},
                    )
                ).one()
                return dict(row._mapping)
        finally:
            await engine.dispose()

    return asyncio.run(fetch())


def test_progress_is_reported_while_a_long_run_works(
    stack: Stack,
    kafka: KafkaBroker,
    gateway_module: httpx.Client,
    module_token: str,
    long_dataset: str,
) -> None:
    run_id = submit(gateway_module, module_token, long_dataset, fast=10)
    seen = {running_with_progress(gateway_module, module_token, run_id)["progress"]}
    while (run := get_run(gateway_module, module_token, run_id))["status"] == "running":
        seen.add(run["progress"])
        time.sleep(0.2)
    assert run["status"] == "completed", run
    assert len([p for p in seen if 0 < p < 1]) >= 3, f"progress seen through the API: {seen}"

    events = asyncio.run(events_of(kafka.bootstrap, BACKTEST_PROGRESS, run_id))
    assert len(events) >= 5
    # One sequence for all of the run's events, the final one last.
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    final = asyncio.run(events_of(kafka.bootstrap, BACKTEST_COMPLETED, run_id))
    assert [e["sequence"] for e in final] == [len(events) + 1]
    assert get_run(gateway_module, module_token, run_id)["sequence"] == len(events) + 1
    fractions = [e["progress"] for e in events]
    assert fractions == sorted(fractions)
    assert all(0 < f < 1 for f in fractions)
    assert all(e["bars_total"] == BARS for e in events)
    # Throttled: at least 5 % and at least 500 ms between two reports.
    times = [datetime.fromisoformat(e["occurred_at"]) for e in events]
    assert all(b - a >= 0.05 - 1e-12 for a, b in itertools.pairwise(fractions))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.45, gaps
    assert terminal_events(kafka.bootstrap, run_id) == {"completed": 1, "failed": 0, "cancelled": 0}


def test_cancel_stops_a_running_job_within_a_second(
    stack: Stack,
    kafka: KafkaBroker,
    gateway_module: httpx.Client,
    module_token: str,
    long_dataset: str,
) -> None:
    run_id = submit(gateway_module, module_token, long_dataset, fast=11)
    before = running_with_progress(gateway_module, module_token, run_id)
    asked = time.monotonic()
    response = gateway_module.post(f"/api/v1/backtests/{run_id}/cancel", headers=auth(module_token))
    assert response.status_code == 202, response.text

    def cancelled() -> float | None:
        run = get_run(gateway_module, module_token, run_id)
        assert run["status"] in {"running", "cancelled"}, run
        return time.monotonic() - asked if run["status"] == "cancelled" else None

    stopped_after = wait_for(cancelled, 10, "run cancelled")
    assert stopped_after < 1.0, f"the run stopped {stopped_after:.2f} s after the cancel request"
    run = get_run(gateway_module, module_token, run_id)
    assert run["summary"] is None
    results = gateway_module.get(f"/api/v1/backtests/{run_id}/equity", headers=auth(module_token))
    assert results.status_code == 409, results.text
    assert before["progress"] < 1
    assert terminal_events(kafka.bootstrap, run_id) == {"completed": 0, "failed": 0, "cancelled": 1}
    # A finished run cannot be cancelled again.
    again = gateway_module.post(f"/api/v1/backtests/{run_id}/cancel", headers=auth(module_token))
    assert again.status_code == 409, again.text


def test_killing_the_replica_running_a_job_hands_it_to_the_survivor(
    stack: Stack,
    kafka: KafkaBroker,
    gateway_module: httpx.Client,
    module_token: str,
    long_dataset: str,
) -> None:
    first = stack.processes["engine"]
    second = ServiceProcess("engine", free_port(), first.env, instance="b")
    second.start()
    try:
        wait_until_ready([second], 120)
        # Let the group settle with both members before the job is published.
        time.sleep(6)
        run_id = submit(gateway_module, module_token, long_dataset, fast=12)
        running_with_progress(gateway_module, module_token, run_id)
        holder = engine_row(stack.database_url, run_id)
        assert holder["status"] == "running"
        assert holder["attempt"] == 1
        victim = second if holder["worker"] == "engine-b" else first
        victim.kill()  # SIGKILL mid-run: the job's offset was never committed

        run = finished(gateway_module, module_token, run_id, deadline_s=120)
        assert run["status"] == "completed", run
        after = engine_row(stack.database_url, run_id)
        assert after["attempt"] == 2
        assert after["worker"] != holder["worker"]
        assert terminal_events(kafka.bootstrap, run_id) == {
            "completed": 1,
            "failed": 0,
            "cancelled": 0,
        }
        # The result is the whole run, not the tail the survivor happened to see.
        equity = gateway_module.get(
            f"/api/v1/backtests/{run_id}/equity", headers=auth(module_token)
        ).json()
        assert equity["total_points"] == BARS
    finally:
        second.kill()
        if not first.running():
            first.start()
            wait_until_ready([first], 120)
