"""Backtests through the gateway: catalogue, validation, run, results, cache, isolation."""

import io
from typing import Any

import httpx
import polars as pl
import pytest

from tests.e2e.conftest import E2E_ENV
from tests.e2e.helpers import GOOG, auth, run_to_end, upload_goog
from tests.polling import wait_for

EQUITY_MAX_POINTS = int(E2E_ENV["GATEWAY_EQUITY_MAX_POINTS"])

pytestmark = pytest.mark.e2e


@pytest.fixture
def goog_dataset(gateway: httpx.Client, user_token: str) -> str:
    """GOOG daily uploaded by the test user, ingested and ready."""
    return upload_goog(gateway, user_token)


def test_catalogue_lists_every_strategy_with_a_parameter_schema(
    gateway: httpx.Client, user_token: str
) -> None:
    strategies = gateway.get("/api/v1/strategies", headers=auth(user_token)).json()
    names = {s["name"] for s in strategies}
    assert names == {
        "buy_and_hold",
        "sma_cross",
        "ema_cross",
        "rsi_reversion",
        "macd_cross",
        "bollinger_reversion",
        "bollinger_breakout",
        "donchian_breakout",
        "rules",
    }
    sma = gateway.get("/api/v1/strategies/sma_cross", headers=auth(user_token)).json()
    assert set(sma["parameters_schema"]["properties"]) >= {"fast", "slow"}
    assert gateway.get("/api/v1/strategies/nope", headers=auth(user_token)).status_code == 404


