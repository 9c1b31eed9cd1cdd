"""Settings of the auth service (environment variables prefixed ``AUTH_``).

``AUTH_SIGNING_KEYS`` holds one or more PEM-encoded Ed25519 private keys, concatenated; the first
signs and all are published (see `tradelab_auth.domain.keys`). Left empty, development and test
processes sign with an ephemeral key and production refuses to start. ``AUTH_JWT_ISSUER`` and
``AUTH_JWT_AUDIENCE`` may be given stack-wide as ``JWT_ISSUER`` / ``JWT_AUDIENCE`` so the gateway
checks the same values.

``AUTH_ADMIN_EMAIL`` names the first administrator: at start-up that account is made ``admin``;
with ``AUTH_ADMIN_PASSWORD`` as well it is created first when it does not exist (the password is
then only its initial one). Registering that address through the API never makes an admin (no
one proves they own an address), so the account exists before anyone could register it.
"""

from typing import ClassVar, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from tradelab_contracts.auth import Email
from tradelab_runtime.settings import PLACEHOLDER_SECRETS, ServiceSettings

from .domain.keys import parse_private_keys
from .domain.passwords import password_problem


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

    admin_email: Email | None = Field(
        default=None,
        description="Account made admin at start-up (created with admin_password if missing).",
    )
    admin_password: SecretStr = Field(
        default=SecretStr(""),
        description="Initial password of the admin_email account, when auth creates it.",
    )

    argon2_time_cost: int = Field(default=3, ge=1, description="argon2id passes.")
    argon2_memory_cost: int = Field(default=65536, ge=8, description="argon2id memory, KiB.")
    argon2_parallelism: int = Field(default=1, ge=1, description="argon2id lanes.")

    def secret_fields(self) -> tuple[str, ...]:
        """Name the fields that must hold a real secret in production."""
        return ("signing_keys",)

    @field_validator("admin_email", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        # Compose passes an unset variable as an empty string: no admin named, not a bad one.
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check_admin(self) -> Self:
        password = self.admin_password.get_secret_value()
        if not password:
            return self
        if self.admin_email is None:
            msg = "admin_password (AUTH_ADMIN_PASSWORD) is set without admin_email"
            raise ValueError(msg)
        # Refused in every environment: an admin created with "changeme" is an open door.
        if password.strip().lower() in PLACEHOLDER_SECRETS:
            msg = "admin_password (AUTH_ADMIN_PASSWORD) is a placeholder"
            raise ValueError(msg)
        if (problem := password_problem(password, self.admin_email)) is not None:
            msg = f"admin_password (AUTH_ADMIN_PASSWORD): {problem}"
            raise ValueError(msg)
        return self

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
