"""Fixtures of the CLI's in-process tests: a private configuration directory and a fake gateway."""

from pathlib import Path

import pytest

from tools.cli.tests.unit.fake_gateway import FakeGateway


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRADELAB_CONFIG_DIR", str(tmp_path / "tradelab"))
    monkeypatch.delenv("TRADELAB_SERVER", raising=False)
    return tmp_path / "tradelab"


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway()