def test_sma_cross_on_goog_completes_with_summary_equity_and_trades(
    gateway: httpx.Client, user_token: str, goog_dataset: str
) -> None:
    body = {
        "dataset_id": goog_dataset,
        "strategy": "sma_cross",
        "parameters": {"fast": 10, "slow": 50},
        "options": {"fee_rate": 0.001},
    }
    run = run_to_end(gateway, user_token, body)
    assert run["status"] == "completed", run
    assert run["progress"] == 1.0
    summary = run["summary"]
    assert summary["trades"] > 0
    assert summary["fees_paid"] > 0
    assert summary["final_equity"] == pytest.approx(100_000 * (1 + summary["total_return"]))

    url = f"/api/v1/backtests/{run['id']}"
    bars = len(GOOG.read_text().strip().splitlines()) - 1
    curve = gateway.get(f"{url}/equity", headers=auth(user_token)).json()
    assert curve["total_points"] == bars
    # Thinned to GATEWAY_EQUITY_MAX_POINTS (1,000 here, E2E_ENV) without `points`, ends kept.
    assert len(curve["points"]) == EQUITY_MAX_POINTS < bars
    assert curve["points"][-1]["equity"] == pytest.approx(summary["final_equity"], rel=1e-12)
    thin = gateway.get(f"{url}/equity", params={"points": 100}, headers=auth(user_token)).json()
    assert len(thin["points"]) == 100
    assert thin["points"][0]["time"] == curve["points"][0]["time"]
    too_many = gateway.get(f"{url}/equity", params={"points": 1001}, headers=auth(user_token))
    assert too_many.status_code == 422, too_many.text
    assert "/equity/download" in too_many.json()["detail"]
    # The full curve is a streamed download.
    full = gateway.get(
        f"{url}/equity/download", params={"format": "parquet"}, headers=auth(user_token)
    )
    assert full.status_code == 200, full.text
    frame = pl.read_parquet(io.BytesIO(full.content))
    assert frame.height == bars
    assert frame["equity"][-1] == pytest.approx(summary["final_equity"], rel=1e-12)
    csv = gateway.get(f"{url}/equity/download", headers=auth(user_token))
    assert csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text.strip().splitlines()) == bars + 1  # a header line

    trades = gateway.get(f"{url}/trades", headers=auth(user_token)).json()
    closed = [t for t in trades["items"] if not t["is_open"]]
    assert len(closed) == summary["trades"]
    assert all(t["exit_index"] > t["entry_index"] for t in closed)

    again = gateway.post("/api/v1/backtests", headers=auth(user_token), json=body).json()
    assert again["cached"] is True
    assert again["status"] == "completed"
    assert again["summary"] == summary


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"strategy": "no_such_strategy"}, "strategy"),
        ({"parameters": {"fast": 50, "slow": 10}}, None),
        ({"parameters": {"fast": 10, "slow": 50, "bogus": 1}}, None),
        ({"options": {"fee_rate": -1}}, "options.fee_rate"),
        ({"options": {"leverage": 5}}, "options.leverage"),
    ],
)
def test_invalid_requests_are_refused_with_422(
    gateway: httpx.Client,
    user_token: str,
    goog_dataset: str,
    change: dict[str, Any],
    field: str | None,
) -> None:
    body = {"dataset_id": goog_dataset, "strategy": "sma_cross", **change}
    response = gateway.post("/api/v1/backtests", headers=auth(user_token), json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["detail"]
    if field is not None:
        assert field in [e["field"] for e in problem["errors"]]


def test_another_users_dataset_and_run_answer_404(
    gateway: httpx.Client, user_token: str, goog_dataset: str
) -> None:
    run = run_to_end(gateway, user_token, {"dataset_id": goog_dataset, "strategy": "buy_and_hold"})
    other = gateway.post(
        "/api/v1/auth/register",
        json={"email": f"x-{run['id'][:8]}@example.com", "password": "another long one"},
    ).json()["access_token"]
    body = {"dataset_id": goog_dataset, "strategy": "buy_and_hold"}
    assert gateway.post("/api/v1/backtests", headers=auth(other), json=body).status_code == 404
    for path in ("", "/equity", "/trades"):
        response = gateway.get(f"/api/v1/backtests/{run['id']}{path}", headers=auth(other))
        assert response.status_code == 404, path
    assert gateway.delete(f"/api/v1/backtests/{run['id']}", headers=auth(other)).status_code == 404
    listed = gateway.get("/api/v1/backtests", headers=auth(other)).json()
    assert listed["total"] == 0


def test_finished_run_can_be_deleted(
    gateway: httpx.Client, user_token: str, goog_dataset: str
) -> None:
    run = run_to_end(gateway, user_token, {"dataset_id": goog_dataset, "strategy": "rsi_reversion"})
    url = f"/api/v1/backtests/{run['id']}"
    assert gateway.delete(url, headers=auth(user_token)).status_code == 204
    assert gateway.get(url, headers=auth(user_token)).status_code == 404


def test_completed_run_gets_its_full_analysis(
    gateway: httpx.Client, user_token: str, goog_dataset: str
) -> None:
    body = {
        "dataset_id": goog_dataset,
        "strategy": "sma_cross",
        "parameters": {"fast": 20, "slow": 100},
        "options": {"fee_rate": 0.001},
    }
    run = run_to_end(gateway, user_token, body)
    url = f"/api/v1/analytics/{run['id']}"

    def analysed() -> dict[str, Any] | None:
        response = gateway.get(url, headers=auth(user_token))
        return response.json() if response.status_code == 200 else None

    analysis = wait_for(analysed, 30, "analysis stored")
    metrics, summary = analysis["metrics"], run["summary"]
    # Two services computed these independently from the same equity curve.
    assert metrics["final_equity"] == pytest.approx(summary["final_equity"], rel=1e-12)
    assert metrics["max_drawdown"] == pytest.approx(summary["max_drawdown"], rel=1e-9)
    assert metrics["sharpe"] == pytest.approx(summary["sharpe"], rel=1e-9)
    assert metrics["trades"] == summary["trades"]
    assert metrics["periods_per_year"] == 252
    assert analysis["strategy"] == "sma_cross"

    other = gateway.post(
        "/api/v1/auth/register",
        json={"email": f"y-{run['id'][:8]}@example.com", "password": "another long one"},
    ).json()["access_token"]
    assert gateway.get(url, headers=auth(other)).status_code == 404
