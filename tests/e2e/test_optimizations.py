"""Parameter optimisation through the gateway: the grid's best equals the best of single
backtests, results and heatmap, refusals, cancel, and a grid spread over two engine replicas that
completes with every combination evaluated exactly once after one replica is killed mid-job."""

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from importlib.resources import files
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.e2e.helpers import Collector, auth, forwarded_for, minute_bars_csv, open_socket
from tests.polling import wait_for
from tradelab_contracts.engine import EngineOptions
from tradelab_contracts.optimization import Objective, RunOptimizationChunk
from tradelab_contracts.topics import (
    OPTIMIZATION_CHUNK_REQUESTED,
    OPTIMIZATION_COMPLETED,
    OPTIMIZATION_FAILED,
)
from tradelab_devstack.ports import free_port
from tradelab_devstack.services import ServiceProcess, wait_until_ready
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e

GOOG = files("backtesting.test") / "GOOG.csv"
FINAL = {"completed", "failed", "cancelled"}
SMALL_GRID: dict[str, Any] = {
    "strategy": "sma_cross",
    "parameter_space": {
        "fast": {"start": 5, "stop": 20, "step": 5},
        "slow": {"start": 30, "stop": 60, "step": 10},
    },
    "constraints": [{"left": "fast", "op": "<", "right": "slow"}],
    "objective": {"metric": "sharpe", "direction": "maximize"},
    "options": {"fee_rate": 0.001},
}


class User:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        response = client.post(
            "/api/v1/auth/register",
            json={"email": f"opt-{time.monotonic_ns()}@example.com", "password": "long enough 1"},
        )
        assert response.status_code == 201, response.text
        self.token: str = response.json()["access_token"]

    def get(self, url: str) -> dict[str, Any]:
        response = self.client.get(url, headers=auth(self.token))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def post(self, url: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.client.post(url, headers=auth(self.token), json=body)

    def upload(self, name: str, content: bytes) -> str:
        created = self.client.post(
            "/api/v1/datasets",
            headers=auth(self.token),
            files={"file": (name, content, "text/csv")},
        ).json()

        def ready() -> str | None:
            body = self.get(f"/api/v1/datasets/{created['id']}")
            return created["id"] if body["status"] == "ready" else None

        return wait_for(ready, 60, f"{name} ingested")

    def finished(self, url: str, deadline_s: float) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            response = self.client.get(url, headers=auth(self.token))
            if response.status_code == httpx.codes.SERVICE_UNAVAILABLE:
                return None  # the engine group rebalancing after a replica died
            body: dict[str, Any] = response.json()
            return body if body["status"] in FINAL else None

        return wait_for(probe, deadline_s, f"{url} finished")


@pytest.fixture(scope="module")
def user(stack: Stack) -> Iterator[User]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30, headers=forwarded_for()) as client:
        yield User(client)


@pytest.fixture(scope="module")
def goog(user: User) -> str:
    return user.upload("GOOG.csv", GOOG.read_bytes())


