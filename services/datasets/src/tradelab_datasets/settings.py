"""Settings of the datasets service (environment variables prefixed ``DATASETS_``)."""

from pydantic_settings import SettingsConfigDict

from tradelab_runtime.settings import ServiceSettings


class DatasetsSettings(ServiceSettings):
    """Configuration of one datasets process."""

    model_config = SettingsConfigDict(env_prefix="DATASETS_", extra="ignore", frozen=True)

    service_name: str = "datasets"
    port: int = 8002
