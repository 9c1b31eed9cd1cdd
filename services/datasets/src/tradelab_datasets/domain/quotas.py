"""Per-user quotas of the datasets service: how many datasets and how many uploaded bytes one
user may keep (``DATASETS_QUOTA_*`` settings), checked against what they keep now (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from tradelab_contracts.quotas import Quota, QuotaUsage
from tradelab_runtime.quotas import check


@dataclass(frozen=True, slots=True)
class Footprint:
    """What one user keeps: datasets (any status) and bytes of pending and ready uploads."""

    datasets: int
    stored_bytes: int


@dataclass(frozen=True, slots=True)
class DatasetQuotas:
    """The limits of one user's datasets."""

    datasets: int = 100
    stored_bytes: int = 5 * 1024**3

    def admit(self, kept: Footprint, size_bytes: int) -> None:
        """Refuse a new upload of ``size_bytes`` that would take ``kept`` over a limit.

        Raises
        ------
        tradelab_runtime.quotas.QuotaExceededError
            Naming the datasets quota first, then the stored-bytes one.
        """
        check(Quota.DATASETS, kept.datasets, 1, self.datasets)
        check(Quota.STORED_BYTES, kept.stored_bytes, size_bytes, self.stored_bytes)

    def usage(self, kept: Footprint) -> list[QuotaUsage]:
        """Both quotas with ``kept``'s usage, as ``/me/usage`` lists them."""
        return [
            QuotaUsage(quota=Quota.DATASETS, usage=kept.datasets, limit=self.datasets),
            QuotaUsage(quota=Quota.STORED_BYTES, usage=kept.stored_bytes, limit=self.stored_bytes),
        ]