def test_grid_best_equals_the_best_single_backtest(stack: Stack, user: User, goog: str) -> None:
    live = Collector(open_socket(stack.gateway_url, "/api/v1/ws", user.token))
    created = user.post("/api/v1/optimizations", {"dataset_id": goog, **SMALL_GRID})
    assert created.status_code == 202, created.text
    optimization = created.json()
    # fast 5..20 x slow 30..60: 16 combinations, all with fast < slow.
    assert (optimization["total"], optimization["skipped"]) == (16, 0)
    done = user.finished(f"/api/v1/optimizations/{optimization['id']}", 120)
    assert done["status"] == "completed", done
    assert done["evaluated"] == 16
    assert done["chunks_done"] == done["chunks"] == 1  # 16 combinations, chunks of 20
    # Progress and the best so far streamed over the WebSocket, ending with completed.
    final = wait_for(lambda: live.final_of(optimization["id"]), 30, "final event on the socket")
    live.close()
    streamed = live.events(optimization["id"])
    assert {e["job_type"] for e in streamed} == {"optimization"}
    assert [e["type"] for e in streamed] == ["progress", "completed"]
    assert streamed[0]["evaluated"] == 16
    assert final["best_parameters"] == done["best_parameters"]

    # Run every combination as an ordinary backtest and pick the best by hand.
    singles = []
    for fast in (5, 10, 15, 20):
        for slow in (30, 40, 50, 60):
            body = {
                "dataset_id": goog,
                "strategy": "sma_cross",
                "parameters": {"fast": fast, "slow": slow},
                "options": {"fee_rate": 0.001},
            }
            response = user.post("/api/v1/backtests", body)
            assert response.status_code == 202, response.text
            singles.append(response.json()["id"])
    runs = [user.finished(f"/api/v1/backtests/{run_id}", 120) for run_id in singles]
    best = max(runs, key=lambda r: r["summary"]["sharpe"])
    assert done["best_parameters"] == best["parameters"]
    assert done["best_value"] == pytest.approx(best["summary"]["sharpe"], rel=1e-9)

    page = user.get(f"/api/v1/optimizations/{optimization['id']}/results?limit=100")
    assert page["total"] == 16
    by_parameters = {(r["parameters"]["fast"], r["parameters"]["slow"]): r for r in page["items"]}
    for run in runs:
        row = by_parameters[(run["parameters"]["fast"], run["parameters"]["slow"])]
        summary = run["summary"]
        for metric in ("final_equity", "total_return", "max_drawdown", "sharpe", "exposure"):
            assert row["metrics"][metric] == pytest.approx(summary[metric], rel=1e-9), metric
        assert row["metrics"]["trades"] == summary["trades"]
    objectives = [r["objective"] for r in page["items"]]
    assert objectives == sorted(objectives, reverse=True)  # best first

    grid = user.get(
        f"/api/v1/optimizations/{optimization['id']}/heatmap?x=fast&y=slow&metric=total_return"
    )
    assert grid["x_values"] == [5, 10, 15, 20]
    assert grid["y_values"] == [30, 40, 50, 60]
    assert grid["z"][0][0] == pytest.approx(by_parameters[(5, 30)]["metrics"]["total_return"])


def test_bad_searches_are_refused_with_422(user: User, goog: str) -> None:
    def refused(**changes: Any) -> dict[str, Any]:
        response = user.post("/api/v1/optimizations", {"dataset_id": goog, **SMALL_GRID, **changes})
        assert response.status_code == 422, response.text
        body: dict[str, Any] = response.json()
        return body

    assert "nope" in refused(parameter_space={"nope": [1, 2]})["detail"]
    assert "objective" in refused(objective={"metric": "calmar"})["detail"]
    assert (
        "No combination"
        in refused(constraints=[{"left": "fast", "op": ">", "right": "slow"}])["detail"]
    )
    assert (
        "population x generations"
        in refused(search={"kind": "genetic", "population": 10_000, "generations": 100})["detail"]
    )
    refused(search={"kind": "random"})  # n_samples missing
    other = User(user.client)
    response = other.post("/api/v1/optimizations", {"dataset_id": goog, **SMALL_GRID})
    assert response.status_code == 404  # not their dataset


