"""Retrying a job submission with an Idempotency-Key through the gateway: the same POST twice is
one job, another body under the key is refused, keys are per user, a malformed key is a 422."""

import secrets
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import auth, register, upload_goog

pytestmark = pytest.mark.e2e


@pytest.fixture
def goog_dataset(gateway: httpx.Client, user_token: str) -> str:
    """GOOG daily uploaded by the test user, ingested and ready."""
    return upload_goog(gateway, user_token)


def body(dataset_id: str, fast: int = 10) -> dict[str, Any]:
    return {"dataset_id": dataset_id, "strategy": "sma_cross", "parameters": {"fast": fast}}


def post(
    gateway: httpx.Client, token: str, path: str, json: dict[str, Any], key: str | None
) -> httpx.Response:
    headers = auth(token) | ({"Idempotency-Key": key} if key is not None else {})
    return gateway.post(path, headers=headers, json=json)


def run_ids(gateway: httpx.Client, token: str) -> list[str]:
    page = gateway.get("/api/v1/backtests", headers=auth(token)).json()
    return [run["id"] for run in page["items"]]


def test_the_same_backtest_posted_twice_with_one_key_is_one_run(
    gateway: httpx.Client, user_token: str, goog_dataset: str
) -> None:
    key = f"retry-{secrets.token_hex(8)}"
    first = post(gateway, user_token, "/api/v1/backtests", body(goog_dataset), key)
    retry = post(gateway, user_token, "/api/v1/backtests", body(goog_dataset), key)

    assert first.status_code == 202, first.text
    assert retry.status_code == 202, retry.text
    run_id = first.json()["id"]
    assert retry.json()["id"] == run_id
    assert retry.headers["Location"] == f"/api/v1/backtests/{run_id}"
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert run_ids(gateway, user_token) == [run_id]


def test_the_key_with_another_body_is_refused_and_creates_nothing(
    gateway: httpx.Client, user_token: str, goog_dataset: str
) -> None:
    first = post(gateway, user_token, "/api/v1/backtests", body(goog_dataset), "order-1")
    other = post(gateway, user_token, "/api/v1/backtests", body(goog_dataset, fast=12), "order-1")

    assert other.status_code == 422, other.text
    assert other.json()["code"] == "idempotency_key_reused"
    assert run_ids(gateway, user_token) == [first.json()["id"]]


def test_without_a_key_the_same_post_twice_is_two_runs(
    gateway: httpx.Client, user_token: str, goog_dataset: str
) -> None:
    for _ in range(2):
        response = post(gateway, user_token, "/api/v1/backtests", body(goog_dataset), None)
        assert response.status_code == 202, response.text

    assert len(set(run_ids(gateway, user_token))) == 2


def test_another_users_key_never_names_your_job(
    gateway: httpx.Client, user_token: str, goog_dataset: str
) -> None:
    other_token = register(gateway, "other")
    other_dataset = upload_goog(gateway, other_token)

    mine = post(gateway, user_token, "/api/v1/backtests", body(goog_dataset), "shared-key")
    theirs = post(gateway, other_token, "/api/v1/backtests", body(other_dataset), "shared-key")

    assert theirs.status_code == 202, theirs.text
    assert theirs.json()["id"] != mine.json()["id"]
    assert run_ids(gateway, other_token) == [theirs.json()["id"]]


DATASET = "00000000-0000-0000-0000-000000000001"
SUBMISSIONS = {
    "/api/v1/backtests": body(DATASET),
    "/api/v1/optimizations": {
        "dataset_id": DATASET,
        "strategy": "sma_cross",
        "parameter_space": {"fast": [5, 10]},
    },
    "/api/v1/monte-carlo": {"method": "gbm_paths", "dataset_id": DATASET, "strategy": "sma_cross"},
}


@pytest.mark.parametrize("key", ["", "x" * 256, "two words"], ids=["empty", "long", "space"])
@pytest.mark.parametrize("path", list(SUBMISSIONS))
def test_a_malformed_key_is_a_422_naming_the_header(
    gateway: httpx.Client, user_token: str, key: str, path: str
) -> None:
    response = post(gateway, user_token, path, SUBMISSIONS[path], key)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


def test_a_monte_carlo_study_posted_twice_with_one_key_keeps_its_drawn_seed(
    gateway: httpx.Client, user_token: str, goog_dataset: str
) -> None:
    study = {
        "method": "gbm_paths",
        "dataset_id": goog_dataset,
        "strategy": "sma_cross",
        "n_simulations": 20,
    }  # no seed: the gateway draws one per request
    first = post(gateway, user_token, "/api/v1/monte-carlo", study, "study-1")
    retry = post(gateway, user_token, "/api/v1/monte-carlo", study, "study-1")

    assert first.status_code == retry.status_code == 202, retry.text
    assert retry.json()["id"] == first.json()["id"]
    assert retry.json()["seed"] == first.json()["seed"]
    page = gateway.get("/api/v1/monte-carlo", headers=auth(user_token)).json()
    assert page["total"] == 1
