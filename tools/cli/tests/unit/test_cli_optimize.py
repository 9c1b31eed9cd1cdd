"""``tradelab optimize`` in-process against a fake gateway (httpx.MockTransport)."""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tools.cli.tests.unit.fake_gateway import FakeGateway, invoke, logged_in

DATASET = "22222222-2222-4222-8222-222222222222"
OPT = "44444444-4444-4444-8444-444444444444"
OPTIMIZATIONS = "/api/v1/optimizations"
GRID = ["--range", "fast=5:20:5", "--range", "slow=30:60:10", "--constraint", "fast<slow"]


def optimization(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": OPT,
        "status": status,
        "strategy": "sma_cross",
        "dataset_id": DATASET,
        "search": {"kind": "grid"},
        "objective": {"metric": "sharpe", "direction": "maximize"},
        "progress": 1.0 if status == "completed" else 0.0,
        "sequence": 3,
        "evaluated": 16,
        "total": 16,
        "skipped": 0,
        "folds": 0,
        "walk_forward": None,
        "best_parameters": {"fast": 10, "slow": 40},
        "best_value": 0.8123,
        "failure_message": None,
        **extra,
    }


def row(index: int, fast: int, slow: int, sharpe: float) -> dict[str, Any]:
    metrics = {"total_return": 0.25, "max_drawdown": 0.1, "sharpe": sharpe, "trades": 7.0}
    return {
        "index": index,
        "parameters": {"fast": fast, "slow": slow},
        "metrics": metrics,
        "objective": sharpe,
        "ranked": True,
        "fold_index": None,
    }


def serve(fake: FakeGateway, stored: dict[str, Any]) -> list[dict[str, Any]]:
    """Answer the optimisation routes with ``stored``; return the bodies posted."""
    sent: list[dict[str, Any]] = []

    def submit(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(202, json=stored)

    page = {"items": [row(5, 10, 40, 0.8123), row(1, 5, 40, 0.5)], "total": 16}
    fake.route("POST", OPTIMIZATIONS, submit)
    fake.route("GET", f"{OPTIMIZATIONS}/{OPT}", lambda _: httpx.Response(200, json=stored))
    fake.route("GET", f"{OPTIMIZATIONS}/{OPT}/results", lambda _: httpx.Response(200, json=page))
    return sent


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--constraint", "fast<<slow", "neither a number nor a parameter name"),
        ("--constraint", "fast<slwo", "not a searched parameter"),
        ("--range", "fast=5..20", "START:STOP"),
        ("--walk-forward", "rolling:500", "TRAIN_BARS"),
        ("--objective", "sortino", "one of final_equity"),
    ],
)
def test_bad_search_options_are_usage_errors_sent_nowhere(
    config_dir: Path, fake: FakeGateway, option: str, value: str, says: str
) -> None:
    logged_in()
    args = ["optimize", "run", "--dataset", DATASET, "--strategy", "sma_cross", *GRID]
    result = invoke(fake, *args, option, value)
    assert result.exit_code == 2
    assert says in " ".join(result.output.replace("│", " ").split())  # unwrap rich's box
    assert fake.requests == []