def test_genetic_search_is_reproducible_and_ranks_what_it_evaluated(user: User, goog: str) -> None:
    body = {
        "dataset_id": goog,
        **SMALL_GRID,
        "parameter_space": {
            "fast": {"start": 2, "stop": 40, "step": 1},
            "slow": {"start": 20, "stop": 200, "step": 5},
        },
        "search": {
            "kind": "genetic",
            "population": 10,
            "generations": 5,
            "mutation_rate": 0.2,
            "crossover_rate": 0.8,
            "seed": 42,
        },
    }
    runs = []
    for _ in range(2):
        created = user.post("/api/v1/optimizations", body)
        assert created.status_code == 202, created.text
        assert (created.json()["total"], created.json()["chunks"]) == (50, 5)
        runs.append(user.finished(f"/api/v1/optimizations/{created.json()['id']}", 120))
    first, second = runs
    assert first["status"] == second["status"] == "completed"
    assert first["evaluated"] == 50
    assert first["best_parameters"] == second["best_parameters"]
    assert first["best_value"] == second["best_value"]

    def rows(optimization: dict[str, Any]) -> list[tuple[int, int, float | None]]:
        page = user.get(f"/api/v1/optimizations/{optimization['id']}/results?limit=100")
        assert page["total"] == 50
        return sorted((r["index"], r["parameters"]["fast"], r["objective"]) for r in page["items"])

    assert rows(first) == rows(second)  # same seed: the same 50 evaluations
    evaluated = rows(first)
    assert all(fast_slow_ok(r) for r in evaluated_parameters(user, first))
    assert first["best_value"] == max(o for _, _, o in evaluated if o is not None)


def test_walk_forward_tests_each_folds_best_and_stitches_the_out_of_sample_equity(
    user: User, goog: str
) -> None:
    body = {
        "dataset_id": goog,
        **SMALL_GRID,
        "parameter_space": {
            "fast": {"start": 5, "stop": 20, "step": 5},
            "slow": {"start": 30, "stop": 90, "step": 10},
        },
        "objective": {"metric": "total_return"},
        "walk_forward": {"mode": "rolling", "train_bars": 500, "test_bars": 250},
    }
    created = user.post("/api/v1/optimizations", body)
    assert created.status_code == 202, created.text
    optimization = created.json()
    url = f"/api/v1/optimizations/{optimization['id']}"
    # GOOG has 2,148 bars: folds train on [250k, 250k + 500) and test on the next 250 bars
    # while any are left, so 7 folds; 28 combinations each, in two chunks (20 + 8) per fold.
    assert (optimization["folds"], optimization["total"], optimization["chunks"]) == (7, 196, 14)
    assert optimization["walk_forward"]["mode"] == "rolling"
    done = user.finished(url, 120)
    assert done["status"] == "completed", done
    assert done["evaluated"] == 196

    report = user.get(f"{url}/walk-forward?max_points=100")
    folds = report["folds"]
    assert [
        (f["train"]["start_bar"], f["test"]["start_bar"], f["test"]["end_bar"]) for f in folds
    ] == [(250 * k, 250 * k + 500, min(250 * k + 750, 2148)) for k in range(7)]
    chained = 1.0
    for fold in folds:
        assert fold["done"]
        page = user.get(f"{url}/results?fold={fold['fold_index']}&limit=100")
        assert page["total"] == 28
        assert {r["fold_index"] for r in page["items"]} == {fold["fold_index"]}
        best = max(page["items"], key=lambda r: (r["objective"], -r["index"]))
        assert fold["best_parameters"] == best["parameters"]
        assert fold["train_metrics"] == best["metrics"]
        chained *= 1 + fold["test_metrics"]["total_return"]
    assert done["best_parameters"] == folds[-1]["best_parameters"]  # what to trade next
    out = report["out_of_sample"]
    assert out["total_return"] == pytest.approx(chained - 1, rel=1e-9)
    assert out["trades"] == sum(f["test_metrics"]["trades"] for f in folds)
    assert report["equity_points"] == 2148 - 500
    assert len(report["equity"]) == len(report["equity_time"]) == 100
    assert report["equity"][-1] == pytest.approx(out["final_equity"], rel=1e-12)
    assert report["equity_fold"][0] == 0
    assert report["equity_fold"][-1] == 6
    first_time = datetime.fromisoformat(report["equity_time"][0])
    assert first_time == datetime.fromisoformat(folds[0]["test_start"])

    grid = user.get(f"{url}/heatmap?x=fast&y=slow&fold=0")
    fold0 = user.get(f"{url}/results?fold=0&limit=100")["items"]
    assert max(v for row in grid["z"] for v in row if v is not None) == pytest.approx(
        max(r["objective"] for r in fold0)
    )
    assert (
        user.client.get(f"{url}/heatmap?x=fast&y=slow&fold=7", headers=auth(user.token)).status_code
        == 422
    )
    plain = user.post("/api/v1/optimizations", {"dataset_id": goog, **SMALL_GRID}).json()
    missing = user.client.get(
        f"/api/v1/optimizations/{plain['id']}/walk-forward", headers=auth(user.token)
    )
    assert missing.status_code == 404
    other = User(user.client)
    assert other.client.get(f"{url}/walk-forward", headers=auth(other.token)).status_code == 404


