"""Shared helpers for the datasets domain tests: uploads are written under ``tmp_path``."""

import importlib.resources
from collections.abc import Callable
from pathlib import Path

import pytest

WriteUpload = Callable[..., Path]


@pytest.fixture
def write_upload(tmp_path: Path) -> WriteUpload:
    """Return ``write(content, name="upload.csv") -> Path`` writing text (UTF-8) or bytes."""

    def write(content: str | bytes, name: str = "upload.csv") -> Path:
        path = tmp_path / name
        data = content.encode("utf-8") if isinstance(content, str) else content
        path.write_bytes(data)
        return path

    return write


@pytest.fixture(scope="session")
def goog_csv() -> Path:
    """Real daily GOOG bars 2004-2013 shipped by the ``backtesting`` package."""
    return Path(str(importlib.resources.files("backtesting.test") / "GOOG.csv"))
