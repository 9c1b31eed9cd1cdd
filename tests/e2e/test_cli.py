"""The ``tradelab`` command line client against the whole stack, run in-process.

Log in, upload GOOG, run a backtest followed live over the WebSocket, show it with its analytics,
optimise its parameters (grid and walk-forward), and the error exits (problem details: 1,
unreachable server: 2).
"""

import io
import json
import secrets
import socket
import stat
from collections.abc import Callable, Iterator
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner, Result

from tests.e2e.helpers import forwarded_for
from tests.polling import wait_for
from tradelab_cli.cli import app
from tradelab_cli.config import load_config
from tradelab_contracts.rules import RuleSet
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
MINUTE_BARS = 10_000  # 20 chunks of 500 bars, each followed by the e2e pause: about 2 s of progress
SMALL_GRID = (
    "--strategy", "sma_cross", "--range", "fast=5:20:5", "--range", "slow=30:60:10",
    "--constraint", "fast<slow", "--fee", "0.001",
)  # fmt: skip
Cli = Callable[..., Result]


@pytest.fixture
def goog_csv() -> Iterator[Path]:
    with as_file(files("backtesting.test") / "GOOG.csv") as path:
        yield path


@pytest.fixture
def cli(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run ``tradelab --server <gateway> ARGS`` with its configuration under ``tmp_path``.

    The CLI's requests come from an address of the test's own (the stack trusts 127.0.0.1 as a
    proxy), so the per-address rate limits of one test never meet another's.
    """
    address = forwarded_for()

    class BehindTheTestProxy(httpx.Client):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["headers"] = {**kwargs.get("headers", {}), **address}
            super().__init__(*args, **kwargs)

    monkeypatch.setattr("tradelab_cli.client.httpx.Client", BehindTheTestProxy)
    runner = CliRunner()
    env = {"TRADELAB_CONFIG_DIR": str(tmp_path / "config"), "TRADELAB_SERVER": None}

    def invoke(*args: str, stdin: str | None = None, server: str | None = None) -> Result:
        argv = ["--server", server or stack.gateway_url, *args]
        return runner.invoke(app, argv, input=stdin, env=env)

    return invoke


@pytest.fixture
def logged_in(cli: Cli, tmp_path: Path) -> str:
    """Register through the CLI, log out, log in again; return the e-mail."""
    email = f"cli-{secrets.token_hex(4)}@example.com"
    registered = cli("register", "--email", email, "--password-stdin", stdin=f"{PASSWORD}\n")
    assert registered.exit_code == 0, registered.output
    assert cli("logout").exit_code == 0
    login = cli("login", "--email", email, "--password-stdin", "--json", stdin=f"{PASSWORD}\n")
    assert login.exit_code == 0, login.output
    assert json.loads(login.stdout)["user"]["email"] == email
    path = tmp_path / "config" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return email


def stored_token(tmp_path: Path) -> str:
    token = load_config(tmp_path / "config" / "config.json").access_token
    assert token
    return token


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def upload(cli: Cli, path: Path, *extra: str) -> dict[str, Any]:
    dataset: dict[str, Any] = as_json(cli("datasets", "upload", str(path), *extra, "--json"))
    assert dataset["status"] == "ready", dataset
    return dataset


def minute_bars_csv(path: Path, n: int) -> Path:
    rng = np.random.default_rng(11)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    times = np.datetime64("2024-03-01T00:00") + np.arange(n).astype("timedelta64[m]")
    out = io.StringIO()
    out.write("timestamp,open,high,low,close,volume\n")
    for t, o, c in zip(times, open_, close, strict=True):
        out.write(f"{t}Z,{o:.6f},{max(o, c) * 1.0005:.6f},{min(o, c) * 0.9995:.6f},{c:.6f},1000\n")
    path.write_text(out.getvalue())
    return path


def test_cli_uploads_goog_runs_sma_cross_live_and_shows_the_results(
    cli: Cli, logged_in: str, goog_csv: Path, gateway: httpx.Client, tmp_path: Path
) -> None:
    dataset = upload(cli, goog_csv, "--symbol", "GOOG", "--name", "GOOG daily")
    assert dataset["rows"] == len(goog_csv.read_text().strip().splitlines()) - 1
    assert dataset["timeframe"] == "1d"
    listed = as_json(cli("datasets", "list", "--symbol", "GOOG", "--json"))
    assert [d["id"] for d in listed["items"]] == [dataset["id"]]

    # initial cash makes the request distinct from other tests' runs, so it is not answered
    # from the result cache and really runs (with progress) while the CLI watches.
    result = as_json(
        cli(
            "backtest", "run", "--dataset", dataset["id"], "--strategy", "sma_cross",
            "--param", "fast=10", "--param", "slow=50", "--fee", "0.001",
            "--initial-cash", "50000", "--json",
        )
    )  # fmt: skip
    assert result["status"] == "completed", result
    assert result["transport"] == "websocket", result
    assert isinstance(result["progress_events"], int)
    assert result["parameters"] == {"fast": 10, "slow": 50}
    summary = result["summary"]
    assert summary["final_equity"] == pytest.approx(50_000 * (1 + summary["total_return"]))

    run_id = result["id"]
    headers = {"Authorization": f"Bearer {stored_token(tmp_path)}"}
    stored = gateway.get(f"/api/v1/backtests/{run_id}", headers=headers).json()
    assert stored["summary"] == summary
    assert result["sequence"] == stored["sequence"]
    trades = gateway.get(f"/api/v1/backtests/{run_id}/trades", headers=headers).json()
    closed = [t for t in trades["items"] if not t["is_open"]]
    assert summary["trades"] == len(closed) > 0

    def analysed() -> dict[str, Any] | None:
        shown: dict[str, Any] = as_json(cli("backtest", "show", run_id, "--json"))
        return shown if shown["metrics"] is not None else None

    shown = wait_for(analysed, 60, f"backtest {run_id} analysed")
    assert shown["backtest"]["summary"] == summary
    assert shown["metrics"]["trades"] == summary["trades"]
    assert shown["metrics"]["total_fees"] == pytest.approx(summary["fees_paid"], rel=1e-9)
    human = cli("backtest", "show", run_id)
    assert human.exit_code == 0, human.output
    assert "Sharpe" in human.stdout
    assert run_id in [r["id"] for r in as_json(cli("backtest", "list", "--json"))["items"]]


def test_cli_reports_progress_events_received_over_the_websocket(
    cli: Cli, logged_in: str, tmp_path: Path
) -> None:
    dataset = upload(cli, minute_bars_csv(tmp_path / "minutes.csv", MINUTE_BARS))
    result = as_json(
        cli(
            "backtest", "run", "--dataset", dataset["id"], "--strategy", "sma_cross",
            "--param", "fast=5", "--param", "slow=40", "--json",
        )
    )  # fmt: skip
    assert result["status"] == "completed", result
    assert result["transport"] == "websocket", result
    assert result["progress_events"] >= 1, result
    assert result["bars_total"] == MINUTE_BARS
    assert result["sequence"] > result["progress_events"]


def test_cli_optimizes_a_grid_live_and_its_best_is_the_best_ranked_result(
    cli: Cli, logged_in: str, goog_csv: Path, gateway: httpx.Client, tmp_path: Path
) -> None:
    dataset = upload(cli, goog_csv, "--symbol", "GOOG")
    result = as_json(cli("optimize", "run", "--dataset", dataset["id"], *SMALL_GRID, "--json"))
    optimization = result["optimization"]
    assert optimization["status"] == "completed", optimization
    assert result["transport"] == "websocket", result
    # fast 5..20 x slow 30..60: 16 combinations, all with fast < slow.
    assert (optimization["evaluated"], optimization["total"]) == (16, 16)

    url = f"/api/v1/optimizations/{optimization['id']}"
    headers = {"Authorization": f"Bearer {stored_token(tmp_path)}"}
    page = gateway.get(f"{url}/results", params={"limit": 100}, headers=headers).json()
    assert page["total"] == 16
    ranked = [r for r in page["items"] if r["ranked"] and r["objective"] is not None]
    best = max(ranked, key=lambda r: (r["objective"], -r["index"]))  # sharpe, first on ties
    assert optimization["best_parameters"] == best["parameters"]
    assert optimization["best_value"] == pytest.approx(best["objective"], rel=1e-12)
    assert result["results"] == page["items"][:10]
    assert result["walk_forward"] is None

    human = cli("optimize", "show", optimization["id"], "--top", "3")
    assert human.exit_code == 0, human.output
    shown = ", ".join(f"{k}={v}" for k, v in best["parameters"].items())
    assert shown in human.stdout
    assert "Top 3" in human.stdout
    listed = as_json(cli("optimize", "list", "--status", "completed", "--json"))
    assert [o["id"] for o in listed["items"]] == [optimization["id"]]


def test_cli_walk_forward_reports_every_fold_and_the_out_of_sample_metrics(
    cli: Cli, logged_in: str, goog_csv: Path, gateway: httpx.Client, tmp_path: Path
) -> None:
    dataset = upload(cli, goog_csv, "--symbol", "GOOG")
    result = as_json(
        cli(
            "optimize", "run", "--dataset", dataset["id"], *SMALL_GRID,
            "--walk-forward", "rolling:500:250", "--json",
        )
    )  # fmt: skip
    optimization = result["optimization"]
    assert optimization["status"] == "completed", optimization
    # GOOG has 2,148 bars: training windows [250k, 250k + 500), tested on the next 250 bars.
    report = result["walk_forward"]
    assert optimization["folds"] == len(report["folds"]) == 7
    assert all(fold["done"] for fold in report["folds"])
    out_of_sample = report["out_of_sample"]
    assert {"total_return", "sharpe", "max_drawdown", "trades"} <= out_of_sample.keys()
    assert out_of_sample["trades"] == sum(f["test_metrics"]["trades"] for f in report["folds"])
    assert optimization["best_parameters"] == report["folds"][-1]["best_parameters"]
    assert {r["fold_index"] for r in result["results"]} == {6}

    url = f"/api/v1/optimizations/{optimization['id']}/walk-forward"
    headers = {"Authorization": f"Bearer {stored_token(tmp_path)}"}
    stored = gateway.get(url, headers=headers).json()
    assert report == {"folds": stored["folds"], "out_of_sample": stored["out_of_sample"]}
    human = cli("optimize", "walk-forward", optimization["id"])
    assert human.exit_code == 0, human.output
    assert "Walk-forward folds" in human.stdout
    assert "Out of sample" in human.stdout


def test_cli_refreshes_an_expired_access_token_and_stores_the_rotated_pair(
    cli: Cli, logged_in: str, tmp_path: Path
) -> None:
    path = tmp_path / "config" / "config.json"
    config = json.loads(path.read_text())
    old_refresh = config["refresh_token"]
    path.write_text(json.dumps({**config, "access_token": "not-a-valid-token"}))
    assert as_json(cli("datasets", "list", "--json"))["items"] == []
    rotated = load_config(path)
    assert rotated.access_token not in {None, "not-a-valid-token"}
    assert rotated.refresh_token not in {None, old_refresh}


def test_cli_exits_1_on_a_problem_and_2_when_the_server_is_unreachable(
    cli: Cli, logged_in: str
) -> None:
    missing = cli("backtest", "show", "00000000-0000-4000-8000-000000000000")
    assert missing.exit_code == 1
    assert "Not Found" in missing.stderr

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = cli("datasets", "list", server=f"http://127.0.0.1:{port}")
    assert unreachable.exit_code == 2
    assert f"http://127.0.0.1:{port}" in unreachable.stderr


def test_cli_saves_a_rule_strategy_runs_it_by_name_and_from_a_file_and_deletes_it(
    cli: Cli, logged_in: str, goog_csv: Path, tmp_path: Path
) -> None:
    dataset = upload(cli, goog_csv, "--symbol", "GOOG")
    sma = {"type": "sma", "period": 10}
    slow = {"type": "sma", "period": 50}
    rules = {
        "entry": {"type": "compare", "left": sma, "op": "crosses_above", "right": slow},
        "exit": {"type": "compare", "left": sma, "op": "crosses_below", "right": slow},
    }
    path = tmp_path / "cross.json"
    path.write_text(json.dumps(rules))
    saved = as_json(
        cli("strategies", "save", "my_cross", "--file", str(path), "--description", "10/50",
            "--json")
    )  # fmt: skip
    normalised = RuleSet.model_validate(rules).model_dump(mode="json")  # defaults filled in
    assert (saved["name"], saved["kind"], saved["rules"]) == ("my_cross", "saved", normalised)
    listed = as_json(cli("strategies", "list", "--json"))
    assert {"sma_cross", "rules", "my_cross"} <= {s["name"] for s in listed}
    again = cli("strategies", "save", "my_cross", "--file", str(path))
    assert again.exit_code == 1
    assert "already have a strategy named my_cross" in again.output

    common = ("--dataset", dataset["id"], "--fee", "0.001", "--initial-cash", "70000", "--json")
    by_name = as_json(cli("backtest", "run", "--strategy", "my_cross", *common))
    from_file = as_json(cli("backtest", "run", "--rules-file", str(path), *common))
    builtin = as_json(
        cli("backtest", "run", "--strategy", "sma_cross", "--param", "fast=10",
            "--param", "slow=50", *common)
    )  # fmt: skip
    for result in (by_name, from_file):
        assert result["status"] == "completed", result
        assert result["strategy"] == "rules"
        assert result["parameters"] == normalised
        # The saved rules are the built-in crossover: the same backtest to the cent.
        assert result["summary"]["final_equity"] == pytest.approx(
            builtin["summary"]["final_equity"], rel=1e-12
        )
        assert result["summary"]["trades"] == builtin["summary"]["trades"] > 0

    assert cli("strategies", "delete", "my_cross").exit_code == 0
    gone = cli("strategies", "show", "my_cross")
    assert gone.exit_code == 1
    assert "my_cross" in gone.output
    kept = as_json(cli("backtest", "show", by_name["id"], "--json"))
    assert kept["backtest"]["parameters"]["entry"]["op"] == "crosses_above"
