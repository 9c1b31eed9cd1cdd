"""Settings of the datasets service (environment variables prefixed ``DATASETS_``)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tradelab_datasets.domain.bounds import Limits
from tradelab_datasets.domain.quotas import DatasetQuotas
from tradelab_datasets.domain.sniff import SAMPLE_BYTES
from tradelab_runtime.settings import ServiceSettings

QUOTA_DEFAULTS = DatasetQuotas()


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
    max_ingest_starts: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Ingestions of one upload that may start and die with their process (killed "
        "for memory, say) before the upload is rejected unread instead of read again.",
    )
    sweep_interval_s: float = Field(
        default=10.0, gt=0.0, le=600.0, description="How often pending datasets are looked at."
    )
    max_rows: int = Field(
        default=10_000_000,
        ge=1,
        le=1_000_000_000,
        description="Rows an upload may hold (a CSV header aside); more are refused with "
        "'too_many_rows' before the file is decoded. 10 million is 100 years of 1-minute bars "
        "(about 1 GiB at peak while ingesting).",
    )
    max_columns: int = Field(
        default=64,
        ge=2,
        le=10_000,
        description="Columns an upload may have; more are refused with 'too_large'.",
    )
    max_line_bytes: int = Field(
        default=16 * 1024,
        ge=256,
        le=SAMPLE_BYTES // 2,  # sniffing must see the header and a few rows whole
        description="Bytes a CSV line may hold; a longer one is refused with 'too_large'.",
    )
    max_decoded_bytes: int = Field(
        default=2 * 1024**3,
        ge=1024**2,
        description="Uncompressed bytes of a Parquet file's data, read from its footer; more "
        "are refused with 'too_large' before anything is decompressed.",
    )

    quota_datasets: int = Field(
        default=QUOTA_DEFAULTS.datasets,
        ge=1,
        le=1_000_000,
        description="Datasets one user may keep, whatever their status; one more upload is "
        "refused (429, quota 'datasets').",
    )
    quota_stored_bytes: int = Field(
        default=QUOTA_DEFAULTS.stored_bytes,
        ge=1,
        description="Bytes of the uploads of one user's pending and ready datasets together; "
        "an upload that would pass it is refused (429, quota 'stored_bytes').",
    )

    def quotas(self) -> DatasetQuotas:
        """The per-user quotas, for the use cases."""
        return DatasetQuotas(datasets=self.quota_datasets, stored_bytes=self.quota_stored_bytes)

    def limits(self) -> Limits:
        """The size bounds of an upload, for the domain."""
        return Limits(
            max_rows=self.max_rows,
            max_columns=self.max_columns,
            max_line_bytes=self.max_line_bytes,
            max_decoded_bytes=self.max_decoded_bytes,
        )
