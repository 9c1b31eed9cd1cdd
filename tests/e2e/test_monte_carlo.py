"""Monte Carlo studies through the gateway: bootstraps of a GOOG backtest reproduced by their
seed and checked against a hand-computed mean, price paths fitted to GOOG, list filters, cancel,
priority, isolation between users, and a study followed over the WebSocket.

The e2e engine sleeps ``ENGINE_CHUNK_PAUSE_S`` (0.1 s) after every stream of 256 simulations, so
a 100,000-simulation study runs long enough (about 40 s) to be watched, cancelled or to keep the
engine busy.
"""

import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from tests.e2e.helpers import (
    GOOG,
    Collector,
    auth,
    forwarded_for,
    open_socket,
    register,
    upload_goog,
)
from tests.polling import wait_for
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e

CASH = 100_000.0
LONG = 100_000
TERMINAL = {"completed", "failed", "cancelled"}


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[httpx.Client]:
    """An HTTP client on the gateway shared by the module's tests."""
    with httpx.Client(base_url=stack.gateway_url, timeout=10, headers=forwarded_for()) as shared:
        yield shared


@pytest.fixture(scope="module")
def token(client: httpx.Client) -> str:
    """The module's user."""
    return register(client, "mc")


def sma_cross_run(client: httpx.Client, token: str, dataset_id: str) -> dict[str, Any]:
    """A completed sma_cross(10, 50) backtest with 0.1 % fees."""
    body = {
        "dataset_id": dataset_id,
        "strategy": "sma_cross",
        "parameters": {"fast": 10, "slow": 50},
        "options": {"fee_rate": 0.001},
    }
    response = client.post("/api/v1/backtests", headers=auth(token), json=body)
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]

    def finished() -> dict[str, Any] | None:
        run: dict[str, Any] = client.get(f"/api/v1/backtests/{run_id}", headers=auth(token)).json()
        return run if run["status"] in TERMINAL else None

    run = wait_for(finished, 60, "GOOG backtest finished")
    assert run["status"] == "completed", run
    assert run["summary"]["trades"] > 5
    return run


@pytest.fixture(scope="module")
def goog(client: httpx.Client, token: str) -> str:
    """GOOG daily of the module's user."""
    return upload_goog(client, token)


@pytest.fixture(scope="module")
def goog_run(client: httpx.Client, token: str, goog: str) -> dict[str, Any]:
    """The module's user's completed GOOG backtest."""
    return sma_cross_run(client, token, goog)


