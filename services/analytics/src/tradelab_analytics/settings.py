"""Settings of the analytics service (environment variables prefixed ``ANALYTICS_``)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tradelab_runtime.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    """Configuration of one analytics process."""

    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", extra="ignore", frozen=True)

    service_name: str = "analytics"
    port: int = 8004
    rolling_window: int = Field(default=126, ge=2, le=100_000)
    """Bars in the rolling Sharpe and volatility windows of the stored charts (126: half a year
    of daily bars, quantstats' default)."""
