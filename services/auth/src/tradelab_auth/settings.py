"""Settings of the auth service (environment variables prefixed ``AUTH_``)."""

from pydantic_settings import SettingsConfigDict

from tradelab_runtime.settings import ServiceSettings


class AuthSettings(ServiceSettings):
    """Configuration of one auth process."""

    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", frozen=True)

    service_name: str = "auth"
    port: int = 8001
