"""Per-user quotas through the gateway: each one refused with 429 ``quota_exceeded`` problem+json
naming the quota, the usage and the limit; ``/me/usage`` says the same; deleting, cancelling or
finishing frees the place. The e2e stack runs with low limits (``conftest.E2E_ENV``)."""

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.abuse import MEMORY_BOUND_MIB, assert_all_healthy, memory_growth
from tests.e2e.conftest import E2E_ENV
from tests.e2e.helpers import GOOG, auth, minute_bars_csv, register, upload_goog
from tests.polling import wait_for
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e

LIMIT = {
    name: int(E2E_ENV[f"{prefix}_QUOTA_{name.upper()}"])
    for prefix, name in (
        ("DATASETS", "datasets"),
        ("DATASETS", "stored_bytes"),
        ("ENGINE", "backtests"),
        ("ENGINE", "optimizations"),
        ("ENGINE", "walk_forward"),
        ("ENGINE", "monte_carlo"),
        ("ENGINE", "saved_strategies"),
    )
}
SIMULATION_BARS = 500_000_000
"""ENGINE_QUOTA_MONTE_CARLO_SIMULATION_BARS, left at its default in the e2e stack."""
LONG_BARS = 40_000  # 80 paced chunks of 500 bars: about 8 s per backtest, so jobs stay active
SMA_5 = {"type": "sma", "period": 5}
SMA_20 = {"type": "sma", "period": 20}
CROSS = {
    "entry": {"type": "compare", "left": SMA_5, "op": "crosses_above", "right": SMA_20},
    "exit": {"type": "compare", "left": SMA_5, "op": "crosses_below", "right": SMA_20},
}


class Client:
    """A fresh user's calls on the gateway."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.token = register(client, "quota")

    def get(self, url: str) -> httpx.Response:
        return self.client.get(url, headers=auth(self.token))

    def post(self, url: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.client.post(url, headers=auth(self.token), json=body)

    def delete(self, url: str) -> httpx.Response:
        return self.client.delete(url, headers=auth(self.token))

    def upload(self, name: str, content: bytes) -> httpx.Response:
        files = {"file": (name, content, "text/csv")}
        return self.client.post("/api/v1/datasets", headers=auth(self.token), files=files)

    def usage(self) -> dict[str, tuple[int, int]]:
        response = self.get("/api/v1/me/usage")
        assert response.status_code == 200, response.text
        return {q["quota"]: (q["usage"], q["limit"]) for q in response.json()["quotas"]}


def refusal(response: httpx.Response, quota: str) -> dict[str, Any]:
    """Check ``response`` is the 429 problem of ``quota``; its body."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert (body["code"], body["quota"]) == ("quota_exceeded", quota)
    assert body["type"].endswith("/quota_exceeded")
    assert f"'{quota}'" in body["detail"]
    print(f"{quota}: 429 in {response.elapsed.total_seconds() * 1000:.0f} ms")  # closing note
    return body


def fill(submit: Any, quota: str, most: int) -> tuple[list[str], dict[str, Any]]:
    """Submit until ``quota`` refuses (a job that ends meanwhile frees its place, so a few more
    may pass); the ids accepted and the refusal."""
    accepted: list[str] = []
    for attempt in range(most):
        response = submit(attempt)
        if response.status_code == 429:
            return accepted, refusal(response, quota)
        assert response.status_code == 202, response.text
        accepted.append(response.json()["id"])
    pytest.fail(f"{most} submissions never reached the {quota} quota")


@pytest.fixture(scope="module")
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def runner(http: httpx.Client) -> Client:
    """A user who runs jobs on a dataset long enough for them to stay active."""
    return Client(http)


@pytest.fixture(scope="module")
def long_dataset(runner: Client) -> str:
    created = runner.upload("minutes.csv", minute_bars_csv(LONG_BARS, seed=3))
    assert created.status_code == 202, created.text
    dataset_id: str = created.json()["id"]

    def ready() -> str | None:
        status = runner.get(f"/api/v1/datasets/{dataset_id}").json()["status"]
        assert status != "rejected"
        return dataset_id if status == "ready" else None

    return wait_for(ready, 60, "long dataset ready")


