"""``/api/v1/datasets``: upload (streamed to the object store), list, read, download, delete."""

import json
import uuid
from pathlib import Path
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import ValidationError

from tradelab_contracts.datasets import DatasetDeclaration
from tradelab_contracts.datasets_rpc import (
    CheckUpload,
    DatasetInfo,
    DatasetsCommand,
    DatasetsErrorCode,
    DatasetsReply,
    DatasetStatus,
    DeleteDataset,
    GetDataset,
    ListDatasets,
    PreviewDataset,
    RegisterUpload,
)
from tradelab_gateway.adapters.dataset_cache import ReadyDataset
from tradelab_gateway.adapters.datasets_rpc import DatasetsRpcClient
from tradelab_gateway.api.datasets_schemas import (
    DatasetPage,
    DatasetPublic,
    PreviewPublic,
    QualityPublic,
    upload_form_schema,
)
from tradelab_gateway.api.deps import CurrentUser, Settings, get_dataset_cache
from tradelab_gateway.api.paging import Offset
from tradelab_gateway.api.problems import ProblemError, invalid_fields
from tradelab_gateway.api.service_replies import QUOTA_STATUS, ask
from tradelab_gateway.api.stored import TABLE_DOWNLOAD, TableFormat, stored_table
from tradelab_gateway.api.uploads import declared_length, receive_form
from tradelab_runtime.storage import LocalObjectStore

STATUS_BY_CODE = {
    DatasetsErrorCode.NOT_FOUND: 404,
    DatasetsErrorCode.NOT_READY: 409,
    DatasetsErrorCode.INTERNAL: 500,
    DatasetsErrorCode.QUOTA_EXCEEDED: QUOTA_STATUS,
}
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
DECLARATION_FIELDS = ("name", "symbol", "exchange", "timeframe", "timezone")


def datasets_client(request: Request) -> DatasetsRpcClient:
    """The replica's datasets request/reply client."""
    client: DatasetsRpcClient = request.app.state.datasets_client
    return client


def store_of(request: Request) -> LocalObjectStore:
    store: LocalObjectStore = request.app.state.object_store
    return store


async def ask_datasets(
    request: Request, command: DatasetsCommand, retry_after_s: int
) -> DatasetsReply:
    """Ask the datasets service; its refusals become problems."""
    client = datasets_client(request)
    return await ask(
        lambda: client.call(command),
        service="datasets",
        status_by_code=STATUS_BY_CODE,
        retry_after_s=retry_after_s,
    )


def _ready(info: DatasetInfo | None) -> ReadyDataset | None:
    """What a submission needs of ``info``, when it is ready to compute on."""
    if (
        info is None
        or info.status != DatasetStatus.READY
        or not info.storage_uri
        or not info.content_sha256
    ):
        return None
    return ReadyDataset(info.id, info.storage_uri, info.content_sha256, info.timeframe)


async def ready_dataset(
    request: Request, user_id: UUID, dataset_id: UUID, retry_after_s: int, purpose: str
) -> ReadyDataset:
    """The user's dataset when it is ready to compute on; 404 if not theirs, 422 if not ready.

    ``purpose`` ends the refusal: "only ready datasets can be {purpose}"."""
    cache = get_dataset_cache(request)
    cached = await cache.get(user_id, dataset_id)
    if cached is not None:
        return cached
    command = GetDataset(
        reply_to=datasets_client(request).reply_topic, owner_id=user_id, dataset_id=dataset_id
    )
    info = (await ask_datasets(request, command, retry_after_s)).dataset
    ready = _ready(info)
    if ready is None:
        status = info.status.value if info else "unknown"
        raise ProblemError(
            422,
            f"The dataset is {status}; only ready datasets can be {purpose}.",
            code="dataset_not_ready",
            extra={"errors": [{"field": "dataset_id", "message": f"dataset is {status}"}]},
        )
    await cache.put(user_id, ready)
    return ready


