"""Saved rule strategies through the gateway: save, list, run by name, refuse, isolate, delete."""

from typing import Any

import httpx
import pytest

from tests.e2e.helpers import auth, register, run_to_end, upload_goog
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

SMA_10 = {"type": "sma", "period": 10}
SMA_50 = {"type": "sma", "period": 50}
CROSS = {
    "entry": {"type": "compare", "left": SMA_10, "op": "crosses_above", "right": SMA_50},
    "exit": {"type": "compare", "left": SMA_10, "op": "crosses_below", "right": SMA_50},
}
FEES = {"fee_rate": 0.001}


def save(gateway: httpx.Client, token: str, body: dict[str, Any]) -> httpx.Response:
    return gateway.post("/api/v1/strategies", headers=auth(token), json=body)


def trades_of(gateway: httpx.Client, token: str, run_id: str) -> list[dict[str, Any]]:
    url = f"/api/v1/backtests/{run_id}/trades"
    items: list[dict[str, Any]] = gateway.get(url, headers=auth(token)).json()["items"]
    return items


def test_a_saved_sma_crossover_trades_exactly_as_the_built_in_sma_cross(
    gateway: httpx.Client, user_token: str
) -> None:
    created = save(gateway, user_token, {"name": "my_cross", "description": "10/50", **CROSS})
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == "/api/v1/strategies/my_cross"
    strategy = created.json()
    assert (strategy["kind"], strategy["description"]) == ("saved", "10/50")
    assert (strategy["parameters_schema"], strategy["defaults"]) == ({}, {})
    assert strategy["created_at"] is not None
    goog = upload_goog(gateway, user_token)

    saved = run_to_end(
        gateway, user_token, {"dataset_id": goog, "strategy": "my_cross", "options": FEES}
    )
    builtin = run_to_end(
        gateway,
        user_token,
        {
            "dataset_id": goog,
            "strategy": "sma_cross",
            "parameters": {"fast": 10, "slow": 50},
            "options": FEES,
        },
    )
    assert saved["status"] == builtin["status"] == "completed", (saved, builtin)
    # The saved strategy ran as "rules" with a copy of its rules.
    assert saved["strategy"] == "rules"
    assert saved["parameters"] == strategy["rules"]
    assert saved["summary"]["trades"] > 0
    assert saved["summary"]["trades"] == builtin["summary"]["trades"]
    assert saved["summary"]["final_equity"] == pytest.approx(
        builtin["summary"]["final_equity"], rel=1e-12
    )
    assert trades_of(gateway, user_token, saved["id"]) == trades_of(
        gateway, user_token, builtin["id"]
    )


def test_saved_strategies_are_listed_for_their_owner_only_and_refused_elsewhere(
    gateway: httpx.Client, user_token: str
) -> None:
    assert save(gateway, user_token, {"name": "mine_only", **CROSS}).status_code == 201
    listed = gateway.get("/api/v1/strategies", headers=auth(user_token)).json()
    kinds = {s["name"]: s["kind"] for s in listed}
    assert kinds["mine_only"] == "saved"
    assert kinds["sma_cross"] == "builtin"
    one = gateway.get("/api/v1/strategies/mine_only", headers=auth(user_token))
    assert one.status_code == 200
    assert one.json()["rules"] == listed[-1]["rules"]

    other = register(gateway, "strategist")
    theirs = gateway.get("/api/v1/strategies", headers=auth(other)).json()
    assert "mine_only" not in {s["name"] for s in theirs}
    assert gateway.get("/api/v1/strategies/mine_only", headers=auth(other)).status_code == 404
    assert gateway.delete("/api/v1/strategies/mine_only", headers=auth(other)).status_code == 404
    goog = upload_goog(gateway, other)
    response = gateway.post(
        "/api/v1/backtests",
        headers=auth(other),
        json={"dataset_id": goog, "strategy": "mine_only"},
    )
    assert response.status_code == 422, response.text
    assert "unknown strategy 'mine_only'" in response.json()["detail"]


