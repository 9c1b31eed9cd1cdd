import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from tradelab_runtime.settings import ServiceSettings


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore", frozen=True)

    service_name: str = "demo"
    signing_key: str = "changeme"

    def secret_fields(self) -> tuple[str, ...]:
        return ("signing_key",)


def test_shared_variable_without_prefix_configures_every_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "kafka-a:9092")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@db/x")
    settings = DemoSettings()
    assert settings.kafka_bootstrap == "kafka-a:9092"
    assert settings.database_url == "postgresql+asyncpg://u@db/x"


def test_prefixed_variable_wins_over_shared_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "shared:9092")
    monkeypatch.setenv("DEMO_KAFKA_BOOTSTRAP", "own:9092")
    assert DemoSettings().kafka_bootstrap == "own:9092"


def test_port_is_never_taken_from_an_unprefixed_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "1234")
    assert DemoSettings().port == 8000


def test_placeholder_secret_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="signing_key is unset or a placeholder"):
        DemoSettings()


def test_real_secret_is_accepted_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DEMO_SIGNING_KEY", "f3a9c1d27b")
    assert DemoSettings().signing_key == "f3a9c1d27b"


def test_instance_id_defaults_to_a_valid_unique_id() -> None:
    first, second = DemoSettings(), DemoSettings()
    assert first.instance_id != second.instance_id
    assert first.instance_id.replace("-", "").isalnum()
