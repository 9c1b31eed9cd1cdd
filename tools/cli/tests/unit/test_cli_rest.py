"""The REST-only commands end to end in-process, against a fake gateway (httpx.MockTransport)."""

import json
import stat
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from tools.cli.tests.unit.fake_gateway import SERVER, FakeGateway, invoke, logged_in, problem
from tradelab_cli.cli import app
from tradelab_cli.config import Config, load_config
from tradelab_cli.session import Session

RUN = "11111111-1111-4111-8111-111111111111"
DATASET = "22222222-2222-4222-8222-222222222222"


def test_login_stores_server_and_tokens_in_an_owner_only_file(
    config_dir: Path, fake: FakeGateway
) -> None:
    result = invoke(
        fake,
        "login",
        "--server",
        SERVER,
        "--email",
        "ada@example.com",
        "--password-stdin",
        "--json",
        stdin="correct horse battery\n",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["user"]["email"] == "ada@example.com"
    path = config_dir / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_config(path) == Config(
        server=SERVER, email="ada@example.com", access_token="access-1", refresh_token="refresh-1"
    )


def test_wrong_password_prints_the_problem_in_red_and_exits_1(
    config_dir: Path, fake: FakeGateway
) -> None:
    result = invoke(
        fake,
        "login",
        "--server",
        SERVER,
        "--email",
        "ada@example.com",
        "--password-stdin",
        stdin="nope\n",
    )
    assert result.exit_code == 1
    assert "Unauthorized: Wrong e-mail or password." in result.stderr
    assert not (config_dir / "config.json").exists()


def test_expired_access_token_is_refreshed_once_and_the_new_pair_stored(
    config_dir: Path, fake: FakeGateway
) -> None:
    logged_in(access="expired")
    page = {"items": [], "total": 0, "limit": 50, "offset": 0}
    fake.route("GET", "/api/v1/datasets", lambda _: httpx.Response(200, json=page))
    result = invoke(fake, "datasets", "list", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == page
    stored = load_config()
    assert (stored.access_token, stored.refresh_token) == ("access-2", "refresh-2")
    paths = [r.url.path for r in fake.requests]
    assert paths == ["/api/v1/datasets", "/api/v1/auth/refresh", "/api/v1/datasets"]


def test_refused_refresh_token_ends_with_the_401_problem(
    config_dir: Path, fake: FakeGateway
) -> None:
    logged_in(access="expired")
    fake.refresh_tokens = set()
    fake.route("GET", "/api/v1/datasets", lambda _: httpx.Response(200, json={}))
    result = invoke(fake, "datasets", "list")
    assert result.exit_code == 1
    assert "Unauthorized: Invalid or expired access token." in result.stderr
    assert "tradelab login" in result.stderr


def test_datasets_list_shows_a_table(config_dir: Path, fake: FakeGateway) -> None:
    logged_in()
    item = {
        "id": DATASET,
        "name": "GOOG daily",
        "filename": "GOOG.csv",
        "symbol": "GOOG",
        "timeframe": "1d",
        "rows": 2148,
        "status": "ready",
        "created_at": "2026-01-01T00:00:00Z",
    }
    page = {"items": [item], "total": 1, "limit": 50, "offset": 0}
    fake.route("GET", "/api/v1/datasets", lambda _: httpx.Response(200, json=page))
    result = invoke(fake, "datasets", "list")
    assert result.exit_code == 0, result.output
    for shown in (DATASET, "GOOG daily", "GOOG", "1d", "2,148", "ready"):
        assert shown in result.stdout


def test_upload_polls_until_ready(config_dir: Path, fake: FakeGateway, tmp_path: Path) -> None:
    logged_in()
    csv = tmp_path / "bars.csv"
    csv.write_text("timestamp,open,high,low,close,volume\n")
    pending = {"id": DATASET, "status": "pending", "rows": None, "timeframe": None}
    answers = iter([pending, {**pending, "status": "ready", "rows": 10, "timeframe": "1d"}])
    fake.route("POST", "/api/v1/datasets", lambda _: httpx.Response(202, json=pending))
    fake.route(
        "GET", f"/api/v1/datasets/{DATASET}", lambda _: httpx.Response(200, json=next(answers))
    )
    result = invoke(fake, "datasets", "upload", str(csv), "--symbol", "GOOG", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "ready"
    upload = fake.requests[0]
    assert b'name="symbol"' in upload.content
    assert b'name="file"; filename="bars.csv"' in upload.content


def test_rejected_upload_exits_1_with_the_reason(
    config_dir: Path, fake: FakeGateway, tmp_path: Path
) -> None:
    logged_in()
    csv = tmp_path / "bad.csv"
    csv.write_text("nonsense\n")
    rejected = {"id": DATASET, "status": "rejected", "reject_message": "No time column."}
    fake.route("POST", "/api/v1/datasets", lambda _: httpx.Response(202, json=rejected))
    result = invoke(fake, "datasets", "upload", str(csv))
    assert result.exit_code == 1
    assert "No time column." in result.stderr


def test_too_large_upload_prints_title_and_detail(
    config_dir: Path, fake: FakeGateway, tmp_path: Path
) -> None:
    logged_in()
    csv = tmp_path / "big.csv"
    csv.write_text("x\n")
    fake.route(
        "POST",
        "/api/v1/datasets",
        lambda _: problem(413, "Content Too Large", "Uploads are limited to 5 bytes."),
    )
    result = invoke(fake, "datasets", "upload", str(csv), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["detail"] == "Uploads are limited to 5 bytes."
    assert "Content Too Large: Uploads are limited to 5 bytes." in result.stderr


def test_backtest_run_without_wait_sends_parsed_params_and_only_given_options(
    config_dir: Path, fake: FakeGateway
) -> None:
    logged_in()
    sent: list[dict[str, Any]] = []

    def submit(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        run = {"id": RUN, "status": "queued", "progress": 0.0, "sequence": 0, **sent[-1]}
        return httpx.Response(202, json=run)

    fake.route("POST", "/api/v1/backtests", submit)
    result = invoke(
        fake,
        "backtest",
        "run",
        "--dataset",
        DATASET,
        "--strategy",
        "sma_cross",
        "--param",
        "fast=10",
        "--param",
        "slow=50",
        "--param",
        "long_only=true",
        "--fee",
        "0.001",
        "--no-wait",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert sent == [
        {
            "dataset_id": DATASET,
            "strategy": "sma_cross",
            "parameters": {"fast": 10, "slow": 50, "long_only": True},
            "options": {"fee_rate": 0.001},
        }
    ]
    assert json.loads(result.stdout)["status"] == "queued"


def test_cached_run_is_reported_without_watching(config_dir: Path, fake: FakeGateway) -> None:
    logged_in()
    summary = {
        "final_equity": 1.5e5,
        "total_return": 0.5,
        "max_drawdown": 0.2,
        "sharpe": 1.1,
        "trades": 12,
        "exposure": 0.6,
        "fees_paid": 321.0,
    }
    run = {
        "id": RUN,
        "status": "completed",
        "progress": 1.0,
        "sequence": 9,
        "cached": True,
        "summary": summary,
    }
    fake.route("POST", "/api/v1/backtests", lambda _: httpx.Response(202, json=run))
    result = invoke(fake, "backtest", "run", "--dataset", DATASET, "--strategy", "sma_cross")
    assert result.exit_code == 0, result.output
    for shown in ("150,000.00", "50.00 %", "20.00 %", "1.10", "12", "321.00"):
        assert shown in result.stdout


def test_bad_param_is_a_usage_error(config_dir: Path, fake: FakeGateway) -> None:
    logged_in()
    result = invoke(
        fake, "backtest", "run", "--dataset", DATASET, "--strategy", "s", "--param", "x"
    )
    assert result.exit_code == 2
    assert "key=value" in result.output
    assert fake.requests == []


def test_show_tolerates_a_run_not_analysed_yet(config_dir: Path, fake: FakeGateway) -> None:
    logged_in()
    run = {
        "id": RUN,
        "status": "completed",
        "progress": 1.0,
        "sequence": 4,
        "strategy": "sma_cross",
        "parameters": {"fast": 10},
        "summary": {"trades": 3},
    }
    fake.route("GET", f"/api/v1/backtests/{RUN}", lambda _: httpx.Response(200, json=run))
    fake.route(
        "GET",
        f"/api/v1/analytics/{RUN}",
        lambda _: problem(409, "Conflict", "The run is not analysed yet."),
    )
    result = invoke(fake, "backtest", "show", RUN, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"backtest": run, "metrics": None}
    human = invoke(fake, "backtest", "show", RUN)
    assert "not analysed yet" in human.stdout


def test_unreachable_server_exits_2_naming_the_url(config_dir: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    logged_in()
    runner = CliRunner()
    result = runner.invoke(
        app, ["backtest", "list"], obj=Session(transport=httpx.MockTransport(refuse))
    )
    assert result.exit_code == 2
    assert f"Cannot reach the tradelab server at {SERVER}" in result.stderr


def test_server_option_overrides_the_stored_url(config_dir: Path, fake: FakeGateway) -> None:
    logged_in()
    page = {"items": [], "total": 0, "limit": 50, "offset": 0}
    fake.route("GET", "/api/v1/backtests", lambda _: httpx.Response(200, json=page))
    result = invoke(fake, "--server", "http://other.test:9000/", "backtest", "list", "--json")
    assert result.exit_code == 0, result.output
    assert str(fake.requests[0].url).startswith("http://other.test:9000/api/v1/backtests")


def test_logout_revokes_and_forgets_the_tokens(config_dir: Path, fake: FakeGateway) -> None:
    logged_in()
    fake.route("POST", "/api/v1/auth/logout", lambda _: httpx.Response(204))
    result = invoke(fake, "logout")
    assert result.exit_code == 0, result.output
    assert load_config() == Config(server=SERVER, email="ada@example.com")
    assert json.loads(fake.requests[0].content) == {"refresh_token": "refresh-1"}
