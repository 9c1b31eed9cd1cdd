"""docker-compose.yml against the compose-spec schema, and each service's environment against its
real settings class (production mode, as the containers run)."""

import importlib.util
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from pydantic import ValidationError

from tests.deploy.files import (
    REPO,
    MissingVariableError,
    compose_environment,
    dockerfile_instructions,
    generate_bus_key,
    generate_signing_key,
    interpolate_tree,
    load_yaml,
    read_env_file,
    required_variables,
    service_names,
    settings_from_env,
    stage_env,
    uses_object_store,
)
from tradelab_auth.settings import AuthSettings
from tradelab_gateway.settings import GatewaySettings
from tradelab_runtime.settings import PLACEHOLDER_SECRETS

COMPOSE = REPO / "docker-compose.yml"
MONITORING = ("prometheus", "grafana")
"""Services of the ``monitoring`` profile (docs/monitoring.md)."""
HEALTH_URL = re.compile(r"http://127\.0\.0\.1:(?P<port>\d+)(?P<path>/[\w/]*)")


def check_compose_schema(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[object, str]:
    """Validate a compose file with check-jsonschema's vendored compose-spec (no network), in
    process (its command line as ``main``); return the exit code and what it printed."""
    cli = importlib.import_module("check_jsonschema").main  # untyped: no py.typed marker
    with pytest.raises(SystemExit) as exited:
        cli(["--builtin-schema", "vendor.compose-spec", str(path)])
    captured = capsys.readouterr()
    return exited.value.code, captured.out + captured.err


@pytest.fixture(scope="module")
def signing_key() -> str:
    return generate_signing_key()


KAFKA_PASSWORDS = {
    f"KAFKA_PASSWORD_{name.upper()}": f"{name}-kafka-password" for name in service_names()
}


@pytest.fixture(scope="module")
def secrets_env(signing_key: str) -> dict[str, str]:
    return {
        "POSTGRES_PASSWORD": "a-test-password",
        "AUTH_SIGNING_KEYS": signing_key,
        "BUS_KEYS": generate_bus_key(),
        "GRAFANA_ADMIN_PASSWORD": "a-grafana-password",
        **KAFKA_PASSWORDS,
    }


@pytest.fixture(scope="module")
def compose(secrets_env: dict[str, str]) -> dict[str, Any]:
    tree = interpolate_tree(load_yaml(COMPOSE), secrets_env)
    assert isinstance(tree, dict)
    return tree


@pytest.fixture(scope="module")
def image_env() -> dict[str, str]:
    instructions = dockerfile_instructions((REPO / "Dockerfile").read_text(encoding="utf-8"))
    return stage_env(instructions, max(i.stage for i in instructions))


def container_env(
    compose: dict[str, Any], image_env: dict[str, str], service: str
) -> dict[str, str]:
    """What the process sees: the image's ENV, overridden by the service's environment."""
    return {**image_env, **compose_environment(compose["services"][service])}


def test_compose_file_matches_the_compose_spec(capsys: pytest.CaptureFixture[str]) -> None:
    code, output = check_compose_schema(COMPOSE, capsys)
    assert code == 0, output
    assert "validation done" in output


def test_compose_schema_check_rejects_an_unknown_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "docker-compose.yml"
    text = COMPOSE.read_text(encoding="utf-8").replace("replicas: 2", "replica: 2", 1)
    broken.write_text(text, encoding="utf-8")
    code, output = check_compose_schema(broken, capsys)
    assert code == 1
    assert "'replica' does not match" in output


def test_compose_runs_all_five_services_and_their_infrastructure(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        *service_names(),
        *MONITORING,
        "kafka",
        "postgres",
        "redis",
    }
    for name in MONITORING:
        assert compose["services"][name]["profiles"] == ["monitoring"]  # only when asked for


def test_gateway_counts_rate_limits_in_the_compose_redis(
    monkeypatch: pytest.MonkeyPatch, compose: dict[str, Any], image_env: dict[str, str]
) -> None:
    env = container_env(compose, image_env, "gateway")
    settings = settings_from_env(monkeypatch, "gateway", env)
    assert isinstance(settings, GatewaySettings)
    url = urlparse(settings.redis_url)
    redis = compose["services"]["redis"]
    assert (url.hostname, url.port) == ("redis", 6379)
    assert "--save" in redis["command"]  # nothing persisted
    assert "redis-cli" in redis["healthcheck"]["test"]
    assert compose["services"]["gateway"]["depends_on"]["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize("service", service_names())
def test_service_settings_accept_the_compose_environment(
    monkeypatch: pytest.MonkeyPatch,
    compose: dict[str, Any],
    image_env: dict[str, str],
    service: str,
) -> None:
    spec = compose["services"][service]
    settings = settings_from_env(monkeypatch, service, container_env(compose, image_env, service))
    assert settings.environment == "production"
    assert settings.host == "0.0.0.0"
    assert settings.kafka_bootstrap == "kafka:9092"
    health = HEALTH_URL.search(" ".join(spec["healthcheck"]["test"]))
    assert health is not None
    assert (int(health["port"]), health["path"]) == (settings.port, "/readyz")
    assert spec["command"][:2] == ["python", "-m"]
    assert spec["command"][2] == f"tradelab_{service}"
    assert importlib.util.find_spec(f"tradelab_{service}.__main__") is not None


@pytest.mark.parametrize("service", service_names())
def test_services_that_use_the_object_store_share_its_volume(
    monkeypatch: pytest.MonkeyPatch,
    compose: dict[str, Any],
    image_env: dict[str, str],
    service: str,
) -> None:
    settings = settings_from_env(monkeypatch, service, container_env(compose, image_env, service))
    root = urlparse(settings.object_store_url)
    assert root.scheme == "file"
    mounts = compose["services"][service].get("volumes", [])
    expected = [f"objects:{root.path}"] if uses_object_store(service) else []
    assert mounts == expected
    assert "objects" in compose["volumes"]


def test_database_settings_match_the_postgres_container(
    monkeypatch: pytest.MonkeyPatch, compose: dict[str, Any], image_env: dict[str, str]
) -> None:
    postgres = compose["services"]["postgres"]["environment"]
    env = container_env(compose, image_env, "engine")
    url = urlparse(settings_from_env(monkeypatch, "engine", env).database_url)
    assert url.hostname == "postgres"
    assert url.username == postgres["POSTGRES_USER"]
    assert url.path == f"/{postgres['POSTGRES_DB']}"  # the database the image creates
    assert url.password is None
    assert env["PGPASSWORD"] == postgres["POSTGRES_PASSWORD"] == "a-test-password"


def test_kafka_advertises_the_address_the_services_use(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", kafka["image"])
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "CLIENT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")


def test_postgres_is_pinned_and_kept_on_a_volume(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert re.fullmatch(r"postgres:1[67](\.\d+)?(-[a-z]+)?", postgres["image"])
    assert postgres["volumes"] == ["postgres-data:/var/lib/postgresql/data"]


def test_every_dependency_waits_for_health(compose: dict[str, Any]) -> None:
    for name, spec in compose["services"].items():
        for dependency, condition in spec.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, (name, dependency)
            assert "healthcheck" in compose["services"][dependency], dependency
    assert set(compose["services"]["gateway"]["depends_on"]) == set(compose["services"]) - {
        "gateway",
        *MONITORING,
    }


def test_only_the_gateway_is_published(
    monkeypatch: pytest.MonkeyPatch, compose: dict[str, Any], image_env: dict[str, str]
) -> None:
    published = {name for name, spec in compose["services"].items() if "ports" in spec}
    assert published == {"gateway", "grafana"}
    (grafana,) = compose["services"]["grafana"]["ports"]
    assert grafana.startswith("127.0.0.1:")  # the host's loopback only
    (mapping,) = compose["services"]["gateway"]["ports"]
    gateway = settings_from_env(
        monkeypatch, "gateway", container_env(compose, image_env, "gateway")
    )
    assert mapping.rsplit(":", 1)[1] == str(gateway.port)


def test_engine_runs_two_replicas(compose: dict[str, Any]) -> None:
    assert compose["services"]["engine"]["deploy"]["replicas"] == 2


def test_one_image_built_once_for_every_service(compose: dict[str, Any]) -> None:
    ours = {name: compose["services"][name] for name in service_names()}
    assert len({spec["image"] for spec in ours.values()}) == 1
    assert [name for name, spec in ours.items() if "build" in spec] == ["gateway"]


def test_secrets_come_only_from_required_variables() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    assert required_variables(text) == {
        "AUTH_SIGNING_KEYS",
        "POSTGRES_PASSWORD",
        "BUS_KEYS",
        "GRAFANA_ADMIN_PASSWORD",
        *KAFKA_PASSWORDS,
    }
    raw = load_yaml(COMPOSE)
    secret_values = [
        raw["services"]["auth"]["environment"]["AUTH_SIGNING_KEYS"],
        raw["services"]["engine"]["environment"]["PGPASSWORD"],
        raw["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"],
    ]
    for value in secret_values:
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", value), value
    everything = dict.fromkeys(required_variables(text), "x")
    for name in everything:
        missing_one = {k: v for k, v in everything.items() if k != name}
        with pytest.raises(MissingVariableError, match=name):
            interpolate_tree(raw, missing_one)


def test_only_auth_receives_the_signing_keys(compose: dict[str, Any]) -> None:
    holders = {
        name
        for name, spec in compose["services"].items()
        if "AUTH_SIGNING_KEYS" in spec.get("environment", {})
    }
    assert holders == {"auth"}


def test_env_example_documents_every_required_variable_with_a_refused_placeholder() -> None:
    example = read_env_file(REPO / ".env.example")
    required = required_variables(COMPOSE.read_text(encoding="utf-8"))
    assert required <= set(example)
    for name in required:
        assert example[name].lower() in PLACEHOLDER_SECRETS, name


def test_auth_refuses_the_placeholder_signing_key_of_env_example(
    monkeypatch: pytest.MonkeyPatch, image_env: dict[str, str]
) -> None:
    example = read_env_file(REPO / ".env.example")
    compose = interpolate_tree(load_yaml(COMPOSE), example)
    env = container_env(compose, image_env, "auth")
    assert env["AUTH_SIGNING_KEYS"] == example["AUTH_SIGNING_KEYS"]
    with pytest.raises(ValidationError, match=r"kafka_sasl_password|signing_keys|bus_keys"):
        settings_from_env(monkeypatch, "auth", env)
    # The first placeholder found is refused, so with only the signing key left a placeholder,
    # the refusal must name it (else the Kafka password alone would pass this test).
    real_others = {**example, **KAFKA_PASSWORDS, "BUS_KEYS": generate_bus_key()}
    env = container_env(interpolate_tree(load_yaml(COMPOSE), real_others), image_env, "auth")
    assert env["AUTH_SIGNING_KEYS"] == example["AUTH_SIGNING_KEYS"]
    with pytest.raises(ValidationError, match="signing_keys"):
        settings_from_env(monkeypatch, "auth", env)


def test_env_line_of_the_key_script_is_a_valid_signing_key(
    monkeypatch: pytest.MonkeyPatch, compose: dict[str, Any], image_env: dict[str, str]
) -> None:
    line = generate_signing_key("--env").strip()
    match = re.fullmatch(r'AUTH_SIGNING_KEYS="(?P<value>[^"]+)"', line)
    assert match is not None, line
    pem = match["value"].replace("\\n", "\n")  # compose expands \n inside double quotes
    env = {**container_env(compose, image_env, "auth"), "AUTH_SIGNING_KEYS": pem}
    settings = settings_from_env(monkeypatch, "auth", env)
    assert isinstance(settings, AuthSettings)
    assert settings.signing_keys.get_secret_value() == pem


@pytest.mark.parametrize("service", service_names())
def test_every_service_logs_in_to_kafka_as_its_own_scram_user(
    monkeypatch: pytest.MonkeyPatch,
    compose: dict[str, Any],
    image_env: dict[str, str],
    service: str,
) -> None:
    raw_env = load_yaml(COMPOSE)["services"][service]["environment"]
    own_variable = f"KAFKA_PASSWORD_{service.upper()}"
    assert own_variable in raw_env[f"{service.upper()}_KAFKA_SASL_PASSWORD"]
    settings = settings_from_env(monkeypatch, service, container_env(compose, image_env, service))
    assert settings.kafka_security_protocol == "SASL_PLAINTEXT"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert settings.kafka_sasl_username == service
    assert settings.kafka_sasl_password.get_secret_value() == KAFKA_PASSWORDS[own_variable]
    assert settings.create_topics is False  # the ACLs let no service create shared topics


def test_only_gateway_and_auth_receive_the_bus_keys(compose: dict[str, Any]) -> None:
    holders = {
        name
        for name, spec in compose["services"].items()
        if "BUS_KEYS" in spec.get("environment", {})
    }
    assert holders == {"gateway", "auth"}


def test_kafka_enforces_scram_and_acls_and_applies_the_generated_access_script(
    compose: dict[str, Any],
) -> None:
    kafka = compose["services"]["kafka"]
    env = kafka["environment"]
    listeners = dict(
        item.split(":", 1) for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert listeners["CLIENT"] == "SASL_PLAINTEXT"
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert (
        "ScramLoginModule" in env["KAFKA_LISTENER_NAME_CLIENT_SCRAM___SHA___512_SASL_JAAS_CONFIG"]
    )
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    # The super user is ANONYMOUS, which only the loopback PLAINTEXT listeners can be.
    assert env["KAFKA_SUPER_USERS"] == "User:ANONYMOUS"
    for listener in env["KAFKA_LISTENERS"].split(","):
        name, _, address = listener.partition("://")
        assert listeners[name] != "PLAINTEXT" or address.startswith("127.0.0.1:"), listener
    advertised = env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "CLIENT://kafka:9092" in advertised
    for variable in KAFKA_PASSWORDS:  # the users are created with the services' passwords
        assert env[variable.replace("KAFKA_", "SCRAM_")] == KAFKA_PASSWORDS[variable]
    assert not [name for name in env if name.startswith("KAFKA_PASSWORD")]
    mounts = [m.split(":")[:2] for m in kafka["volumes"]]
    assert ["./infra/k8s/kafka-access.sh", "/opt/tradelab/kafka-access.sh"] in mounts
    script = " ".join(kafka["command"])
    assert "/opt/tradelab/kafka-access.sh" in script
    assert "kafka-access-applied" in " ".join(kafka["healthcheck"]["test"])