def test_walk_forward_schemes_that_do_not_fit_are_refused_with_422(user: User, goog: str) -> None:
    def refused(walk_forward: dict[str, Any], **changes: Any) -> str:
        body = {"dataset_id": goog, **SMALL_GRID, "walk_forward": walk_forward, **changes}
        response = user.post("/api/v1/optimizations", body)
        assert response.status_code == 422, response.text
        detail: str = response.json()["detail"]
        return detail

    assert "leaves none to test" in refused({"mode": "rolling", "train_bars": 5000, "test_bars": 9})
    assert "overlap" in refused(
        {"mode": "anchored", "train_bars": 500, "test_bars": 100, "step_bars": 50}
    )
    # 200 x 200 = 40,000 runs alone, but on each of GOOG's 7 rolling folds: 280,000.
    genetic = {"kind": "genetic", "population": 200, "generations": 200}
    assert "population x generations x folds is 280,000" in refused(
        {"mode": "rolling", "train_bars": 500, "test_bars": 250}, search=genetic
    )


def test_genetic_walk_forward_evolves_on_every_fold_and_tests_each_folds_best(
    user: User, goog: str
) -> None:
    body = {
        "dataset_id": goog,
        **SMALL_GRID,
        "parameter_space": {
            "fast": {"start": 2, "stop": 40, "step": 1},
            "slow": {"start": 20, "stop": 200, "step": 5},
        },
        "search": {"kind": "genetic", "population": 6, "generations": 3, "seed": 7},
        "objective": {"metric": "total_return"},
        "walk_forward": {"mode": "anchored", "train_bars": 1000, "test_bars": 400},
    }
    runs = []
    for _ in range(2):
        created = user.post("/api/v1/optimizations", body)
        assert created.status_code == 202, created.text
        # GOOG's 2,148 bars: folds test [1000, 1400), [1400, 1800), [1800, 2148); each evolves
        # 3 generations of 6, one chunk per generation.
        shown = created.json()
        assert (shown["folds"], shown["total"], shown["chunks"]) == (3, 54, 9)
        runs.append(user.finished(f"/api/v1/optimizations/{shown['id']}", 120))
    first, second = runs
    assert first["status"] == second["status"] == "completed", first
    assert first["evaluated"] == 54
    url = f"/api/v1/optimizations/{first['id']}"
    report = user.get(f"{url}/walk-forward?max_points=50")
    folds = report["folds"]
    assert [f["train"]["start_bar"] for f in folds] == [0, 0, 0]  # anchored
    tests = [(f["test"]["start_bar"], f["test"]["end_bar"]) for f in folds]
    assert tests == [(1000, 1400), (1400, 1800), (1800, 2148)]
    chained = 1.0
    for fold in folds:
        page = user.get(f"{url}/results?fold={fold['fold_index']}&limit=100")
        assert page["total"] == 18  # 3 generations of 6 on this fold's training window
        ranked = [r for r in page["items"] if r["objective"] is not None]
        best = max(ranked, key=lambda r: (r["objective"], -r["index"]))
        assert fold["best_parameters"] == best["parameters"]
        assert fold["best_parameters"]["fast"] < fold["best_parameters"]["slow"]
        chained *= 1 + fold["test_metrics"]["total_return"]
    assert report["out_of_sample"]["total_return"] == pytest.approx(chained - 1, rel=1e-9)
    assert first["best_parameters"] == folds[-1]["best_parameters"]
    again = user.get(f"/api/v1/optimizations/{second['id']}/walk-forward?max_points=50")
    assert [f["best_parameters"] for f in again["folds"]] == [f["best_parameters"] for f in folds]
    assert again["out_of_sample"] == report["out_of_sample"]  # the same seed, the same search


