"""Settings of the engine service (environment variables prefixed ``ENGINE_``)."""

from pydantic_settings import SettingsConfigDict

from tradelab_runtime.settings import ServiceSettings


class EngineSettings(ServiceSettings):
    """Configuration of one engine process."""

    model_config = SettingsConfigDict(env_prefix="ENGINE_", extra="ignore", frozen=True)

    service_name: str = "engine"
    port: int = 8003
