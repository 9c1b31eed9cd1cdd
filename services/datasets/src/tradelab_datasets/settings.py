"""Settings of the datasets service (environment variables prefixed ``DATASETS_``)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tradelab_runtime.settings import ServiceSettings


class DatasetsSettings(ServiceSettings):
    """Configuration of one datasets process."""

    model_config = SettingsConfigDict(env_prefix="DATASETS_", extra="ignore", frozen=True)

    service_name: str = "datasets"
    port: int = 8002
    quick_max_concurrent: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Quick-backtest uploads normalised at once by this process; more wait.",
    )