def evaluated_parameters(user: User, optimization: dict[str, Any]) -> list[dict[str, Any]]:
    page = user.get(f"/api/v1/optimizations/{optimization['id']}/results?limit=100")
    return [r["parameters"] for r in page["items"]]


def fast_slow_ok(parameters: dict[str, Any]) -> bool:
    return bool(parameters["fast"] < parameters["slow"])


def test_cancel_stops_an_optimisation_and_others_cannot_see_it(user: User, goog: str) -> None:
    body = {
        "dataset_id": goog,
        **SMALL_GRID,
        "parameter_space": {
            "fast": {"start": 2, "stop": 60, "step": 1},
            "slow": {"start": 61, "stop": 200, "step": 1},
        },
    }
    created = user.post("/api/v1/optimizations", body).json()
    assert created["total"] == 59 * 140
    cancelled = user.post(f"/api/v1/optimizations/{created['id']}/cancel")
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    time.sleep(2)
    after = user.get(f"/api/v1/optimizations/{created['id']}")
    assert after["status"] == "cancelled"
    assert after["evaluated"] < after["total"]
    again = user.post(f"/api/v1/optimizations/{created['id']}/cancel")
    assert again.status_code == 409
    other = User(user.client)
    assert (
        other.client.get(
            f"/api/v1/optimizations/{created['id']}", headers=auth(other.token)
        ).status_code
        == 404
    )
    listed = user.get("/api/v1/optimizations?status=cancelled")
    assert created["id"] in {o["id"] for o in listed["items"]}


def test_an_optimisation_left_unfinished_by_a_dead_replica_is_finished_on_redelivery(
    stack: Stack, user: User, goog: str
) -> None:
    created = user.post("/api/v1/optimizations", {"dataset_id": goog, **SMALL_GRID}).json()
    done = user.finished(f"/api/v1/optimizations/{created['id']}", 120)
    assert done["status"] == "completed", done
    # A replica that stored the last chunk and died before recording the results file, the
    # completed status and its event (one transaction) leaves exactly this behind: every chunk
    # stored, still running, nothing announced.
    row = optimization_row(stack.database_url, created["id"], unfinish=True)
    assert row["results_uri"] is not None
    left = optimization_row(stack.database_url, created["id"])
    assert (left["status"], left["results_uri"]) == ("running", None)
    seen = user.get(f"/api/v1/optimizations/{created['id']}")
    assert (seen["status"], seen["evaluated"]) == ("running", 16)
    running = user.get("/api/v1/optimizations?status=running")["items"]
    assert created["id"] in {o["id"] for o in running}
    # Its chunk was never committed, so the broker hands it to another replica.
    chunk = RunOptimizationChunk(
        optimization_id=created["id"],
        owner_id=row["owner_id"],
        chunk_index=0,
        chunk_count=1,
        combinations=[{"fast": 5, "slow": 30}],
        dataset_uri=row["dataset_uri"],
        dataset_sha256=row["dataset_sha256"],
        strategy="sma_cross",
        options=EngineOptions(fee_rate=0.001),
        objective=Objective(metric="sharpe"),
    )
    announced = asyncio.run(publish_and_await(stack.kafka_bootstrap, chunk, OPTIMIZATION_COMPLETED))
    assert announced["optimization_id"] == created["id"]
    assert announced["sequence"] == done["sequence"]  # the same end, not a new one
    assert announced["best_parameters"] == done["best_parameters"]
    finished = optimization_row(stack.database_url, created["id"])
    assert (finished["status"], finished["results_uri"]) == ("completed", row["results_uri"])
    after = user.get(f"/api/v1/optimizations/{created['id']}")
    assert after["status"] == "completed"
    assert (after["evaluated"], after["chunks_done"]) == (16, 1)  # nothing counted twice


