import base64
from typing import ClassVar

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from tradelab_runtime.kafka_security import broker_security, client_options
from tradelab_runtime.sealing import BusKeys
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


class SecretDemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_")

    service_name: str = "demo"
    api_key: SecretStr = SecretStr("")

    def secret_fields(self) -> tuple[str, ...]:
        return ("api_key",)


@pytest.mark.parametrize("value", ["changeme", " Secret "])
def test_placeholder_in_a_secret_str_field_is_refused_in_production(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DEMO_API_KEY", value)
    with pytest.raises(ValidationError, match="api_key is unset or a placeholder"):
        SecretDemoSettings()
    monkeypatch.setenv("DEMO_API_KEY", "f3a9c1d27b")
    assert SecretDemoSettings().api_key.get_secret_value() == "f3a9c1d27b"


def test_real_secret_is_accepted_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DEMO_SIGNING_KEY", "f3a9c1d27b")
    assert DemoSettings().signing_key == "f3a9c1d27b"


def test_instance_id_defaults_to_a_valid_unique_id() -> None:
    first, second = DemoSettings(), DemoSettings()
    assert first.instance_id != second.instance_id
    assert first.instance_id.replace("-", "").isalnum()


class SealingDemoSettings(DemoSettings):
    USES_BUS_KEYS: ClassVar[bool] = True


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DEMO_SIGNING_KEY", "f3a9c1d27b")


@pytest.mark.usefixtures("production")
def test_production_service_that_seals_refuses_to_start_without_bus_keys() -> None:
    with pytest.raises(ValidationError, match="bus_keys"):
        SealingDemoSettings()


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize(
    "value",
    ["changeme", "k1:c2hvcnQ=", "dev:" + base64.b64encode(bytes(32)).decode()],
    ids=["placeholder", "short key", "zero key"],
)
def test_production_refuses_placeholder_or_short_bus_keys(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("BUS_KEYS", value)
    with pytest.raises(ValidationError, match="bus_keys"):
        SealingDemoSettings()


@pytest.mark.usefixtures("production")
def test_production_refuses_the_development_bus_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUS_KEYS", BusKeys.development().keys[0][0] + ":" + _dev_key_b64())
    with pytest.raises(ValidationError, match="development key"):
        SealingDemoSettings()


@pytest.mark.usefixtures("production")
def test_prefixed_bus_keys_win_and_the_first_seals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUS_KEYS", BusKeys.generate_entry("shared"))
    monkeypatch.setenv(
        "DEMO_BUS_KEYS", f"{BusKeys.generate_entry('new')},{BusKeys.generate_entry('old')}"
    )
    settings = SealingDemoSettings()
    assert settings.bus_keyring().kids == ("new", "old")
    assert "new:" not in repr(settings)


def test_bus_keys_are_parsed_once_at_start_not_at_every_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BUS_KEYS", BusKeys.generate_entry("k1"))
    settings = DemoSettings()
    assert settings.bus_keyring() is settings.bus_keyring()
    assert settings.bus_keyring().kids == ("k1",)


def test_development_without_bus_keys_uses_the_development_key() -> None:
    assert DemoSettings().bus_keyring().is_development


def test_sasl_protocol_needs_a_username_and_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ValidationError, match="kafka_sasl_username"):
        DemoSettings()


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize("password", ["  changeme  ", "eleven-char"])
def test_production_refuses_a_placeholder_or_short_sasl_password(
    monkeypatch: pytest.MonkeyPatch, password: str
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("DEMO_KAFKA_SASL_USERNAME", "demo")
    monkeypatch.setenv("DEMO_KAFKA_SASL_PASSWORD", password)
    with pytest.raises(ValidationError, match="kafka_sasl_password is a placeholder or shorter"):
        DemoSettings()


@pytest.mark.usefixtures("production")
def test_production_over_plaintext_needs_no_sasl_login() -> None:
    assert DemoSettings().kafka_sasl_password.get_secret_value() == ""


def test_sasl_settings_become_scram_client_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("DEMO_KAFKA_SASL_USERNAME", "demo")
    monkeypatch.setenv("DEMO_KAFKA_SASL_PASSWORD", "s3cret-s3cret")
    options = client_options(broker_security(DemoSettings()))
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "demo",
        "s3cret-s3cret",
    )


def test_plaintext_is_the_default_and_adds_no_client_options() -> None:
    assert client_options(broker_security(DemoSettings())) == {}


def _dev_key_b64() -> str:
    [(_, key)] = BusKeys.development().keys
    return base64.b64encode(key).decode()


def test_standard_otel_variables_configure_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    settings = DemoSettings()
    assert settings.otel_exporter_otlp_endpoint == "http://collector:4318"
    assert settings.otel_traces_exporter == "console"


def test_exporter_is_unset_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    settings = DemoSettings()
    assert (settings.otel_traces_exporter, settings.otel_exporter_otlp_endpoint) == (None, "")
