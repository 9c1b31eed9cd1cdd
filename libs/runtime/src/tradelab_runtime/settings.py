"""Settings base shared by every service.

Each service subclasses :class:`ServiceSettings` with its own env prefix (``AUTH_``, ``ENGINE_``).
A few values are the same for the whole stack (the broker, the database, logging); they may be given
once without a prefix (``KAFKA_BOOTSTRAP``, ``DATABASE_URL``) and a prefixed variable still wins.
"""

import os
import secrets
import socket
from typing import Any, ClassVar, Literal

from pydantic import Field, PrivateAttr, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from .sealing import BusKeys, SealingError

Environment = Literal["development", "test", "production"]
LogFormat = Literal["json", "console"]

PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "changethis", "secret", "placeholder"}
)


def default_instance_id() -> str:
    """Return an id unique to this process: host, pid and a random suffix."""
    host = socket.gethostname().lower().replace("_", "-").replace(".", "-")[:20]
    return f"{host}-{os.getpid()}-{secrets.token_hex(3)}"


class _SharedEnvSource(EnvSettingsSource):
    """Read the stack-wide variables without the service prefix, at lower priority."""

    def __init__(self, settings_cls: type[BaseSettings], shared: frozenset[str]) -> None:
        super().__init__(settings_cls, env_prefix="", case_sensitive=False)
        self._shared = shared

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name not in self._shared:
            return None, field_name, False
        return super().get_field_value(field, field_name)


