"""Request and response bodies of ``/api/v1/datasets`` (API layer, apart from wire contracts)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from tradelab_contracts.datasets import DatasetDeclaration
from tradelab_contracts.datasets_rpc import DatasetInfo

NO_NUL = "^[^\\u0000]*$"
"""Text parts hold no NUL character (PostgreSQL text cannot store one)."""


def upload_form_schema() -> dict[str, Any]:
    """The multipart form of ``POST /api/v1/datasets``: the ``file`` part and what the uploader
    declares about it (``DatasetDeclaration``), each a text part; ``column_mapping`` is JSON."""
    declared = DatasetDeclaration.model_json_schema()["properties"]
    mapping = declared["column_mapping"]
    declared["column_mapping"] = {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": {key: mapping[key] for key in ("type", "additionalProperties")},
        "description": "JSON object: " + mapping["description"],
    }
    for name in ("name", "symbol", "exchange", "timeframe"):
        declared[name] = {
            "type": "string",
            "maxLength": declared[name]["anyOf"][0]["maxLength"],
            "description": declared[name]["description"] + " Empty: not declared.",
        }
    for name in ("name", "symbol", "exchange", "timeframe", "timezone", "column_mapping"):
        declared[name]["pattern"] = NO_NUL
    file = {"type": "string", "format": "binary", "description": "CSV or Parquet file."}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": file, **declared},
                    }
                }
            },
        }
    }


class DatasetPublic(BaseModel):
    """A dataset as its owner sees it."""

    id: UUID
    status: str = Field(description="pending, ready or rejected")
    name: str | None
    filename: str
    symbol: str | None
    exchange: str | None
    timeframe: str | None = Field(description="Detected bar size (1m ... 1mo, irregular)")
    rows: int | None
    start: datetime | None
    end: datetime | None
    columns: list[str] | None
    size_bytes: int
    raw_sha256: str
    content_sha256: str | None = Field(description="SHA-256 of the normalised data")
    quality_score: float | None
    reject_reason: str | None = Field(description="Machine-readable reason when rejected")
    reject_message: str | None
    created_at: datetime

    @classmethod
    def of(cls, info: DatasetInfo) -> "DatasetPublic":
        """Build from the datasets service's record."""
        return cls.model_validate(info.model_dump(exclude={"owner_id", "storage_uri", "quality"}))


class DatasetPage(BaseModel):
    """A page of datasets, newest first."""

    items: list[DatasetPublic]
    total: int
    limit: int
    offset: int


class QualityPublic(BaseModel):
    """The quality report of a ready dataset."""

    dataset_id: UUID
    score: float | None
    report: dict[str, Any]


class PreviewPublic(BaseModel):
    """Rows from both ends and per-column statistics."""

    dataset_id: UUID
    head: list[dict[str, Any]]
    tail: list[dict[str, Any]]
    summary: dict[str, dict[str, float | None]]
