"""``POST /api/v1/backtests/quick``: CSV and parameters in, equity, pnl, drawdown and summary out.

The synchronous backtest for small files. The upload is streamed into the object store, the
datasets service normalises it into bars (``NormaliseQuickUpload``, nothing registered), the
engine runs the backtest over them (``RunQuickBacktest``, nothing recorded), and the result files
are read back into the answer. The gateway names every object of the request (upload, bars,
results) and deletes them all when it answers, whatever the outcome; services past their
deadline write nothing, and a late writer is swept once more after the budget.

Limits: ``GATEWAY_QUICK_MAX_UPLOAD_BYTES`` (413 beyond) and ``GATEWAY_QUICK_TIMEOUT_S``, the time
budget counted once the file is received (408 beyond; the engine stops the run at it).
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import APIRouter, Request

from tradelab_contracts.datasets_rpc import (
    DatasetsErrorCode,
    DatasetsReply,
    NormaliseQuickUpload,
    QuickBars,
)
from tradelab_contracts.engine_rpc import (
    EngineErrorCode,
    QuickBacktestReply,
    QuickBacktestResult,
    RunQuickBacktest,
)
from tradelab_gateway.adapters.datasets_rpc import DatasetsRpcClient
from tradelab_gateway.adapters.engine_rpc import EngineRpcClient
from tradelab_gateway.adapters.rpc import ServiceUnavailableError
from tradelab_gateway.adapters.upload import ReceivedFile
from tradelab_gateway.api.deps import CurrentUser, Settings, unavailable
from tradelab_gateway.api.problems import ProblemError
from tradelab_gateway.api.quick_schemas import (
    QuickBacktestForm,
    QuickBacktestPublic,
    QuickTradesPublic,
    with_pnl,
)
from tradelab_gateway.api.rate_limits import JOB_SUBMISSION_LIMIT
from tradelab_gateway.api.results_files import equity_points, trade_rows
from tradelab_gateway.api.service_replies import ServiceReply
from tradelab_gateway.api.uploads import declared_length, receive_form
from tradelab_runtime.storage import LocalObjectStore

REPLY_GRACE_S = 2.0
"""Wait this long past the budget for a service's own ``timeout`` answer (it stops at the
deadline, measured from its receipt of the request)."""
LATE_WRITER_S = 10.0
"""After an unanswered request, sweep its objects again this long past the budget."""
DATASETS_STATUS = {DatasetsErrorCode.REJECTED: 422, DatasetsErrorCode.TIMEOUT: 408}
ENGINE_STATUS = {EngineErrorCode.INVALID: 422, EngineErrorCode.TIMEOUT: 408}
ReplyT = TypeVar("ReplyT", bound=ServiceReply)

UPLOAD_PATH = "/api/v1/backtests/quick"
"""Its multipart body is bounded by the upload limits (``security.body_limit``)."""
router = APIRouter(tags=["backtests"])


def quick_router() -> APIRouter:
    """Return the quick backtest route."""
    return router


@dataclass
class Budget:
    """The request's time budget, counted from its creation."""

    total_s: float
    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def left(self) -> float:
        return self.total_s - self.elapsed()

    def exceeded(self, detail: str = "") -> ProblemError:
        message = f"The quick backtest did not finish within {self.total_s:g} s"
        return ProblemError(408, f"{message}{detail}.", code="timeout")


@dataclass
class QuickObjects:
    """Every object one quick backtest puts in the store, named up front and deleted together."""

    store: LocalObjectStore
    key: str = field(default_factory=lambda: f"quick/{uuid.uuid4()}")
    unanswered: bool = False
    """A service was asked and has not answered: it may still write."""

    def uri(self, suffix: str) -> str:
        return self.store.uri(f"{self.key}.{suffix}")

    def delete_all(self) -> None:
        for suffix in ("upload", "bars.parquet", "equity.parquet", "trades.parquet"):
            self.store.delete(self.uri(suffix))


def _store(request: Request) -> LocalObjectStore:
    store: LocalObjectStore = request.app.state.object_store
    return store


async def _receive(request: Request, limit: int) -> tuple[dict[str, str], ReceivedFile]:
    detail = f"Quick backtests take files up to {limit} bytes."
    declared_length(request, limit, detail)
    return await receive_form(request, _store(request).scratch_dir(), limit, detail)


async def _ask(
    call: Callable[[float], Awaitable[ReplyT]],
    *,
    service: str,
    statuses: Mapping[Any, int],
    budget: Budget,
    objects: QuickObjects,
    retry_after_s: int,
) -> ReplyT:
    """Ask with the budget left as deadline; a refusal is a problem, a silence past it 408."""
    left = budget.left()
    if left <= 0:
        raise budget.exceeded()
    objects.unanswered = True
    try:
        reply = await call(left)
    except ServiceUnavailableError as exc:
        if budget.left() <= 0:
            raise budget.exceeded(f" ({service} did not answer in time)") from exc
        raise unavailable(retry_after_s, service) from exc
    objects.unanswered = False
    if reply.ok:
        return reply
    error = reply.error
    status = statuses.get(error.code, 500) if error is not None else 500
    if status == 408:
        raise ProblemError(408, error.message, code="timeout")
    if status == 500:
        raise ProblemError(500, f"The {service} service failed to handle the quick backtest.")
    extra = {"errors": error.errors} if getattr(error, "errors", None) else {}
    if getattr(error, "reason", None) is not None:
        extra["reason"] = error.reason.value
    raise ProblemError(status, error.message, code=error.code.value, extra=extra)


