"""``reap_leftovers`` survives pid files that vanish, are garbled, or name processes long gone."""

import sys
from pathlib import Path

import pytest

from tradelab_devstack import state


@pytest.fixture
def pids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRADELAB_STATE_DIR", str(tmp_path))
    return state.state_dir() / "pids"


def test_a_pid_file_removed_between_listing_and_reading_is_skipped(
    pids: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another launcher stopping at the same moment deletes the file after our glob listed it.
    (pids / "engine.pid").write_text("123\ncmd\n")
    listed = list(pids.glob("*.pid"))
    (pids / "engine.pid").unlink()
    monkeypatch.setattr(Path, "glob", lambda _self, _pattern: iter(listed))

    assert state.reap_leftovers() == []


def test_a_dangling_pid_file_is_skipped_and_removed(pids: Path) -> None:
    (pids / "auth.pid").symlink_to(pids / "gone.pid")  # listed, but reading it fails

    assert state.reap_leftovers() == []
    assert list(pids.iterdir()) == []


@pytest.mark.parametrize(
    "content",
    ["", "\n", "not-a-pid\ncmd\n", "-5\ncmd\n", "42\n", b"\xff\xfe\x00".decode("latin-1")],
)
def test_a_garbled_pid_file_is_removed_without_ending_anything(pids: Path, content: str) -> None:
    (pids / "gateway.pid").write_text(content, encoding="latin-1")

    assert state.reap_leftovers() == []
    assert list(pids.iterdir()) == []


def test_a_process_already_gone_is_not_reported_and_its_file_is_removed(pids: Path) -> None:
    # Beyond the largest pid_max Linux allows: no process has it.
    state.record("analytics", 2**22 + 1, [sys.executable, "-m", "tradelab_analytics"])

    assert state.reap_leftovers() == []
    assert list(pids.iterdir()) == []
