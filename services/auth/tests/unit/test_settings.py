import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pydantic import ValidationError

from tradelab_auth.app import load_key_ring
from tradelab_auth.domain.keys import SigningKey
from tradelab_auth.settings import AuthSettings
from tradelab_runtime.sealing import BusKeys


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AUTH_SIGNING_KEYS",
        "AUTH_ENVIRONMENT",
        "ENVIRONMENT",
        "AUTH_JWT_ISSUER",
        "JWT_ISSUER",
        "AUTH_JWT_AUDIENCE",
        "JWT_AUDIENCE",
        "AUTH_BUS_KEYS",
    ):
        monkeypatch.delenv(name, raising=False)
    # A real bus key, so the production cases below fail (or pass) on the signing keys alone.
    monkeypatch.setenv("BUS_KEYS", BusKeys.generate_entry("k1"))


def pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


def test_defaults_are_the_documented_ones() -> None:
    s = AuthSettings()
    assert (s.jwt_issuer, s.jwt_audience) == ("tradelab-auth", "tradelab-api")
    assert (s.access_token_ttl_s, s.refresh_token_ttl_s) == (900, 30 * 24 * 3600)
    assert (s.argon2_time_cost, s.argon2_memory_cost, s.argon2_parallelism) == (3, 65536, 1)


def test_production_without_signing_keys_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="signing_keys"):
        AuthSettings(environment="production")


def test_production_with_a_placeholder_signing_key_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTH_SIGNING_KEYS", "changeme")
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="signing_keys"):
        AuthSettings()


def test_unparseable_signing_keys_are_refused_in_any_environment() -> None:
    with pytest.raises(ValidationError, match=r"signing_keys.*no PEM block"):
        AuthSettings(environment="development", signing_keys="not a key")  # type: ignore[arg-type]


def test_production_with_a_real_key_starts_and_signs_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = Ed25519PrivateKey.generate()
    monkeypatch.setenv("AUTH_SIGNING_KEYS", pem(key))
    settings = AuthSettings(environment="production")
    ring, ephemeral = load_key_ring(settings)
    assert not ephemeral
    assert ring.signing_key.kid == SigningKey.of(key).kid


def test_signing_keys_never_show_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    key_pem = pem(Ed25519PrivateKey.generate())
    monkeypatch.setenv("AUTH_SIGNING_KEYS", key_pem)
    assert key_pem.splitlines()[1] not in repr(AuthSettings())


def test_a_refused_key_is_not_quoted_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    secret_body = "c2VjcmV0LWtleS1tYXRlcmlhbA"
    monkeypatch.setenv(
        "AUTH_SIGNING_KEYS",
        f"-----BEGIN PRIVATE KEY-----\n{secret_body}\n-----END PRIVATE KEY-----",
    )
    with pytest.raises(ValidationError, match="not a readable") as excinfo:
        AuthSettings()
    assert secret_body not in str(excinfo.value)


def test_development_without_keys_gets_an_ephemeral_key() -> None:
    ring, ephemeral = load_key_ring(AuthSettings(environment="development"))
    assert ephemeral
    assert len(ring.jwks()) == 1


def test_issuer_and_audience_fall_back_to_the_stack_wide_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JWT_ISSUER", "stack-issuer")
    monkeypatch.setenv("JWT_AUDIENCE", "stack-audience")
    s = AuthSettings()
    assert (s.jwt_issuer, s.jwt_audience) == ("stack-issuer", "stack-audience")


def test_prefixed_issuer_wins_over_the_stack_wide_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_ISSUER", "stack-issuer")
    monkeypatch.setenv("AUTH_JWT_ISSUER", "auth-issuer")
    assert AuthSettings().jwt_issuer == "auth-issuer"


def test_production_without_bus_keys_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUS_KEYS")
    monkeypatch.setenv("AUTH_SIGNING_KEYS", pem(Ed25519PrivateKey.generate()))
    with pytest.raises(ValidationError, match="bus_keys"):
        AuthSettings(environment="production")


def test_settings_inherit_the_base_config_and_cannot_change_once_read() -> None:
    settings = AuthSettings(unknown_field="ignored")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="frozen"):
        settings.port = 1  # type: ignore[misc]  # the point: frozen refuses assignment