async def _normalise(
    request: Request,
    form: QuickBacktestForm,
    owner: uuid.UUID,
    budget: Budget,
    objects: QuickObjects,
) -> QuickBars:
    client: DatasetsRpcClient = request.app.state.datasets_client

    def call(left: float) -> Awaitable[DatasetsReply]:
        command = NormaliseQuickUpload(
            reply_to=client.reply_topic,
            owner_id=owner,
            upload_uri=objects.uri("upload"),
            bars_uri=objects.uri("bars.parquet"),
            declared=form.declaration(),
            deadline_s=left,
        )
        return client.call(command, timeout_s=left + REPLY_GRACE_S)

    retry = request.app.state.settings.retry_after_s
    reply = await _ask(
        call,
        service="datasets",
        statuses=DATASETS_STATUS,
        budget=budget,
        objects=objects,
        retry_after_s=retry,
    )
    if reply.quick is None:
        raise ProblemError(500, "The datasets service gave an incomplete answer.")
    return reply.quick


async def _simulate(
    request: Request,
    form: QuickBacktestForm,
    bars: QuickBars,
    owner: uuid.UUID,
    budget: Budget,
    objects: QuickObjects,
) -> QuickBacktestResult:
    client: EngineRpcClient = request.app.state.engine_client

    def call(left: float) -> Awaitable[QuickBacktestReply]:
        command = RunQuickBacktest(
            reply_to=client.reply_topic,
            owner_id=owner,
            bars_uri=bars.bars_uri,
            equity_uri=objects.uri("equity.parquet"),
            trades_uri=objects.uri("trades.parquet"),
            timeframe=bars.timeframe,
            strategy=form.strategy,
            parameters=form.parameters,
            options=form.options,
            deadline_s=left,
        )
        return client.call(command, QuickBacktestReply, timeout_s=left + REPLY_GRACE_S)

    retry = request.app.state.settings.retry_after_s
    reply = await _ask(
        call,
        service="engine",
        statuses=ENGINE_STATUS,
        budget=budget,
        objects=objects,
        retry_after_s=retry,
    )
    if reply.quick is None:
        raise ProblemError(500, "The engine gave an incomplete answer.")
    return reply.quick


def _answer(
    form: QuickBacktestForm,
    bars: QuickBars,
    run: QuickBacktestResult,
    objects: QuickObjects,
    budget: Budget,
) -> QuickBacktestPublic:
    """Read the result files into the answer (blocking: run in a thread)."""
    initial_cash = run.options.initial_cash
    total_points, rows = equity_points(objects.store.path(run.equity_uri), form.points)
    total_trades, trades = trade_rows(objects.store.path(run.trades_uri), form.max_trades, 0)
    return QuickBacktestPublic(
        strategy=run.strategy,
        parameters=dict(run.parameters),
        options=run.options,
        timeframe=bars.timeframe,
        rows=bars.rows,
        start=bars.start,
        end=bars.end,
        quality_score=bars.quality_score,
        warnings=bars.warnings,
        summary=run.summary,
        pnl=run.summary.final_equity - initial_cash,
        total_points=total_points,
        equity=with_pnl(rows, initial_cash),
        trades=QuickTradesPublic(total=total_trades, items=trades),
        elapsed_s=round(budget.elapsed(), 3),
    )


QUICK_FORM_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "strategy"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        # EngineOptions is a component already: the answer carries it.
                        **QuickBacktestForm.model_json_schema(
                            ref_template="#/components/schemas/{model}"
                        )["properties"],
                    },
                }
            }
        },
    }
}


@router.post(
    UPLOAD_PATH,
    response_model=QuickBacktestPublic,
    openapi_extra=QUICK_FORM_SCHEMA,
    dependencies=[JOB_SUBMISSION_LIMIT],
)
async def quick_backtest(
    request: Request, user: CurrentUser, settings: Settings
) -> QuickBacktestPublic:
    """Backtest an uploaded CSV (or Parquet) at once: equity curve, pnl, drawdown and summary.

    Nothing is stored. Files up to ``GATEWAY_QUICK_MAX_UPLOAD_BYTES`` (413 beyond); a run past
    ``GATEWAY_QUICK_TIMEOUT_S`` is stopped (408). A refused file is 422 with the reason and
    message a dataset upload would be rejected with; invalid parameters 422 as for ``POST
    /api/v1/backtests``.
    """
    fields, received = await _receive(request, settings.quick_max_upload_bytes)
    budget = Budget(settings.quick_timeout_s)
    objects = QuickObjects(_store(request))
    try:
        form = QuickBacktestForm.parse(fields)
        objects.store.put_file(f"{objects.key}.upload", received.path)
        bars = await _normalise(request, form, user.user_id, budget, objects)
        run = await _simulate(request, form, bars, user.user_id, budget, objects)
        return await asyncio.to_thread(_answer, form, bars, run, objects, budget)
    finally:
        received.path.unlink(missing_ok=True)
        objects.delete_all()
        if objects.unanswered:
            later = max(budget.left(), 0) + LATE_WRITER_S
            asyncio.get_running_loop().call_later(later, objects.delete_all)
