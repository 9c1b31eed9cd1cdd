"""Kill -9 an engine replica while jobs are queued on it: the survivor completes every job, each
with exactly one ``completed`` event, and nothing stays ``running``."""

import asyncio
import json
from collections import Counter
from importlib.resources import files
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from tests.e2e.helpers import auth
from tests.polling import wait_for
from tradelab_contracts.topics import BACKTEST_COMPLETED
from tradelab_devstack.kafka import KafkaBroker
from tradelab_devstack.ports import free_port
from tradelab_devstack.services import ServiceProcess, wait_until_ready
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e
GOOG = files("backtesting.test") / "GOOG.csv"
JOBS = 16


async def completed_counts(bootstrap: str, run_ids: set[str]) -> Counter[str]:
    """Count completed events per run id, reading the topic from the beginning."""
    consumer = AIOKafkaConsumer(
        BACKTEST_COMPLETED, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
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
                    run_id = json.loads(record.value)["run_id"]
                    if run_id in run_ids:
                        counts[run_id] += 1
    finally:
        await consumer.stop()
    return counts


def test_killed_engine_replica_loses_no_job_and_duplicates_none(
    stack: Stack, gateway: httpx.Client, user_token: str, kafka: KafkaBroker
) -> None:
    first = stack.processes["engine"]
    second = ServiceProcess("engine", free_port(), first.env, instance="b")
    second.start()
    try:
        wait_until_ready([second], 120)
        dataset = gateway.post(
            "/api/v1/datasets",
            headers=auth(user_token),
            files={"file": ("GOOG.csv", GOOG.read_bytes(), "text/csv")},
        ).json()["id"]

        def ready() -> bool | None:
            body = gateway.get(f"/api/v1/datasets/{dataset}", headers=auth(user_token)).json()
            return True if body["status"] == "ready" else None

        wait_for(ready, 60, "dataset ready")
        run_ids = set()
        for fast in range(5, 5 + JOBS):
            body: dict[str, Any] = {
                "dataset_id": dataset,
                "strategy": "sma_cross",
                "parameters": {"fast": fast, "slow": 60},
            }
            response = gateway.post("/api/v1/backtests", headers=auth(user_token), json=body)
            assert response.status_code == 202, response.text
            run_ids.add(response.json()["id"])
        second.kill()  # SIGKILL: whatever it held uncommitted must be redone by the survivor
    finally:
        second.kill()

    def all_finished() -> list[dict[str, Any]] | None:
        runs = [
            gateway.get(f"/api/v1/backtests/{r}", headers=auth(user_token)).json() for r in run_ids
        ]
        return runs if all(r["status"] == "completed" for r in runs) else None

    runs = wait_for(all_finished, 120, "every job completed on the surviving replica")
    assert {r["status"] for r in runs} == {"completed"}
    counts = asyncio.run(completed_counts(kafka.bootstrap, run_ids))
    assert counts == dict.fromkeys(run_ids, 1)
