"""Fault injection: an engine killed (SIGKILL) at each step of a job's lifecycle, and a job
message lost by the broker. Whatever happens, every job reaches exactly one terminal state with
exactly one terminal event, every completed backtest gets its analysis, no file of the run is
orphaned and no row is left active.

Failpoints are armed only on a replica started for the test (``ENGINE_FAILPOINTS``); the session's
engine steps aside meanwhile so the armed replica is the one that takes the job.
"""

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from tests.e2e.helpers import auth, upload_goog
from tests.polling import wait_for
from tradelab_contracts.topics import BACKTEST_CANCELLED, BACKTEST_COMPLETED, BACKTEST_FAILED
from tradelab_devstack.kafka import KafkaBroker
from tradelab_devstack.ports import free_port
from tradelab_devstack.services import ServiceProcess, wait_until_ready
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e
TERMINAL_TOPICS = (BACKTEST_COMPLETED, BACKTEST_FAILED, BACKTEST_CANCELLED)


async def terminal_events(bootstrap: str, run_id: str) -> Counter[str]:
    """Count the run's terminal events per topic, reading every terminal topic from the start."""
    consumer = AIOKafkaConsumer(
        *TERMINAL_TOPICS, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    counts: Counter[str] = Counter()
    try:
        idle = 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=1000)
            idle = 0 if batch else idle + 1
            for records in batch.values():
                for record in records:
                    if json.loads(record.value).get("run_id") == run_id:
                        counts[record.topic] += 1
    finally:
        await consumer.stop()
    return counts


@pytest.fixture
def armed_engine(stack: Stack, request: pytest.FixtureRequest) -> Iterator[ServiceProcess]:
    """An engine replica with the test's failpoint armed, alone in the engine groups; the
    session's engine is back and ready when the test ends."""
    main = stack.processes["engine"]
    env = {**main.env, "ENGINE_FAILPOINTS": request.param}
    armed = ServiceProcess("engine", free_port(), env, instance="armed")
    main.stop()
    try:
        armed.start()
        wait_until_ready([armed], 120)
        yield armed
    finally:
        armed.kill()
        if not main.running():
            main.start()
            wait_until_ready([main], 120)


FAILPOINTS = (
    "engine.backtest.before_commit",
    "engine.backtest.after_commit",
    "engine.backtest.after_publish",
)


def submit(gateway: httpx.Client, token: str, dataset: str, fast: int) -> str:
    """A backtest no earlier test ran (the same parameters on the same data would be answered
    from the result cache, and no engine would run them)."""
    body = {
        "dataset_id": dataset,
        "strategy": "sma_cross",
        "parameters": {"fast": fast, "slow": 41},
    }
    response = gateway.post("/api/v1/backtests", headers=auth(token), json=body)
    assert response.status_code == 202, response.text
    run_id: str = response.json()["id"]
    return run_id


def env_failpoint(engine: ServiceProcess) -> str:
    return engine.env["ENGINE_FAILPOINTS"]


def files_of(object_store: Path, run_id: str) -> set[str]:
    """Every file the object store holds for the run."""
    return {p.as_uri() for p in object_store.glob(f"backtests/*/{run_id}/**/*") if p.is_file()}


@pytest.mark.parametrize("armed_engine", FAILPOINTS, indirect=True)
def test_an_engine_killed_at_any_lifecycle_step_loses_and_duplicates_nothing(
    armed_engine: ServiceProcess,
    stack: Stack,
    gateway: httpx.Client,
    user_token: str,
    kafka: KafkaBroker,
    object_store: Path,
) -> None:
    dataset = upload_goog(gateway, user_token)
    fast = 11 + FAILPOINTS.index(env_failpoint(armed_engine))
    run_id = submit(gateway, user_token, dataset, fast)

    def killed() -> int | None:
        return armed_engine.returncode if not armed_engine.running() else None

    assert wait_for(killed, 90, "the armed engine reached its failpoint") == -9
    armed_engine.kill()  # reap it; the fixture brings the session's engine back

    def finished() -> dict[str, Any] | None:
        run = gateway.get(f"/api/v1/backtests/{run_id}", headers=auth(user_token)).json()
        return run if run["status"] in ("completed", "failed", "cancelled") else None

    # The session's engine comes back (as a restarted process would) and finishes the job.
    stack.processes["engine"].start()
    wait_until_ready([stack.processes["engine"]], 120)
    run = wait_for(finished, 120, "the run finished after its engine was killed")
    assert run["status"] == "completed", run

    counts = asyncio.run(terminal_events(kafka.bootstrap, run_id))
    assert counts == {BACKTEST_COMPLETED: 1}

    def analysed() -> dict[str, Any] | None:
        response = gateway.get(f"/api/v1/analytics/{run_id}", headers=auth(user_token))
        return response.json() if response.status_code == 200 else None

    wait_for(analysed, 60, "the completed run was analysed")
    left = files_of(object_store, run_id)
    # The recorded equity and trades files of one attempt, nothing an earlier attempt wrote.
    assert {Path(uri).name for uri in left} == {"equity.parquet", "trades.parquet"}, left
    assert len({Path(uri).parent for uri in left}) == 1, left
