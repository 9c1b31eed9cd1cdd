"""Issue 14, bounds before allocation: an optimisation over 50,000,000 parameter values is refused
at once (422 naming its size, by the gateway before the engine is asked) for grid, random and
genetic search alike, without the engine or the gateway growing, and every service stays healthy.
The engine's own refusal of the same searches is in tests/integration/test_optimization_jobs.py."""

import time
from typing import Any

import httpx
import pytest

from tests.e2e.abuse import MEMORY_BOUND_MIB, assert_all_healthy, memory_growth
from tests.e2e.helpers import auth, upload_goog
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e

REFUSAL_S = 1.0
"""Issue 14: a search too large to run is refused within this long."""
FIFTY_MILLION = {"fast": {"start": 1, "stop": 50_000_000, "step": 1}}
SEARCHES = {
    "grid": ({"kind": "grid"}, "50,000,000 combinations"),
    "random": ({"kind": "random", "n_samples": 100, "seed": 1}, "50,000,000 values"),
    "genetic": (
        {"kind": "genetic", "population": 10, "generations": 5, "seed": 1},
        "50,000,000 values",
    ),
}


@pytest.fixture
def goog(gateway: httpx.Client, user_token: str) -> str:
    return upload_goog(gateway, user_token)


@pytest.mark.parametrize("kind", list(SEARCHES))
def test_a_fifty_million_value_space_is_refused_at_once_without_growing(
    kind: str, stack: Stack, gateway: httpx.Client, user_token: str, goog: str
) -> None:
    search, size = SEARCHES[kind]
    body: dict[str, Any] = {
        "dataset_id": goog,
        "strategy": "sma_cross",
        "parameter_space": FIFTY_MILLION,
        "search": search,
    }
    with memory_growth(stack, "engine") as engine, memory_growth(stack, "gateway") as gate:
        started = time.monotonic()
        response = gateway.post("/api/v1/optimizations", headers=auth(user_token), json=body)
        elapsed = time.monotonic() - started

    print(
        f"\n{kind}: status {response.status_code} in {elapsed:.3f} s; engine grew "
        f"{engine.grown_mib:.1f} MiB (peak {engine.peak_mib:.1f}), gateway grew "
        f"{gate.grown_mib:.1f} MiB (peak {gate.peak_mib:.1f}); {response.json().get('detail')}"
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert size in response.json()["detail"]
    assert response.json()["code"] == "validation_error"  # the gateway's, not the engine's
    assert elapsed < REFUSAL_S
    assert engine.grown_mib < MEMORY_BOUND_MIB
    assert gate.grown_mib < MEMORY_BOUND_MIB
    assert_all_healthy(stack)