def cancel_all(user: Client, kind: str, ids: list[str]) -> None:
    for job_id in ids:
        assert user.post(f"/api/v1/{kind}/{job_id}/cancel").status_code in (202, 409)


def test_datasets_quota_refuses_the_next_upload_and_a_delete_frees_it(http: httpx.Client) -> None:
    user = Client(http)
    ids = []
    for i in range(LIMIT["datasets"]):  # tiny files, rejected or not: each is a dataset
        created = user.upload(f"d{i}.csv", f"time,close\n2024-01-0{i + 1},{i + 1}\n".encode())
        assert created.status_code == 202, created.text
        ids.append(created.json()["id"])

    body = refusal(user.upload("more.csv", b"time,close\n2024-02-01,5\n"), "datasets")
    assert (body["usage"], body["limit"], body["requested"]) == (LIMIT["datasets"],) * 2 + (1,)
    assert user.usage()["datasets"] == (LIMIT["datasets"], LIMIT["datasets"])
    assert len(user.get("/api/v1/datasets").json()["items"]) == LIMIT["datasets"]

    assert user.delete(f"/api/v1/datasets/{ids[0]}").status_code == 204
    assert user.usage()["datasets"] == (LIMIT["datasets"] - 1, LIMIT["datasets"])
    assert user.upload("more.csv", b"time,close\n2024-02-01,5\n").status_code == 202


def test_stored_bytes_refuse_an_upload_before_it_is_read_and_memory_stays_bounded(
    stack: Stack, http: httpx.Client
) -> None:
    user = Client(http)
    kept = user.upload("GOOG.csv", GOOG.read_bytes())
    assert kept.status_code == 202, kept.text
    size = kept.json()["size_bytes"]
    # Over the quota by more than the multipart allowance the gateway subtracts from
    # Content-Length, so the datasets service refuses it before the body is read.
    big = os.urandom(LIMIT["stored_bytes"] - size + 64 * 1024)

    with memory_growth(stack, "gateway") as gateway, memory_growth(stack, "datasets") as datasets:
        body = refusal(user.upload("big.csv", big), "stored_bytes")

    assert (body["usage"], body["limit"]) == (size, LIMIT["stored_bytes"])
    # Judged from Content-Length less the allowance: refused before the file was received.
    assert size + body["requested"] > LIMIT["stored_bytes"]
    assert body["requested"] < len(big)
    print(
        f"stored_bytes refusal of {len(big):,} bytes: gateway grew {gateway.grown_mib:.1f} MiB, "
        f"datasets {datasets.grown_mib:.1f} MiB"
    )
    assert gateway.grown_mib < MEMORY_BOUND_MIB
    assert datasets.grown_mib < MEMORY_BOUND_MIB
    assert user.usage()["stored_bytes"] == (size, LIMIT["stored_bytes"])
    assert len(user.get("/api/v1/datasets").json()["items"]) == 1
    assert_all_healthy(stack)


def test_backtests_quota_counts_queued_and_running_runs_and_a_cancel_frees_one(
    runner: Client, long_dataset: str
) -> None:
    def submit(i: int) -> httpx.Response:
        body = {
            "dataset_id": long_dataset,
            "strategy": "sma_cross",
            "parameters": {"fast": 5 + i, "slow": 100 + i},
        }
        return runner.post("/api/v1/backtests", body)

    accepted, body = fill(submit, "backtests", LIMIT["backtests"] + 10)
    try:
        assert (body["usage"], body["limit"]) == (LIMIT["backtests"], LIMIT["backtests"])
        active = sum(
            runner.get(f"/api/v1/backtests?status={status}").json()["total"]
            for status in ("queued", "running")
        )
        assert runner.usage()["backtests"] == (active, LIMIT["backtests"])

        cancel_all(runner, "backtests", accepted[-1:])  # queued: cancelled at once
        again = submit(LIMIT["backtests"] + 20)
        assert again.status_code == 202, again.text
        accepted.append(again.json()["id"])
    finally:
        cancel_all(runner, "backtests", accepted)
    wait_for(lambda: runner.usage()["backtests"][0] == 0 or None, 30, "backtests cancelled")


