"""``tradelab strategies`` and ``backtest run --rules-file`` against a fake gateway."""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tools.cli.tests.unit.fake_gateway import FakeGateway, invoke, logged_in

DATASET = "22222222-2222-4222-8222-222222222222"
RUN = "11111111-1111-4111-8111-111111111111"
CLOSE = {"type": "price", "field": "close"}
SMA_50 = {"type": "sma", "period": 50}
RULES = {
    "entry": {"type": "compare", "left": CLOSE, "op": "crosses_above", "right": SMA_50},
    "exit": {"type": "compare", "left": CLOSE, "op": "crosses_below", "right": SMA_50},
}


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages on one line: rich wraps stderr and usage errors at the terminal's width."""
    monkeypatch.setenv("COLUMNS", "250")


def cells(stdout: str, first: str) -> list[str]:
    """The words of the table row that starts with ``first``."""
    (row,) = [line.split() for line in stdout.splitlines() if line.split()[:1] == [first]]
    return row


def rules_file(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "rules.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def save_breakout(fake: FakeGateway, tmp_path: Path) -> None:
    path = rules_file(tmp_path, json.dumps(RULES))
    result = invoke(fake, "strategies", "save", "breakout", "--file", str(path))
    assert result.exit_code == 0, result.output
    fake.requests.clear()


def test_list_shows_builtins_and_saved_ones_with_their_kind_and_a_short_description(
    config_dir: Path, fake: FakeGateway, tmp_path: Path
) -> None:
    logged_in()
    save_breakout(fake, tmp_path)
    fake.saved["breakout"]["description"] = "Buy the close above its 50-bar SMA " * 4
    result = invoke(fake, "strategies", "list")
    assert result.exit_code == 0, result.output
    assert cells(result.stdout, "sma_cross")[1] == "builtin"
    assert cells(result.stdout, "breakout")[1] == "saved"
    assert "Long when the fast SMA crosses above the slow one." in result.stdout
    assert "Flat when it crosses back." not in result.stdout  # first line only
    assert "Buy the close above its 50-bar SMA Buy the close above its…" in result.stdout


def test_list_json_is_the_servers_list(config_dir: Path, fake: FakeGateway, tmp_path: Path) -> None:
    logged_in()
    save_breakout(fake, tmp_path)
    result = invoke(fake, "strategies", "list", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [(s["name"], s["kind"]) for s in listed] == [
        ("sma_cross", "builtin"),
        ("breakout", "saved"),
    ]
    assert listed[1]["rules"] == RULES


def test_show_builtin_lists_each_parameter_with_its_default_and_bounds(
    config_dir: Path, fake: FakeGateway
) -> None:
    logged_in()
    result = invoke(fake, "strategies", "show", "sma_cross")
    assert result.exit_code == 0, result.output
    fast = ["fast", "integer", "10", ">=", "2,", "<=", "500", "Fast", "period."]
    assert cells(result.stdout, "fast") == fast
    assert cells(result.stdout, "slow") == ["slow", "integer", "50", ">", "2", "-"]
    assert "builtin" in result.stdout


def test_show_saved_prints_its_rules_as_pretty_json(
    config_dir: Path, fake: FakeGateway, tmp_path: Path
) -> None:
    logged_in()
    save_breakout(fake, tmp_path)
    result = invoke(fake, "strategies", "show", "breakout")
    assert result.exit_code == 0, result.output
    shown = result.stdout[result.stdout.index("{") :]
    assert json.loads(shown) == RULES
    assert '\n  "entry": {\n' in shown  # indented, not one line
    assert "saved" in result.stdout
    assert "2026-02-01 09:30" in result.stdout


def test_show_json_is_the_servers_strategy(config_dir: Path, fake: FakeGateway) -> None:
    logged_in()
    result = invoke(fake, "strategies", "show", "sma_cross", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == fake.builtins["sma_cross"]


def test_show_unknown_strategy_exits_1_with_the_404(config_dir: Path, fake: FakeGateway) -> None:
    logged_in()
    result = invoke(fake, "strategies", "show", "nope")
    assert result.exit_code == 1
    assert "Not Found: No strategy named 'nope'." in result.stderr


def test_save_sends_name_description_and_the_files_rules(
    config_dir: Path, fake: FakeGateway, tmp_path: Path
) -> None:
    logged_in()
    path = rules_file(tmp_path, json.dumps(RULES))
    result = invoke(
        fake, "strategies", "save", "breakout", "--file", str(path), "--description", "SMA break"
    )
    assert result.exit_code == 0, result.output
    assert "Saved strategy breakout" in result.stdout
    (sent,) = fake.requests
    assert (sent.method, sent.url.path) == ("POST", "/api/v1/strategies")
    assert json.loads(sent.content) == {"name": "breakout", "description": "SMA break", **RULES}
    assert fake.saved["breakout"]["rules"] == RULES


def test_save_reads_standard_input_for_dash_and_prints_json(
    config_dir: Path, fake: FakeGateway
) -> None:
    logged_in()
    result = invoke(
        fake, "strategies", "save", "breakout", "-f", "-", "--json", stdin=json.dumps(RULES)
    )
    assert result.exit_code == 0, result.output
    saved = json.loads(result.stdout)
    assert (saved["name"], saved["kind"], saved["rules"]) == ("breakout", "saved", RULES)
    assert json.loads(fake.requests[0].content) == {"name": "breakout", **RULES}


def test_save_taken_name_exits_1_with_the_409(
    config_dir: Path, fake: FakeGateway, tmp_path: Path
) -> None:
    logged_in()
    save_breakout(fake, tmp_path)
    path = rules_file(tmp_path, json.dumps(RULES))
    result = invoke(fake, "strategies", "save", "breakout", "--file", str(path))
    assert result.exit_code == 1
    assert "Conflict: You already have a strategy named breakout." in result.stderr


def test_save_builtin_name_exits_1_with_the_422_naming_the_field(
    config_dir: Path, fake: FakeGateway, tmp_path: Path
) -> None:
    logged_in()
    path = rules_file(tmp_path, json.dumps(RULES))
    result = invoke(fake, "strategies", "save", "sma_cross", "--file", str(path), "--json")
    assert result.exit_code == 1
    message = "sma_cross is a built-in strategy; choose another name."
    assert f"Unprocessable Entity: name: {message}" in result.stderr
    error = json.loads(result.stdout)["error"]
    assert (error["status"], error["errors"]) == (422, [{"field": "name", "message": message}])
    assert fake.saved == {}


def test_save_rule_the_server_refuses_exits_1_with_its_message(
    config_dir: Path, fake: FakeGateway, tmp_path: Path
) -> None:
    logged_in()
    bad = {**RULES, "exit": {"type": "sometimes"}}
    path = rules_file(tmp_path, json.dumps(bad))
    result = invoke(fake, "strategies", "save", "breakout", "--file", str(path))
    assert result.exit_code == 1
    expected = "Unprocessable Entity: exit: Input tag does not match any of the expected tags"
    assert expected in result.stderr
    assert json.loads(fake.requests[0].content)["exit"] == {"type": "sometimes"}


BAD_FILES = [
    ('{"entry": {}, "exit": ', "not valid JSON: Expecting value (line 1, column 23)"),
    ("[1, 2]", "expected a JSON object"),
    ('{"entry": {"type": "compare"}}', "the rule set has no 'exit'"),
    ('{"entry": {}, "exit": {}, "name": "x"}', "unknown key 'name'"),
    ('{"entry": {"value": NaN}, "exit": {}}', "NaN is not a JSON value"),
    (b'{"entry": "\xff", "exit": {}}', "not UTF-8 text"),
]


@pytest.mark.parametrize(("content", "says"), BAD_FILES)
def test_save_bad_file_exits_2_sending_nothing(
    config_dir: Path, fake: FakeGateway, tmp_path: Path, content: str | bytes, says: str
) -> None:
    logged_in()
    path = rules_file(tmp_path, content)
    result = invoke(fake, "strategies", "save", "breakout", "--file", str(path))
    assert result.exit_code == 2
    assert "--file" in result.stderr
    assert says in result.stderr
    assert fake.requests == []


def test_save_missing_file_exits_2_sending_nothing(
    config_dir: Path, fake: FakeGateway, tmp_path: Path
) -> None:
    logged_in()
    missing = tmp_path / "absent.json"
    result = invoke(fake, "strategies", "save", "breakout", "--file", str(missing))
    assert result.exit_code == 2
    assert "absent.json" in result.stderr
    assert fake.requests == []


def test_delete_saved_strategy(config_dir: Path, fake: FakeGateway, tmp_path: Path) -> None:
    logged_in()
    save_breakout(fake, tmp_path)
    result = invoke(fake, "strategies", "delete", "breakout")
    assert result.exit_code == 0, result.output
    assert "Deleted strategy breakout" in result.stdout
    assert [(r.method, r.url.path) for r in fake.requests] == [
        ("DELETE", "/api/v1/strategies/breakout")
    ]
    assert fake.saved == {}


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("sma_cross", "Conflict: Built-in strategies cannot be deleted."),
        ("nope", "Not Found: No strategy named 'nope'."),
    ],
)
def test_delete_refused_exits_1_with_the_servers_problem(
    config_dir: Path, fake: FakeGateway, name: str, says: str
) -> None:
    logged_in()
    result = invoke(fake, "strategies", "delete", name)
    assert result.exit_code == 1
    assert says in result.stderr


def serve_backtests(fake: FakeGateway) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    def submit(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(202, json={"id": RUN, "status": "queued", "sequence": 0})

    fake.route("POST", "/api/v1/backtests", submit)
    return sent


@pytest.mark.parametrize("strategy", [[], ["--strategy", "rules"]])
def test_backtest_rules_file_sends_the_rules_strategy_with_the_file_as_parameters(
    config_dir: Path, fake: FakeGateway, tmp_path: Path, strategy: list[str]
) -> None:
    logged_in()
    sent = serve_backtests(fake)
    path = rules_file(tmp_path, json.dumps(RULES))
    args = ["backtest", "run", "--dataset", DATASET, *strategy, "--rules-file", str(path)]
    result = invoke(fake, *args, "--no-wait", "--json")
    assert result.exit_code == 0, result.output
    assert sent == [
        {"dataset_id": DATASET, "strategy": "rules", "parameters": RULES, "options": {}}
    ]


def test_backtest_rules_file_dash_reads_standard_input(config_dir: Path, fake: FakeGateway) -> None:
    logged_in()
    sent = serve_backtests(fake)
    args = ["backtest", "run", "--dataset", DATASET, "--rules-file", "-", "--no-wait"]
    result = invoke(fake, *args, stdin=json.dumps(RULES))
    assert result.exit_code == 0, result.output
    assert sent[0]["parameters"] == RULES


def test_backtest_saved_strategy_runs_by_name_without_parameters(
    config_dir: Path, fake: FakeGateway
) -> None:
    logged_in()
    sent = serve_backtests(fake)
    args = ["backtest", "run", "--dataset", DATASET, "--strategy", "breakout", "--no-wait"]
    result = invoke(fake, *args)
    assert result.exit_code == 0, result.output
    assert (sent[0]["strategy"], sent[0]["parameters"]) == ("breakout", {})


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--strategy", "sma_cross"], "must be 'rules' or left out with --rules-file"),
        (["--param", "fast=10"], "cannot be combined with --param"),
    ],
)
def test_backtest_rules_file_conflicts_are_usage_errors_sent_nowhere(
    config_dir: Path, fake: FakeGateway, tmp_path: Path, extra: list[str], says: str
) -> None:
    logged_in()
    path = rules_file(tmp_path, json.dumps(RULES))
    result = invoke(
        fake, "backtest", "run", "--dataset", DATASET, "--rules-file", str(path), *extra
    )
    assert result.exit_code == 2
    assert says in result.stderr
    assert fake.requests == []


def test_backtest_without_strategy_or_rules_file_is_a_usage_error(
    config_dir: Path, fake: FakeGateway
) -> None:
    logged_in()
    result = invoke(fake, "backtest", "run", "--dataset", DATASET)
    assert result.exit_code == 2
    assert "--strategy" in result.stderr
    assert "--rules-file" in result.stderr
    assert fake.requests == []


def test_backtest_bad_rules_file_exits_2_sending_nothing(
    config_dir: Path, fake: FakeGateway, tmp_path: Path
) -> None:
    logged_in()
    path = rules_file(tmp_path, '{"entry": {}}')
    result = invoke(fake, "backtest", "run", "--dataset", DATASET, "--rules-file", str(path))
    assert result.exit_code == 2
    assert "--rules-file" in result.stderr
    assert "the rule set has no 'exit'" in result.stderr
    assert fake.requests == []