def test_a_chunk_that_cannot_be_evaluated_fails_the_optimisation_and_says_so(
    stack: Stack, user: User, goog: str
) -> None:
    done = user.post("/api/v1/optimizations", {"dataset_id": goog, **SMALL_GRID}).json()
    user.finished(f"/api/v1/optimizations/{done['id']}", 120)
    # A running optimisation of the same user whose chunk names a file that cannot be read
    # (stored directly, so no chunk of its own competes with the broken one).
    running = uuid.uuid4()
    row = copy_as_running(stack.database_url, done["id"], str(running))
    broken = RunOptimizationChunk(
        optimization_id=running,
        owner_id=row["owner_id"],
        chunk_index=0,
        chunk_count=1,
        combinations=[{"fast": 5, "slow": 30}],
        dataset_uri=row["dataset_uri"] + ".gone",
        dataset_sha256=row["dataset_sha256"],
        strategy="sma_cross",
        options=EngineOptions(),
        objective=Objective(metric="sharpe"),
    )
    announced = asyncio.run(publish_and_await(stack.kafka_bootstrap, broken, OPTIMIZATION_FAILED))
    assert announced["reason_code"] == "internal"
    assert announced["message"] == "Chunk 0 could not be evaluated: FileNotFoundError."
    failed = user.get(f"/api/v1/optimizations/{running}")
    assert failed["status"] == "failed"
    assert failed["failure_message"] == announced["message"]
    assert announced["sequence"] == failed["sequence"] == 1


def copy_as_running(database_url: str, optimization_id: str, new_id: str) -> dict[str, Any]:
    """Store a copy of an optimisation as running with nothing evaluated; the original row."""

    async def copy() -> dict[str, Any]:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO engine.optimizations (id, owner_id, dataset_id, dataset_uri,"
                        " dataset_sha256, timeframe, strategy, spec, status, total, skipped,"
                        " evaluated, chunks, chunks_done, event_seq, created_at, updated_at)"
                        " SELECT :new_id, owner_id, dataset_id, dataset_uri, dataset_sha256,"
                        " timeframe, strategy, spec, 'running', total, skipped, 0, chunks, 0, 0,"
                        " now(), now() FROM engine.optimizations WHERE id = :id"
                    ),
                    {"id": optimization_id, "new_id": new_id},
                )
                row = await conn.execute(
                    text("SELECT * FROM engine.optimizations WHERE id = :id"),
                    {"id": optimization_id},
                )
                return dict(row.mappings().one())
        finally:
            await engine.dispose()

    return asyncio.run(copy())


