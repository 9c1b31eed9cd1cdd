import stat
from pathlib import Path

import pytest

from tradelab_cli.config import (
    Config,
    ConfigError,
    config_path,
    load_config,
    normalise_server,
    save_config,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_saved_config_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "tradelab" / "config.json"
    save_config(Config(server="http://x", access_token="a", refresh_token="r"), path)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert load_config(path) == Config(server="http://x", access_token="a", refresh_token="r")


def test_existing_world_readable_config_is_tightened_on_save(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{}")
    path.chmod(0o644)
    tmp_path.chmod(0o755)
    save_config(Config(email="ada@example.com"), path)
    assert mode(path) == 0o600
    assert mode(tmp_path) == 0o700
    assert not list(tmp_path.glob(".*.tmp"))


def test_leftover_staging_file_does_not_keep_its_permissions(tmp_path: Path) -> None:
    staging = tmp_path / ".config.json.tmp"
    staging.write_text("stale")
    staging.chmod(0o666)
    save_config(Config(server="http://x"), tmp_path / "config.json")
    assert mode(tmp_path / "config.json") == 0o600


def test_missing_config_is_empty_and_logged_out_keeps_server(tmp_path: Path) -> None:
    assert load_config(tmp_path / "nope.json") == Config()
    config = Config(server="http://x", email="e", access_token="a", refresh_token="r")
    assert config.logged_out() == Config(server="http://x", email="e")
    assert config.with_tokens("a2", "r2").refresh_token == "r2"


def test_config_dir_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADELAB_CONFIG_DIR", str(tmp_path))
    assert config_path() == tmp_path / "config.json"


def test_unreadable_config_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError):
        load_config(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError):
        load_config(path)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("localhost:8000", "http://localhost:8000"),
        ("https://lab.example.com/tradelab/", "https://lab.example.com/tradelab"),
    ],
)
def test_server_urls_are_normalised(given: str, expected: str) -> None:
    assert normalise_server(given) == expected


def test_non_http_server_url_is_refused() -> None:
    with pytest.raises(ConfigError):
        normalise_server("ftp://example.com")