def _dataset(reply: DatasetsReply) -> DatasetInfo:
    if reply.dataset is None:
        raise ProblemError(500, "The datasets service gave an incomplete answer.")
    return reply.dataset


def _declaration(fields: dict[str, str]) -> DatasetDeclaration:
    with_nul = [k for k in (*DECLARATION_FIELDS, "column_mapping") if "\x00" in fields.get(k, "")]
    if with_nul:  # PostgreSQL text cannot hold it: the datasets service answered 500
        raise invalid_fields(
            [{"field": k, "message": "must not contain NUL characters"} for k in with_nul]
        )
    values: dict[str, object] = {k: fields[k] for k in DECLARATION_FIELDS if fields.get(k)}
    try:
        if fields.get("column_mapping"):
            values["column_mapping"] = json.loads(fields["column_mapping"])
        return DatasetDeclaration.model_validate(values)
    except (ValueError, ValidationError) as exc:
        detail = "Invalid dataset fields: " + (
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            if isinstance(exc, ValidationError)
            else "column_mapping must be a JSON object"
        )
        raise ProblemError(422, detail, code="validation_error") from exc


def _too_large_detail(settings: Settings) -> str:
    return f"Uploads are limited to {settings.max_upload_bytes} bytes."


MULTIPART_ALLOWANCE = 16 * 1024
"""Bytes of a multipart body that are not the file (boundaries, part headers, form fields)."""


async def _check_quota(request: Request, user_id: UUID, settings: Settings) -> None:
    """Let the datasets service refuse an upload its quotas have no room for before its body is
    read; the file's size is taken from ``Content-Length`` less the multipart framing."""
    limit = settings.max_upload_bytes
    length = declared_length(request, limit, _too_large_detail(settings))
    size = min(max(length - MULTIPART_ALLOWANCE, 0), limit)
    command = CheckUpload(
        reply_to=datasets_client(request).reply_topic, owner_id=user_id, size_bytes=size
    )
    await ask_datasets(request, command, settings.retry_after_s)


UPLOAD_PATH = "/api/v1/datasets"
"""``POST`` uploads here; its multipart body is bounded by the upload limits
(``security.body_limit``)."""
router = APIRouter(prefix=UPLOAD_PATH, tags=["datasets"])


def datasets_router() -> APIRouter:
    """Return the dataset routes."""
    return router


@router.post(
    "",
    status_code=202,
    response_model=DatasetPublic,
    responses={200: {"model": DatasetPublic, "description": "Uploaded before: that dataset."}},
    openapi_extra=upload_form_schema(),
)
async def upload(request: Request, user: CurrentUser, settings: Settings) -> JSONResponse:
    """Upload a CSV or Parquet file; it is ingested in the background (status pending)."""
    await _check_quota(request, user.user_id, settings)
    fields, received = await receive_form(
        request,
        store_of(request).scratch_dir(),
        settings.max_upload_bytes,
        _too_large_detail(settings),
    )
    try:
        declared = _declaration(fields)
    except ProblemError:
        received.path.unlink(missing_ok=True)
        raise
    dataset_id = uuid.uuid4()
    uri = store_of(request).put_file(f"raw/{user.user_id}/{dataset_id}", received.path)
    command = RegisterUpload(
        reply_to=datasets_client(request).reply_topic,
        owner_id=user.user_id,
        dataset_id=dataset_id,
        storage_uri=uri,
        filename=received.filename,
        size_bytes=received.size_bytes,
        raw_sha256=received.sha256,
        declared=declared,
    )
    try:
        reply = await ask_datasets(request, command, settings.retry_after_s)
    except ProblemError:
        store_of(request).delete(uri)
        raise
    info = _dataset(reply)
    body = DatasetPublic.of(info).model_dump(mode="json")
    status = 202 if reply.created else 200
    location = f"/api/v1/datasets/{info.id}"
    return JSONResponse(body, status_code=status, headers={"Location": location})