def test_duplicates_built_in_names_and_bad_rules_are_refused(
    gateway: httpx.Client, user_token: str
) -> None:
    assert save(gateway, user_token, {"name": "twice", **CROSS}).status_code == 201
    duplicate = save(gateway, user_token, {"name": "twice", **CROSS})
    assert duplicate.status_code == 409, duplicate.text

    builtin = save(gateway, user_token, {"name": "sma_cross", **CROSS})
    assert builtin.status_code == 422, builtin.text
    assert "is a built-in strategy; choose another name" in builtin.json()["detail"]

    zero = {**CROSS["entry"], "left": {"type": "sma", "period": 0}}
    bad_period = save(gateway, user_token, {"name": "bad", "entry": zero, "exit": CROSS["exit"]})
    assert bad_period.status_code == 422
    fields = {e["field"] for e in bad_period.json()["errors"]}
    assert "entry.compare.left.sma.period" in fields

    vwap = {**CROSS["exit"], "right": {"type": "vwap"}}
    bad_type = save(gateway, user_token, {"name": "bad", "entry": CROSS["entry"], "exit": vwap})
    assert bad_type.status_code == 422
    assert {e["field"] for e in bad_type.json()["errors"]} == {"exit.compare.right"}
    assert "vwap" in bad_type.json()["detail"]

    names = {s["name"] for s in gateway.get("/api/v1/strategies", headers=auth(user_token)).json()}
    assert "bad" not in names


def test_a_saved_strategy_takes_no_parameters_and_cannot_be_optimised(
    gateway: httpx.Client, user_token: str
) -> None:
    assert save(gateway, user_token, {"name": "fixed", **CROSS}).status_code == 201
    goog = upload_goog(gateway, user_token)
    with_parameters = gateway.post(
        "/api/v1/backtests",
        headers=auth(user_token),
        json={"dataset_id": goog, "strategy": "fixed", "parameters": {"fast": 5}},
    )
    assert with_parameters.status_code == 422, with_parameters.text
    assert "takes no parameters" in with_parameters.json()["detail"]

    for name in ("fixed", "rules"):
        optimised = gateway.post(
            "/api/v1/optimizations",
            headers=auth(user_token),
            json={"dataset_id": goog, "strategy": name, "parameter_space": {"fast": [5, 10]}},
        )
        assert optimised.status_code == 422, optimised.text
        assert "no numeric parameters to search" in optimised.json()["detail"]


def test_a_saved_strategy_runs_on_monte_carlo_price_paths_as_rules(
    gateway: httpx.Client, user_token: str
) -> None:
    created = save(gateway, user_token, {"name": "on_paths", **CROSS}).json()
    goog = upload_goog(gateway, user_token)
    body = {
        "method": "gbm_paths",
        "dataset_id": goog,
        "strategy": "on_paths",
        "options": FEES,
        "n_simulations": 20,
        "seed": 7,
    }
    response = gateway.post("/api/v1/monte-carlo", headers=auth(user_token), json=body)
    assert response.status_code == 202, response.text
    study = response.json()
    assert (study["strategy"], study["parameters"]) == ("rules", created["rules"])
    url = f"/api/v1/monte-carlo/{study['id']}"

    def finished() -> dict[str, Any] | None:
        now: dict[str, Any] = gateway.get(url, headers=auth(user_token)).json()
        return now if now["status"] in {"completed", "failed", "cancelled"} else None

    assert wait_for(finished, 120, "study finished")["status"] == "completed"


def test_deleting_a_saved_strategy_leaves_its_runs_with_their_rules(
    gateway: httpx.Client, user_token: str
) -> None:
    created = save(gateway, user_token, {"name": "short_lived", **CROSS}).json()
    goog = upload_goog(gateway, user_token)
    run = run_to_end(gateway, user_token, {"dataset_id": goog, "strategy": "short_lived"})
    assert run["status"] == "completed", run

    builtin = gateway.delete("/api/v1/strategies/sma_cross", headers=auth(user_token))
    assert builtin.status_code == 409
    assert "built-in strategies cannot be deleted" in builtin.json()["detail"].lower()
    deleted = gateway.delete("/api/v1/strategies/short_lived", headers=auth(user_token))
    assert deleted.status_code == 204
    assert gateway.get("/api/v1/strategies/short_lived", headers=auth(user_token)).status_code == (
        404
    )
    again = gateway.delete("/api/v1/strategies/short_lived", headers=auth(user_token))
    assert again.status_code == 404
    misnamed = gateway.delete("/api/v1/strategies/Not-A-Name", headers=auth(user_token))
    assert misnamed.status_code == 404  # no strategy can have that name: not a 500

    kept = gateway.get(f"/api/v1/backtests/{run['id']}", headers=auth(user_token)).json()
    assert (kept["strategy"], kept["parameters"]) == ("rules", created["rules"])
    assert kept["summary"] == run["summary"]
