"""Settings of the analytics service (environment variables prefixed ``ANALYTICS_``)."""

from pydantic_settings import SettingsConfigDict

from tradelab_runtime.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    """Configuration of one analytics process."""

    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", extra="ignore", frozen=True)

    service_name: str = "analytics"
    port: int = 8004