@router.get("")
async def list_datasets(
    request: Request,
    user: CurrentUser,
    settings: Settings,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
    symbol: Annotated[str | None, Query(max_length=64)] = None,
    timeframe: Annotated[str | None, Query(max_length=16)] = None,
) -> DatasetPage:
    """List your datasets, newest first."""
    command = ListDatasets(
        reply_to=datasets_client(request).reply_topic,
        owner_id=user.user_id,
        limit=limit,
        offset=offset,
        symbol=symbol,
        timeframe=timeframe,
    )
    reply = await ask_datasets(request, command, settings.retry_after_s)
    items = [DatasetPublic.of(d) for d in reply.datasets or []]
    return DatasetPage(items=items, total=reply.total or 0, limit=limit, offset=offset)


async def _get(request: Request, user_id: UUID, dataset_id: UUID, retry: int) -> DatasetsReply:
    command = GetDataset(
        reply_to=datasets_client(request).reply_topic, owner_id=user_id, dataset_id=dataset_id
    )
    return await ask_datasets(request, command, retry)


@router.get("/{dataset_id}")
async def get_dataset(
    dataset_id: UUID, request: Request, user: CurrentUser, settings: Settings
) -> DatasetPublic:
    """Return one of your datasets."""
    info = _dataset(await _get(request, user.user_id, dataset_id, settings.retry_after_s))
    ready = _ready(info)
    if ready is not None:  # the usual next step is a submission on it: it finds it cached
        await get_dataset_cache(request).put(user.user_id, ready)
    return DatasetPublic.of(info)


@router.get("/{dataset_id}/quality")
async def quality(
    dataset_id: UUID, request: Request, user: CurrentUser, settings: Settings
) -> QualityPublic:
    """Return the quality report (score 0-100 and each component explained)."""
    reply = await _get(request, user.user_id, dataset_id, settings.retry_after_s)
    info = _dataset(reply)
    if info.quality is None:
        raise ProblemError(409, f"The dataset is {info.status.value}.", code="not_ready")
    return QualityPublic(dataset_id=info.id, score=info.quality_score, report=info.quality)


@router.get("/{dataset_id}/preview")
async def preview(
    dataset_id: UUID,
    request: Request,
    user: CurrentUser,
    settings: Settings,
    rows: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> PreviewPublic:
    """Return the first and last rows and summary statistics."""
    command = PreviewDataset(
        reply_to=datasets_client(request).reply_topic,
        owner_id=user.user_id,
        dataset_id=dataset_id,
        rows=rows,
    )
    reply = await ask_datasets(request, command, settings.retry_after_s)
    if reply.preview is None:
        raise ProblemError(500, "The datasets service gave an incomplete answer.")
    return PreviewPublic(dataset_id=dataset_id, **reply.preview.model_dump())


@router.get("/{dataset_id}/download", response_class=FileResponse, responses=TABLE_DOWNLOAD)
async def download(
    dataset_id: UUID,
    request: Request,
    user: CurrentUser,
    settings: Settings,
    format: Annotated[TableFormat, Query()] = "csv",
) -> StreamingResponse:
    """Download the normalised data (UTC, sorted, typed) as CSV or Parquet."""
    reply = await _get(request, user.user_id, dataset_id, settings.retry_after_s)
    info = _dataset(reply)
    if info.storage_uri is None:
        raise ProblemError(409, f"The dataset is {info.status.value}.", code="not_ready")
    path = store_of(request).path(info.storage_uri)
    stem = Path(info.name or info.filename).stem or str(info.id)
    return await stored_table(store_of(request), path, format, stem)


@router.delete("/{dataset_id}", status_code=204)
async def delete(
    dataset_id: UUID, request: Request, user: CurrentUser, settings: Settings
) -> Response:
    """Delete a dataset and its files."""
    command = DeleteDataset(
        reply_to=datasets_client(request).reply_topic, owner_id=user.user_id, dataset_id=dataset_id
    )
    await ask_datasets(request, command, settings.retry_after_s)
    await get_dataset_cache(request).forget(user.user_id, dataset_id)
    return Response(status_code=204)
