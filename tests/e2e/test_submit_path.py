"""The short submit path (issue 15, latency): the gateway answers a submission's dataset lookup
from the shared Redis cache of ready datasets, never once the dataset is deleted, and an idle
engine runs the backtest it accepted at once instead of waiting for the job's message."""

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.helpers import auth, register, run_to_end, upload_goog
from tradelab_devstack.stack import Stack
from tradelab_runtime.metrics import MetricName


def sample(url: str, family: str, labels: dict[str, str]) -> float:
    """The value of ``family``'s sample with ``labels`` on the process at ``url`` (0 if none)."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    for parsed in text_string_to_metric_families(response.text):
        for s in parsed.samples:
            if s.name == family and labels.items() <= s.labels.items():
                return float(s.value)
    return 0.0


def cache_hits(stack: Stack) -> float:
    labels = {"cache": "ready_datasets", "result": "hit"}
    return sample(stack.processes["gateway"].url, MetricName.CACHE_REQUESTS, labels)


def direct_turns(stack: Stack) -> float:
    labels = {"kind": "backtest", "path": "direct"}
    return sample(stack.processes["engine"].url, MetricName.JOB_TURNS, labels)


def goog_user(gateway: httpx.Client, prefix: str) -> tuple[str, str]:
    """A new user's access token and their ready GOOG dataset's id."""
    token = register(gateway, prefix)
    return token, upload_goog(gateway, token)


def completed_sma(gateway: httpx.Client, token: str, dataset_id: str, fast: int, slow: int) -> None:
    """Run ``sma_cross`` (fast, slow) on the dataset to its end; it completes."""
    body = {"dataset_id": dataset_id, "strategy": "sma_cross"}
    run = run_to_end(gateway, token, body | {"parameters": {"fast": fast, "slow": slow}})
    assert run["status"] == "completed", run


def test_submissions_read_the_ready_dataset_from_the_cache_until_it_is_deleted(
    stack: Stack, gateway: httpx.Client
) -> None:
    token, dataset_id = goog_user(gateway, "submit-cache")
    before = cache_hits(stack)
    # upload_goog's last GET found the dataset ready, and the gateway kept it: all three hit.
    for fast in (8, 9, 10):
        completed_sma(gateway, token, dataset_id, fast, 30)
    assert cache_hits(stack) >= before + 3

    deleted = gateway.delete(f"/api/v1/datasets/{dataset_id}", headers=auth(token))
    assert deleted.status_code == 204, deleted.text
    again = {"dataset_id": dataset_id, "strategy": "sma_cross", "parameters": {"fast": 11}}
    refused = gateway.post("/api/v1/backtests", headers=auth(token), json=again)
    assert refused.status_code == 404, refused.text  # not answered from the cache


def test_an_idle_engine_runs_the_backtest_it_accepted_at_once(
    stack: Stack, gateway: httpx.Client
) -> None:
    token, dataset_id = goog_user(gateway, "submit-direct")
    before = direct_turns(stack)
    # The engine is shared with the other e2e tests: a run of theirs may hold its slot, so up to
    # five submissions, one after the other, each when the previous ended.
    for fast in range(5, 10):
        completed_sma(gateway, token, dataset_id, fast, 40)
        if direct_turns(stack) > before:
            break
    assert direct_turns(stack) > before
