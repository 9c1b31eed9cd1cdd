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
    pending_redrive_s: float = Field(
        default=60.0,
        ge=1.0,
        le=86_400.0,
        description="A dataset pending this long since its upload was announced is announced "
        "again (a broker restarted empty lost the message).",
    )
    pending_max_redrives: int = Field(
        default=3,
        ge=0,
        le=100,
        description="Announcements again before a still-pending dataset is rejected.",
    )
    sweep_interval_s: float = Field(
        default=10.0, gt=0.0, le=600.0, description="How often pending datasets are looked at."
    )
