"""Settings of the auth service (environment variables prefixed ``AUTH_``).

``AUTH_SIGNING_KEYS`` holds one or more PEM-encoded Ed25519 private keys, concatenated; the first
signs and all are published (see `tradelab_auth.domain.keys`). Left empty, development and test
processes sign with an ephemeral key and production refuses to start. ``AUTH_JWT_ISSUER`` and
``AUTH_JWT_AUDIENCE`` may be given stack-wide as ``JWT_ISSUER`` / ``JWT_AUDIENCE`` so the gateway
checks the same values.
"""

from typing import ClassVar, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from tradelab_runtime.settings import ServiceSettings

from .domain.keys import parse_private_keys


class AuthSettings(ServiceSettings):
    """Configuration of one auth process."""

    # The rest (frozen, extra="ignore", hide_input_in_errors so an error never quotes the signing
    # keys) is inherited: pydantic merges a subclass's model_config into its parent's.
    model_config = SettingsConfigDict(env_prefix="AUTH_")

    USES_BUS_KEYS: ClassVar[bool] = True

    service_name: str = "auth"
    port: int = 8001

    signing_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Concatenated PEM Ed25519 private keys; the first signs, all are published.",
    )
    request_workers: int = Field(
        default=2, ge=1, le=4, description="Requests handled at once (up to the 4 partitions)."
    )
    access_token_ttl_s: int = Field(default=900, gt=0, description="Access token lifetime.")
    refresh_token_ttl_s: int = Field(
        default=30 * 24 * 3600, gt=0, description="Refresh token lifetime (renewed on rotation)."
    )

    argon2_time_cost: int = Field(default=3, ge=1, description="argon2id passes.")
    argon2_memory_cost: int = Field(default=65536, ge=8, description="argon2id memory, KiB.")
    argon2_parallelism: int = Field(default=1, ge=1, description="argon2id lanes.")

    def secret_fields(self) -> tuple[str, ...]:
        """Name the fields that must hold a real secret in production."""
        return ("signing_keys",)

    @model_validator(mode="after")
    def _check_signing_keys(self) -> Self:
        pems = self.signing_keys.get_secret_value()
        if pems.strip():
            # Fail at start, not at the first login, on a key that does not parse.
            try:
                parse_private_keys(pems)
            except ValueError as exc:
                msg = f"signing_keys (AUTH_SIGNING_KEYS): {exc}"
                raise ValueError(msg) from None
        elif self.environment == "production":
            msg = "signing_keys (AUTH_SIGNING_KEYS) must hold an Ed25519 PEM key in production"
            raise ValueError(msg)
        return self