def test_run_without_wait_sends_the_whole_search(config_dir: Path, fake: FakeGateway) -> None:
    logged_in()
    sent = serve(fake, optimization("queued", folds=7))
    result = invoke(
        fake,
        "optimize", "run", "--dataset", DATASET, "--strategy", "sma_cross", *GRID,
        "--values", "long_only=true,false", "--objective", "max_drawdown", "--minimize",
        "--min-trades", "3", "--random", "10", "--seed", "42", "--fee", "0.001",
        "--walk-forward", "rolling:500:250", "--no-wait", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sent == [
        {
            "dataset_id": DATASET,
            "strategy": "sma_cross",
            "parameter_space": {
                "fast": {"start": 5, "stop": 20, "step": 5},
                "slow": {"start": 30, "stop": 60, "step": 10},
                "long_only": [True, False],
            },
            "search": {"kind": "random", "n_samples": 10, "seed": 42},
            "objective": {"metric": "max_drawdown", "direction": "minimize"},
            "constraints": [{"left": "fast", "op": "<", "right": "slow"}],
            "min_trades": 3,
            "options": {"fee_rate": 0.001},
            "walk_forward": {"mode": "rolling", "train_bars": 500, "test_bars": 250},
        }
    ]
    assert json.loads(result.stdout) == {"optimization": optimization("queued", folds=7)}


def test_ended_run_shows_the_best_and_the_top_results(config_dir: Path, fake: FakeGateway) -> None:
    logged_in()
    serve(fake, optimization("completed"))
    args = ["optimize", "run", "--dataset", DATASET, "--strategy", "sma_cross", *GRID, "--top", "2"]
    result = invoke(fake, *args, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["optimization"]["best_parameters"] == {"fast": 10, "slow": 40}
    assert [r["index"] for r in shown["results"]] == [5, 1]
    assert shown["walk_forward"] is None
    results_query = fake.requests[-1].url.params
    assert (results_query["limit"], "fold" in results_query) == ("2", False)
    human = invoke(fake, *args)
    assert human.exit_code == 0, human.output
    for text in ("fast=10, slow=40", "0.8123", "Top 2", "25.00 %", "10.00 %", " 7 "):
        assert text in human.stdout


def test_walk_forward_view_shows_the_last_folds_results_and_the_out_of_sample_metrics(
    config_dir: Path, fake: FakeGateway
) -> None:
    logged_in()
    scheme = {"mode": "rolling", "train_bars": 500, "test_bars": 250, "step_bars": None}
    serve(fake, optimization("completed", folds=2, walk_forward=scheme))
    fold = {
        "train_start": "2005-01-03T00:00:00Z",
        "train_end": "2006-12-29T00:00:00Z",
        "test_start": "2007-01-03T00:00:00Z",
        "test_end": "2007-12-31T00:00:00Z",
        "done": True,
        "best_parameters": {"fast": 10, "slow": 40},
        "train_metrics": {"total_return": 0.3},
        "test_metrics": {"total_return": -0.05, "sharpe": -0.2, "trades": 4.0},
    }
    report = {
        "folds": [{**fold, "fold_index": 0}, {**fold, "fold_index": 1}],
        "out_of_sample": {"total_return": 0.12, "sharpe": 0.61, "trades": 9.0},
        "equity": [1.0, 2.0],
    }
    fake.route(
        "GET", f"{OPTIMIZATIONS}/{OPT}/walk-forward", lambda _: httpx.Response(200, json=report)
    )
    shown = json.loads(invoke(fake, "optimize", "show", OPT, "--json").stdout)
    assert shown["walk_forward"] == {
        "folds": report["folds"],
        "out_of_sample": report["out_of_sample"],
    }
    results_request = next(r for r in fake.requests if r.url.path.endswith("/results"))
    assert results_request.url.params["fold"] == "1"
    human = invoke(fake, "optimize", "show", OPT)
    assert human.exit_code == 0, human.output
    for text in (
        "Walk-forward folds",
        "2007-01-03 - 2007-12-31",
        "-5.00 %",
        "Out of sample",
        "12.00 %",
    ):
        assert text in human.stdout
    full = invoke(fake, "optimize", "walk-forward", OPT, "--json")
    assert json.loads(full.stdout) == report


def test_failed_optimisation_exits_1_with_its_reason(config_dir: Path, fake: FakeGateway) -> None:
    logged_in()
    serve(fake, optimization("failed", failure_message="Dataset unreadable"))
    args = ["optimize", "run", "--dataset", DATASET, "--strategy", "sma_cross", *GRID, "--json"]
    result = invoke(fake, *args)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["optimization"]["status"] == "failed"
    assert f"Optimisation {OPT} failed: Dataset unreadable" in result.stderr


def test_list_and_cancel(config_dir: Path, fake: FakeGateway) -> None:
    logged_in()
    page = {"items": [optimization("running")], "total": 1, "limit": 50, "offset": 0}
    fake.route("GET", OPTIMIZATIONS, lambda _: httpx.Response(200, json=page))
    cancelled = optimization("cancelled")
    fake.route(
        "POST", f"{OPTIMIZATIONS}/{OPT}/cancel", lambda _: httpx.Response(202, json=cancelled)
    )
    listed = invoke(fake, "optimize", "list", "--status", "running")
    assert listed.exit_code == 0, listed.output
    assert OPT in listed.stdout
    assert "16/16" in listed.stdout
    assert fake.requests[0].url.params["status"] == "running"
    stopped = invoke(fake, "optimize", "cancel", OPT)
    assert stopped.exit_code == 0, stopped.output
    assert f"Optimisation {OPT} cancelled" in stopped.stdout