class ServiceSettings(BaseSettings):
    """Settings every service has; subclasses set ``env_prefix`` and their own defaults."""

    # hide_input_in_errors: a validation error would otherwise quote secrets (bus keys, SASL).
    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    SHARED_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {
            "environment",
            "kafka_bootstrap",
            "kafka_max_message_bytes",
            "database_url",
            "log_format",
            "log_level",
            "heartbeat_interval_s",
            "otel_traces_exporter",
            "otel_exporter_otlp_endpoint",
            "metrics_token",
            "keep_alive_s",
            "create_topics",
            "topic_replication",
            "object_store_url",
            "jwt_issuer",
            "jwt_audience",
            "retry_max_attempts",
            "retry_first_delay_s",
            "bus_keys",
            "kafka_security_protocol",
            "kafka_sasl_mechanism",
        }
    )
    USES_BUS_KEYS: ClassVar[bool] = False
    """Whether this service seals or opens secrets on the bus (production then needs keys)."""

    service_name: str = Field(description="Name the service reports in heartbeats and logs.")
    environment: Environment = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    instance_id: str = Field(default_factory=default_instance_id, pattern=r"^[a-z0-9-]{1,40}$")
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_max_message_bytes: int = Field(
        default=1024 * 1024,
        ge=64 * 1024,
        le=100 * 1024 * 1024,
        description="The broker's message.max.bytes: a reply whose JSON would not fit (16 KiB "
        "kept for key, headers and framing) is answered with the error 'reply_too_large'.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="PLAINTEXT for the development broker; SASL_SSL (or SASL_PLAINTEXT inside a "
        "private network) where the broker runs SASL/SCRAM with per-service ACLs.",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism when the protocol is SASL_*."
    )
    kafka_sasl_username: str = Field(
        default="", description="This service's own Kafka principal (per service, never shared)."
    )
    kafka_sasl_password: SecretStr = Field(
        default=SecretStr(""), description="The principal's SCRAM password (per service)."
    )
    kafka_ssl_cafile: str = Field(
        default="", description="CA bundle that signed the broker's certificate (SASL_SSL)."
    )
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/tradelab"
    log_format: LogFormat = "console"
    log_level: str = "INFO"
    heartbeat_interval_s: float = Field(default=3.0, gt=0)
    readiness_timeout_s: float = Field(default=2.0, gt=0)
    keep_alive_s: int = Field(
        default=75,
        ge=1,
        le=3600,
        description="How long an idle HTTP keep-alive connection stays open. Longer than the "
        "idle timeout of any client or proxy in front (60 s on most load balancers), so the "
        "client closes first: a server that closes first races a request sent on the closing "
        "connection, which then fails (uvicorn's own default is 5 s).",
    )
    otel_traces_exporter: Literal["otlp", "console", "none"] | None = Field(
        default=None,
        description="Where spans go (OTEL_TRACES_EXPORTER): 'otlp' to a collector, 'console' to "
        "standard output, 'none' nowhere (they are still created and propagated). Unset: 'otlp' "
        "when OTEL_EXPORTER_OTLP_ENDPOINT is set, else 'none'.",
    )
    otel_exporter_otlp_endpoint: str = Field(
        default="",
        description="Base URL of an OTLP/HTTP collector (OTEL_EXPORTER_OTLP_ENDPOINT), e.g. "
        "http://otel-collector:4318; spans are posted to its /v1/traces (docs/tracing.md).",
    )
    metrics_token: SecretStr = Field(
        default=SecretStr(""),
        description="Bearer token GET /metrics asks for; empty: open (docs/monitoring.md).",
    )
    create_topics: bool = Field(
        default=True, description="Create missing topics at start (off where ops manage topics)."
    )
    topic_replication: int = Field(default=1, ge=1)
    object_store_url: str = Field(
        default="file://.tradelab/objects",
        description="Where data-plane files live: file:///absolute/path (S3 is not built yet).",
    )
    jwt_issuer: str = Field(default="tradelab-auth", description="'iss' of access tokens.")
    jwt_audience: str = Field(default="tradelab-api", description="'aud' of access tokens.")
    retry_max_attempts: int = Field(
        default=4, ge=1, le=20, description="Attempts at a failing message before it is parked."
    )
    retry_first_delay_s: float = Field(
        default=0.5, gt=0, le=60, description="Back-off after the first failed attempt (doubles)."
    )
    bus_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Keys that seal secrets on the bus: 'kid:base64key' entries (32-byte keys), "
        "comma-separated; the first seals, all open. Empty outside production means the "
        "well-known development key; production refuses empty, short or development keys.",
    )
    failpoints: str = Field(
        default="",
        description="Test only: comma-separated failpoints to arm (tradelab_runtime.failpoints); "
        "refused in production.",
    )
    _bus_keyring: BusKeys = PrivateAttr(default_factory=BusKeys.development)
    """``bus_keys`` as parsed once at start (`_check_bus_keys`), not again at every use."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        shared = _SharedEnvSource(settings_cls, cls.SHARED_FIELDS)
        return init_settings, env_settings, shared, dotenv_settings, file_secret_settings

    @model_validator(mode="after")
    def _refuse_failpoints_in_production(self) -> "ServiceSettings":
        if self.environment == "production" and self.failpoints.strip():
            msg = "failpoints are a test setting and are refused in production"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _check_kafka_sasl(self) -> "ServiceSettings":
        if self.kafka_security_protocol == "PLAINTEXT":
            return self  # no login: the SASL fields are not read
        password = self.kafka_sasl_password.get_secret_value()
        if not (self.kafka_sasl_username and password):
            msg = (
                f"kafka_security_protocol {self.kafka_security_protocol} needs "
                "kafka_sasl_username and kafka_sasl_password"
            )
            raise ValueError(msg)
        weak = password.strip().lower() in PLACEHOLDER_SECRETS or len(password) < 12
        if self.environment == "production" and weak:
            msg = "kafka_sasl_password is a placeholder or shorter than 12 characters"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _check_bus_keys(self) -> "ServiceSettings":
        value = self.bus_keys.get_secret_value()
        if value.strip():
            try:  # fail at start, not at the first login
                self._bus_keyring = BusKeys.parse(value)
            except SealingError as exc:
                msg = f"bus_keys (BUS_KEYS): {exc}"
                raise ValueError(msg) from None
            if self.environment == "production" and self._bus_keyring.is_development:
                msg = "bus_keys (BUS_KEYS) holds the development key; refused in production"
                raise ValueError(msg)
        elif self.environment == "production" and self.USES_BUS_KEYS:
            msg = "bus_keys (BUS_KEYS) must hold at least one 'kid:base64key' in production"
            raise ValueError(msg)
        return self

    def bus_keyring(self) -> BusKeys:
        """Return the bus keys (the development key when none are set, never in production).

        Parsed once, when the settings were validated: the auth service asks for them on every
        request.
        """
        return self._bus_keyring

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> "ServiceSettings":
        if self.environment == "production":
            for name in self.secret_fields():
                value = getattr(self, name) or ""
                if isinstance(value, SecretStr):  # str() of one is '**********', never a match
                    value = value.get_secret_value()
                if str(value).strip().lower() in PLACEHOLDER_SECRETS:
                    msg = f"{name} is unset or a placeholder; set a real secret in the environment"
                    raise ValueError(msg)
        return self

    def secret_fields(self) -> tuple[str, ...]:
        """Name the fields that must hold a real secret in production (none by default)."""
        return ()

    @property
    def version(self) -> str:
        """Return the version of the running code."""
        from importlib.metadata import version

        return version("tradelab-runtime")