async def publish_and_await(
    bootstrap: str, chunk: RunOptimizationChunk, event_topic: str
) -> dict[str, Any]:
    """Publish ``chunk`` as the engine does and wait for an event of its optimisation on
    ``event_topic`` (read from its current end)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await consumer.start()
    await producer.start()
    try:
        await consumer.topics()  # fetches the cluster metadata partitions_for_topic reads
        partitions = [
            TopicPartition(event_topic, p)
            for p in sorted(consumer.partitions_for_topic(event_topic) or ())
        ]
        assert partitions, f"{event_topic} has no partitions"
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for partition in partitions:
            await consumer.position(partition)
        await producer.send_and_wait(
            OPTIMIZATION_CHUNK_REQUESTED,
            chunk.model_dump_json().encode(),
            key=f"{chunk.optimization_id}:0".encode(),
            headers=[("content-type", b"application/json")],
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    event: dict[str, Any] = json.loads(record.value or b"{}")
                    if event.get("optimization_id") == str(chunk.optimization_id):
                        return event
        raise AssertionError(f"nothing on {event_topic} for the optimisation")
    finally:
        await producer.stop()
        await consumer.stop()


def optimization_row(
    database_url: str, optimization_id: str, *, unfinish: bool = False
) -> dict[str, Any]:
    """The optimisation's stored row (before taking back its completion, when asked to leave it
    unfinished)."""

    async def fetch() -> dict[str, Any]:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as conn:
                row = (
                    (
                        await conn.execute(
                            text("SELECT * FROM engine.optimizations WHERE id = :id"),
                            {"id": optimization_id},
                        )
                    )
                    .mappings()
                    .one()
                )
                if unfinish:
                    await conn.execute(
                        text(
                            "UPDATE engine.optimizations SET status = 'running',"
                            " results_uri = NULL, finished_at = NULL, event_seq = event_seq - 1"
                            " WHERE id = :id"
                        ),
                        {"id": optimization_id},
                    )
                return dict(row)
        finally:
            await engine.dispose()

    return asyncio.run(fetch())


def chunk_workers(database_url: str, optimization_id: str) -> dict[str, int]:
    async def fetch() -> dict[str, int]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text(
                        "SELECT worker, count(*) FROM engine.optimization_chunks "
                        "WHERE optimization_id = :id AND done GROUP BY worker"
                    ),
                    {"id": optimization_id},
                )
                return {str(worker): int(count) for worker, count in rows}
        finally:
            await engine.dispose()

    return asyncio.run(fetch())


def test_a_grid_spread_over_two_replicas_survives_killing_one(stack: Stack, user: User) -> None:
    dataset = user.upload("minutes.csv", minute_bars_csv(20_000, seed=11))
    first = stack.processes["engine"]
    second = ServiceProcess("engine", free_port(), first.env, instance="b")
    second.start()
    try:
        wait_until_ready([second], 120)
        time.sleep(6)  # both replicas in the chunk group before the chunks are published
        body = {
            "dataset_id": dataset,
            **SMALL_GRID,
            "parameter_space": {
                "fast": {"start": 5, "stop": 40, "step": 1},
                "slow": {"start": 50, "stop": 200, "step": 5},
            },
        }
        created = user.post("/api/v1/optimizations", body)
        assert created.status_code == 202, created.text
        optimization = created.json()
        total, chunks = optimization["total"], optimization["chunks"]
        assert total == 36 * 31
        assert chunks == -(-total // 20)

        def b_has_worked() -> bool | None:
            done = chunk_workers(stack.database_url, optimization["id"])
            return True if done.get("engine-b", 0) >= 2 else None

        wait_for(b_has_worked, 60, "replica b evaluated chunks")
        second.kill()  # SIGKILL mid-job: its chunk in hand was never committed
        at_kill = sum(chunk_workers(stack.database_url, optimization["id"]).values())
        assert at_kill < chunks, "the job ended before the kill"

        done = user.finished(f"/api/v1/optimizations/{optimization['id']}", 180)
        assert done["status"] == "completed", done
        assert done["evaluated"] == total
        assert done["chunks_done"] == chunks
        page = user.get(f"/api/v1/optimizations/{optimization['id']}/results?limit=1000")
        assert page["total"] == total
        rest = user.get(
            f"/api/v1/optimizations/{optimization['id']}/results?limit=1000&offset=1000"
        )
        indices = [r["index"] for r in page["items"] + rest["items"]]
        assert sorted(indices) == list(range(total))  # every combination exactly once
        workers = chunk_workers(stack.database_url, optimization["id"])
        assert sum(workers.values()) == chunks
        assert set(workers) == {"engine-b", first_worker(stack)}
    finally:
        second.kill()


def first_worker(stack: Stack) -> str:
    """The instance id of the stack's own engine (its worker name)."""
    health = httpx.get(f"{stack.processes['engine'].url}/readyz", timeout=5).json()
    worker: str = health["instance_id"]
    return worker