def start(client: httpx.Client, token: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/monte-carlo", headers=auth(token), json=body)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/api/v1/monte-carlo/{response.json()['id']}"
    study: dict[str, Any] = response.json()
    return study


def get(client: httpx.Client, token: str, study_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/monte-carlo/{study_id}", headers=auth(token))
    assert response.status_code == 200, response.text
    study: dict[str, Any] = response.json()
    return study


def finish(
    client: httpx.Client, token: str, study_id: str, deadline_s: float = 90
) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        study = get(client, token, study_id)
        return study if study["status"] in TERMINAL else None

    return wait_for(ended, deadline_s, f"study {study_id} finished")


def run_study(client: httpx.Client, token: str, body: dict[str, Any]) -> dict[str, Any]:
    study = finish(client, token, start(client, token, body)["id"])
    assert study["status"] == "completed", study
    assert study["progress"] == 1.0
    assert study["simulations_done"] == body["n_simulations"]
    return study


def running(client: httpx.Client, token: str, study_id: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        study = get(client, token, study_id)
        assert study["status"] not in TERMINAL, study
        return study if study["status"] == "running" and study["progress"] > 0 else None

    return wait_for(probe, 60, f"study {study_id} running with progress")


def assert_coherent(results: dict[str, Any], n: int) -> None:
    for table in ("final_equity_percentiles", "max_drawdown_percentiles"):
        values = list(results[table].values())
        assert list(results[table]) == ["p5", "p10", "p25", "p50", "p75", "p90", "p95"]
        assert values == sorted(values)
    assert 0 <= results["probability_of_loss"] <= 1
    assert 0 <= results["probability_of_drawdown_beyond"] <= 1
    assert sum(results["max_drawdown_histogram"]["counts"]) == n
    fan = results["fan_chart"]
    assert fan["steps"][0] == 0
    assert fan["steps"][-1] == results["steps"]
    assert len(fan["steps"]) <= 201
    for band in fan["bands"].values():
        assert len(band) == len(fan["steps"])
        assert band[0] == pytest.approx(results["initial_cash"])


def test_trade_bootstrap_with_a_fixed_seed_reproduces_its_numbers_and_the_hand_mean(
    client: httpx.Client, token: str, goog_run: dict[str, Any]
) -> None:
    body = {"method": "bootstrap_trades", "run_id": goog_run["id"], "n_simulations": 4_000}
    first = run_study(client, token, body | {"seed": 20240501})
    again = run_study(client, token, body | {"seed": 20240501})

    assert first["seed"] == again["seed"] == 20240501
    assert first["results"] == again["results"]
    results = first["results"]
    assert_coherent(results, 4_000)

    # By hand: trades are drawn independently, so E[final] = cash * mean(1 + r) ** trades.
    trades = client.get(
        f"/api/v1/backtests/{goog_run['id']}/trades", params={"limit": 10_000}, headers=auth(token)
    ).json()["items"]
    returns = np.array([t["return"] for t in trades if not t["is_open"]])
    assert results["steps"] == len(returns) == goog_run["summary"]["trades"]
    hand = CASH * float(np.mean(1 + returns)) ** len(returns)
    standard_error = results["final_equity_std"] / math.sqrt(4_000)
    assert abs(results["final_equity_mean"] - hand) < 4 * standard_error

    drawn = start(client, token, body)  # no seed: one is drawn and returned
    assert isinstance(drawn["seed"], int)
    assert drawn["priority"] == "normal"


def test_bar_and_block_bootstraps_resample_the_runs_bar_returns(
    client: httpx.Client, token: str, goog_run: dict[str, Any]
) -> None:
    bars = len(GOOG.read_text().strip().splitlines()) - 1
    base = {"run_id": goog_run["id"], "n_simulations": 1_000, "seed": 7}

    bar = run_study(client, token, base | {"method": "bootstrap_returns"})["results"]
    block = run_study(client, token, base | {"method": "block_bootstrap", "block_size": 20})[
        "results"
    ]

    for results in (bar, block):
        assert_coherent(results, 1_000)
        assert results["steps"] == bars
        assert len(results["fan_chart"]["steps"]) == 201
    assert bar["block_size"] is None
    assert block["block_size"] == 20
    assert bar["final_equity_percentiles"] != block["final_equity_percentiles"]


def test_gbm_paths_fit_goog_and_run_the_strategy_on_every_path(
    client: httpx.Client, token: str, goog: str
) -> None:
    body = {
        "method": "gbm_paths",
        "dataset_id": goog,
        "strategy": "sma_cross",
        "parameters": {"fast": 10, "slow": 50},
        "options": {"fee_rate": 0.001},
        "n_simulations": 300,
        "seed": 3,
        "drawdown_threshold": 0.3,
    }
    study = run_study(client, token, body)

    results = study["results"]
    assert_coherent(results, 300)
    closes = np.array([float(row.split(",")[4]) for row in GOOG.read_text().splitlines()[1:]])
    log_returns = np.diff(np.log(closes))
    fit = results["gbm_fit"]
    assert fit["bars"] == results["steps"] == len(closes)
    assert fit["sigma"] == pytest.approx(np.std(log_returns, ddof=1), rel=1e-9)
    assert fit["mu"] == pytest.approx(np.mean(log_returns) + fit["sigma"] ** 2 / 2, rel=1e-9)
    assert results["drawdown_threshold"] == 0.3
    assert study["parameters"] == {"fast": 10, "slow": 50}
    assert study["options"]["fee_rate"] == 0.001


def test_list_filters_by_status_and_method_and_pages(client: httpx.Client) -> None:
    # A user of its own, so the list holds exactly this test's studies.
    user = register(client, "mc-list")
    run = sma_cross_run(client, user, upload_goog(client, user))
    source = {"run_id": run["id"], "n_simulations": 10, "seed": 1}
    older = run_study(client, user, source | {"method": "bootstrap_trades"})
    newer = run_study(client, user, source | {"method": "bootstrap_returns"})

    def listed(**params: Any) -> dict[str, Any]:
        response = client.get("/api/v1/monte-carlo", params=params, headers=auth(user))
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    assert [s["id"] for s in listed()["items"]] == [newer["id"], older["id"]]
    assert [s["id"] for s in listed(method="bootstrap_trades")["items"]] == [older["id"]]
    assert listed(method="gbm_paths")["total"] == 0
    assert listed(status="completed")["total"] == 2
    assert listed(status="running")["items"] == []
    page = listed(limit=1, offset=1)
    assert (page["total"], [s["id"] for s in page["items"]]) == (2, [older["id"]])
    assert page["items"][0]["run_id"] == run["id"]
    bad = client.get("/api/v1/monte-carlo", params={"method": "nope"}, headers=auth(user))
    assert bad.status_code == 422


def test_cancel_stops_a_large_study_mid_way(
    client: httpx.Client, token: str, goog_run: dict[str, Any]
) -> None:
    body = {"method": "bootstrap_returns", "run_id": goog_run["id"], "n_simulations": LONG}
    study = start(client, token, body)
    running(client, token, study["id"])

    response = client.post(f"/api/v1/monte-carlo/{study['id']}/cancel", headers=auth(token))
    assert response.status_code == 202, response.text
    started = time.monotonic()
    ended = finish(client, token, study["id"], deadline_s=10)

    assert ended["status"] == "cancelled", ended
    assert time.monotonic() - started < 5
    assert ended["progress"] < 1
    assert ended["results"] is None
    again = client.post(f"/api/v1/monte-carlo/{study['id']}/cancel", headers=auth(token))
    assert again.status_code == 409


def test_a_high_priority_study_starts_before_a_low_one_queued_earlier(
    client: httpx.Client, token: str, goog_run: dict[str, Any]
) -> None:
    source = {"method": "bootstrap_returns", "run_id": goog_run["id"]}
    busy = start(client, token, source | {"n_simulations": LONG})
    running(client, token, busy["id"])  # the engine's only replica is busy with it
    low = start(client, token, source | {"n_simulations": 300, "priority": "low"})
    high = start(client, token, source | {"n_simulations": 300, "priority": "high"})
    assert get(client, token, low["id"])["status"] == "queued"
    assert get(client, token, high["id"])["status"] == "queued"

    client.post(f"/api/v1/monte-carlo/{busy['id']}/cancel", headers=auth(token))
    low_done = finish(client, token, low["id"])
    high_done = finish(client, token, high["id"])

    assert high_done["status"] == low_done["status"] == "completed"
    assert high_done["priority"] == "high"
    assert high_done["started_at"] < low_done["started_at"]
    assert high_done["finished_at"] <= low_done["started_at"]


def test_another_users_studies_and_runs_are_not_found(
    client: httpx.Client, token: str, goog_run: dict[str, Any]
) -> None:
    mine = start(
        client, token, {"method": "bootstrap_trades", "run_id": goog_run["id"], "n_simulations": 5}
    )
    intruder = register(client, "mc-intruder")

    url = f"/api/v1/monte-carlo/{mine['id']}"
    assert client.get(url, headers=auth(intruder)).status_code == 404
    assert client.post(f"{url}/cancel", headers=auth(intruder)).status_code == 404
    theirs = client.post(
        "/api/v1/monte-carlo",
        headers=auth(intruder),
        json={"method": "bootstrap_trades", "run_id": goog_run["id"]},
    )
    assert theirs.status_code == 404, theirs.text
    assert "No such backtest" in theirs.json()["detail"]
    assert client.get("/api/v1/monte-carlo", headers=auth(intruder)).json()["items"] == []


FIGURES = (
    "final_equity_percentiles",
    "max_drawdown_percentiles",
    "probability_of_loss",
    "drawdown_threshold",
    "probability_of_drawdown_beyond",
)


def closed(socket: Collector, what: str) -> int:
    code = wait_for(lambda: socket.close_code, 90, what)
    socket.close()
    return code


def test_a_study_is_followed_on_the_websocket_and_its_final_event_outlives_it(
    stack: Stack, client: httpx.Client, token: str, goog_run: dict[str, Any]
) -> None:
    body = {"method": "bootstrap_returns", "run_id": goog_run["id"], "n_simulations": 20_000}
    study_id = start(client, token, body | {"seed": 11})["id"]
    running(client, token, study_id)
    everything = Collector(open_socket(stack.gateway_url, "/api/v1/ws", token))
    one = Collector(open_socket(stack.gateway_url, f"/api/v1/ws/jobs/{study_id}", token))

    assert closed(one, "the study's socket closed after its final event") == 1000
    done = get(client, token, study_id)
    snapshot, *events = one.messages
    assert (snapshot["type"], snapshot["job_type"]) == ("snapshot", "monte_carlo")
    assert (snapshot["job"]["id"], snapshot["job"]["status"]) == (study_id, "running")
    assert {(e["job_type"], e["run_id"], e["simulation_id"]) for e in events} == {
        ("monte_carlo", study_id, study_id)
    }
    assert [e["type"] for e in events][-1] == "completed"
    assert {e["type"] for e in events[:-1]} == {"progress"}  # at least one, all before the end
    sequences = [snapshot["job"]["sequence"]] + [e["sequence"] for e in events]
    assert sequences == sorted(set(sequences))
    final = events[-1]
    assert final["sequence"] == done["sequence"]
    assert (final["method"], final["n_simulations"]) == ("bootstrap_returns", 20_000)
    assert {k: final[k] for k in FIGURES} == {k: done["results"][k] for k in FIGURES}
    # /ws showed the running study in its snapshot, then its events from there on.
    live = wait_for(lambda: everything.final_of(study_id), 30, "the final event on /ws")
    everything.close()
    shown = [m for m in everything.messages if m["type"] == "snapshot"]
    assert study_id in {m["job"]["id"] for m in shown if m["job_type"] == "monte_carlo"}
    assert live == final

    # After the end: the snapshot is the REST study, the final event rebuilt from it, then 1000.
    late = Collector(open_socket(stack.gateway_url, f"/api/v1/ws/jobs/{study_id}", token))
    assert closed(late, "the ended study's socket closed") == 1000
    assert [m["type"] for m in late.messages] == ["snapshot", "completed"]
    assert late.messages[0]["job"] == done
    rebuilt = late.messages[1]
    assert set(rebuilt) == set(final)
    assert {k: v for k, v in rebuilt.items() if k != "occurred_at"} == {
        k: v for k, v in final.items() if k != "occurred_at"
    }
    # A client that has the final event gets the snapshot only; another user gets 4404.
    after = Collector(
        open_socket(
            stack.gateway_url, f"/api/v1/ws/jobs/{study_id}?after={final['sequence']}", token
        )
    )
    assert closed(after, "the up-to-date socket closed") == 1000
    assert [m["type"] for m in after.messages] == ["snapshot"]
    stranger = register(client, "mc-ws-stranger")
    peek = Collector(open_socket(stack.gateway_url, f"/api/v1/ws/jobs/{study_id}", stranger))
    assert closed(peek, "the stranger's socket closed") == 4404
    assert peek.messages == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"method": "bootstrap_trades"}, 422),
        ({"method": "gbm_paths", "run_id": "RUN"}, 422),
        ({"method": "bootstrap_trades", "run_id": "RUN", "n_simulations": 0}, 422),
        ({"method": "bootstrap_trades", "run_id": "RUN", "n_simulations": 100_001}, 422),
        ({"method": "bootstrap_trades", "run_id": "RUN", "priority": "urgent"}, 422),
        ({"method": "bootstrap_trades", "run_id": "RUN", "drawdown_threshold": 0}, 422),
        ({"method": "bootstrap_trades", "run_id": "RUN", "block_size": 5}, 422),
        ({"method": "bootstrap_trades", "run_id": "RUN", "strategy": "sma_cross"}, 422),
        ({"method": "bootstrap_trades", "run_id": "RUN", "seed": -1}, 422),
        ({"method": "monte", "run_id": "RUN"}, 422),
        ({"method": "gbm_paths", "dataset_id": "DATA", "strategy": "no_such_strategy"}, 422),
        (
            {
                "method": "gbm_paths",
                "dataset_id": "DATA",
                "strategy": "sma_cross",
                "parameters": {"fast": 50, "slow": 10},
            },
            422,
        ),
    ],
)
def test_invalid_requests_are_refused(
    client: httpx.Client,
    token: str,
    goog: str,
    goog_run: dict[str, Any],
    body: dict[str, Any],
    status: int,
) -> None:
    filled = {
        k: {"RUN": goog_run["id"], "DATA": goog}.get(v, v) if isinstance(v, str) else v
        for k, v in body.items()
    }
    response = client.post("/api/v1/monte-carlo", headers=auth(token), json=filled)

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
