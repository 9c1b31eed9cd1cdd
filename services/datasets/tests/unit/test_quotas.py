"""A user's datasets and stored bytes are admitted against their quotas, datasets first."""

import pytest

from tradelab_contracts.quotas import Quota, QuotaUsage
from tradelab_datasets.domain.quotas import DatasetQuotas, Footprint
from tradelab_datasets.settings import DatasetsSettings
from tradelab_runtime.quotas import QuotaExceededError

QUOTAS = DatasetQuotas(datasets=3, stored_bytes=1_000)


def test_an_upload_that_fits_both_quotas_is_admitted() -> None:
    QUOTAS.admit(Footprint(datasets=2, stored_bytes=400), size_bytes=600)


def test_the_datasets_quota_refuses_the_fourth_dataset_even_when_it_is_empty() -> None:
    with pytest.raises(QuotaExceededError) as refused:
        QUOTAS.admit(Footprint(datasets=3, stored_bytes=0), size_bytes=0)
    assert refused.value.usage == QuotaUsage(quota=Quota.DATASETS, usage=3, limit=3, requested=1)


def test_the_stored_bytes_quota_refuses_an_upload_one_byte_too_large() -> None:
    with pytest.raises(QuotaExceededError) as refused:
        QUOTAS.admit(Footprint(datasets=1, stored_bytes=400), size_bytes=601)
    assert refused.value.usage == QuotaUsage(
        quota=Quota.STORED_BYTES, usage=400, limit=1_000, requested=601
    )


def test_usage_lists_both_quotas_with_their_limits() -> None:
    assert QUOTAS.usage(Footprint(datasets=2, stored_bytes=700)) == [
        QuotaUsage(quota=Quota.DATASETS, usage=2, limit=3),
        QuotaUsage(quota=Quota.STORED_BYTES, usage=700, limit=1_000),
    ]


def test_settings_default_to_100_datasets_and_5_gib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATASETS_QUOTA_DATASETS", raising=False)
    monkeypatch.delenv("DATASETS_QUOTA_STORED_BYTES", raising=False)
    assert DatasetsSettings().quotas() == DatasetQuotas(datasets=100, stored_bytes=5 * 1024**3)
    monkeypatch.setenv("DATASETS_QUOTA_DATASETS", "7")
    assert DatasetsSettings().quotas().datasets == 7
