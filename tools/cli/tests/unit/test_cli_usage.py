"""``tradelab usage`` against a fake gateway: one row per quota, bytes in MiB, or the JSON."""

import json
from pathlib import Path

import httpx
import pytest

from tools.cli.tests.unit.fake_gateway import FakeGateway, invoke, logged_in

USAGE = {
    "quotas": [
        {"quota": "datasets", "usage": 3, "limit": 100},
        {"quota": "stored_bytes", "usage": 3 * 1024**2, "limit": 5 * 1024**3},
        {"quota": "backtests", "usage": 50, "limit": 50},
    ]
}


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")


def row(stdout: str, first: str) -> list[str]:
    (cells,) = [line.split() for line in stdout.splitlines() if first in line.split()]
    return [c for c in cells if c not in {"│", "┃"}]


def test_usage_shows_each_quota_with_used_limit_and_share(
    config_dir: Path, fake: FakeGateway
) -> None:
    logged_in()
    fake.route("GET", "/api/v1/me/usage", lambda _: httpx.Response(200, json=USAGE))
    result = invoke(fake, "usage")
    assert result.exit_code == 0, result.output
    assert row(result.stdout, "datasets") == ["datasets", "3", "100", "3"]
    assert row(result.stdout, "stored_bytes") == [
        "stored_bytes",
        "3.0",
        "MiB",
        "5,120.0",
        "MiB",
        "0",
    ]
    assert row(result.stdout, "backtests") == ["backtests", "50", "50", "100"]


def test_usage_as_json_is_the_gateways_answer(config_dir: Path, fake: FakeGateway) -> None:
    logged_in()
    fake.route("GET", "/api/v1/me/usage", lambda _: httpx.Response(200, json=USAGE))
    result = invoke(fake, "usage", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == USAGE