def search(dataset_id: str, walk_forward: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "dataset_id": dataset_id,
        "strategy": "sma_cross",
        "parameter_space": {
            "fast": {"start": 5, "stop": 24, "step": 1},
            "slow": {"start": 30, "stop": 49, "step": 1},
        },
        "objective": {"metric": "sharpe", "direction": "maximize"},
    }
    if walk_forward is not None:
        body["walk_forward"] = walk_forward
    return body


@pytest.mark.parametrize(
    ("quota", "walk_forward"),
    [
        ("optimizations", None),
        ("walk_forward", {"mode": "rolling", "train_bars": 20_000, "test_bars": 10_000}),
    ],
)
def test_optimisation_quotas_are_counted_per_kind(
    runner: Client, long_dataset: str, quota: str, walk_forward: dict[str, Any] | None
) -> None:
    def submit(_: int) -> httpx.Response:
        return runner.post("/api/v1/optimizations", search(long_dataset, walk_forward))

    accepted, body = fill(submit, quota, LIMIT[quota] + 5)
    try:
        assert (body["usage"], body["limit"]) == (LIMIT[quota], LIMIT[quota])
        usage = runner.usage()
        assert usage[quota] == (len(accepted), LIMIT[quota])
        other = "walk_forward" if quota == "optimizations" else "optimizations"
        assert usage[other][0] == 0  # the other kind keeps its own places
    finally:
        cancel_all(runner, "optimizations", accepted)
    assert runner.usage()[quota] == (0, LIMIT[quota])


def test_monte_carlo_quotas_count_studies_and_simulation_bars(http: httpx.Client) -> None:
    user = Client(http)
    goog = upload_goog(http, user.token)
    base = {"method": "gbm_paths", "dataset_id": goog, "strategy": "sma_cross"}

    too_big = user.post(
        "/api/v1/monte-carlo", base | {"n_simulations": 100_000, "horizon_bars": 10_000}
    )
    body = refusal(too_big, "monte_carlo_simulation_bars")
    assert (body["usage"], body["limit"], body["requested"]) == (0, SIMULATION_BARS, 10**9)

    def submit(i: int) -> httpx.Response:
        return user.post(
            "/api/v1/monte-carlo", base | {"n_simulations": 10_000, "horizon_bars": 500, "seed": i}
        )

    accepted, body = fill(submit, "monte_carlo", LIMIT["monte_carlo"] + 5)
    try:
        assert (body["usage"], body["limit"]) == (LIMIT["monte_carlo"], LIMIT["monte_carlo"])
        usage = user.usage()
        studies = usage["monte_carlo"][0]
        assert usage["monte_carlo_simulation_bars"] == (studies * 10_000 * 500, SIMULATION_BARS)
    finally:
        cancel_all(user, "monte-carlo", accepted)


def test_saved_strategies_quota_and_a_delete_frees_it(http: httpx.Client) -> None:
    user = Client(http)
    for i in range(LIMIT["saved_strategies"]):
        saved = user.post("/api/v1/strategies", {"name": f"keep_{i}", **CROSS})
        assert saved.status_code == 201, saved.text

    body = refusal(
        user.post("/api/v1/strategies", {"name": "one_more", **CROSS}), "saved_strategies"
    )
    assert (body["usage"], body["limit"]) == (LIMIT["saved_strategies"],) * 2
    assert user.usage()["saved_strategies"] == (LIMIT["saved_strategies"],) * 2

    assert user.delete("/api/v1/strategies/keep_0").status_code == 204
    assert user.post("/api/v1/strategies", {"name": "one_more", **CROSS}).status_code == 201


def test_usage_is_the_users_own_and_lists_every_quota(http: httpx.Client) -> None:
    first, second = Client(http), Client(http)
    assert first.upload("a.csv", b"time,close\n2024-01-01,1\n").status_code == 202
    assert second.usage()["datasets"] == (0, LIMIT["datasets"])
    assert set(first.usage()) == {
        "datasets",
        "stored_bytes",
        "backtests",
        "optimizations",
        "walk_forward",
        "monte_carlo",
        "monte_carlo_simulation_bars",
        "saved_strategies",
    }
    assert http.get("/api/v1/me/usage").status_code == 401
