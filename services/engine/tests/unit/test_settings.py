"""Engine settings: the test-only pacing knob is refused in production."""

import pytest
from pydantic import ValidationError

from tradelab_engine.settings import EngineSettings


def test_defaults_run_at_full_speed() -> None:
    settings = EngineSettings(environment="development")
    assert settings.chunk_pause_s == 0
    assert settings.chunk_bars == 50_000


def test_pacing_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("ENGINE_CHUNK_BARS", "500")
    monkeypatch.setenv("ENGINE_CHUNK_PAUSE_S", "0.1")
    settings = EngineSettings()
    assert (settings.chunk_bars, settings.chunk_pause_s) == (500, 0.1)


def test_pacing_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="refused in production"):
        EngineSettings(environment="production", chunk_pause_s=0.1)


def test_chunks_smaller_than_100_bars_are_refused() -> None:
    with pytest.raises(ValidationError, match="chunk_bars"):
        EngineSettings(environment="development", chunk_bars=10)
