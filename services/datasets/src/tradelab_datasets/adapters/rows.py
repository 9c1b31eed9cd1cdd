"""Rows of ``datasets.datasets`` as the contracts' models."""

import sqlalchemy as sa

from tradelab_contracts.datasets import DatasetDeclaration, DatasetRejectReason, DatasetUploaded
from tradelab_contracts.datasets_rpc import DatasetInfo, DatasetStatus


def info_of(row: sa.RowMapping) -> DatasetInfo:
    """The dataset a row holds."""
    return DatasetInfo(
        id=row["id"],
        owner_id=row["owner_id"],
        status=DatasetStatus(row["status"]),
        filename=row["filename"],
        name=row["name"],
        symbol=row["symbol"],
        exchange=row["exchange"],
        timeframe=row["timeframe"],
        rows=row["rows"],
        start=row["start_at"],
        end=row["end_at"],
        columns=row["columns"],
        size_bytes=row["size_bytes"],
        raw_sha256=row["raw_sha256"],
        content_sha256=row["content_sha256"],
        storage_uri=row["storage_uri"],
        quality_score=row["quality_score"],
        quality=row["quality"],
        reject_reason=DatasetRejectReason(row["reject_reason"]) if row["reject_reason"] else None,
        reject_message=row["reject_message"],
        created_at=row["created_at"],
    )


def uploaded_of(row: sa.RowMapping) -> DatasetUploaded:
    """Rebuild the upload announcement of a pending dataset from its row."""
    return DatasetUploaded(
        dataset_id=row["id"],
        owner_id=row["owner_id"],
        storage_uri=row["raw_uri"],
        filename=row["filename"],
        size_bytes=row["size_bytes"],
        raw_sha256=row["raw_sha256"],
        declared=DatasetDeclaration.model_validate(row["declared"]),
        correlation_id=row["correlation_id"],
    )
