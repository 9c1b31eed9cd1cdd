"""Backtest use cases over request/reply: submit (with the result cache), list, get, cancel,
delete. The worker that runs a run is ``worker.py``."""

import asyncio
from functools import partial
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from tradelab_contracts.base import correlation_of
from tradelab_contracts.engine import (
    BacktestCancelled,
    BacktestCompleted,
    BacktestDeleted,
    BacktestSummary,
    CancelBacktest,
    EngineOptions,
    RunBacktest,
)
from tradelab_contracts.engine_rpc import (
    CancelBacktestRequest,
    DeleteBacktest,
    EngineErrorCode,
    EngineReply,
    GetBacktest,
    ListBacktests,
    RunInfo,
    RunStatus,
    SubmitBacktest,
)
from tradelab_contracts.quotas import Quota
from tradelab_contracts.topics import (
    BACKTEST_CANCEL_REQUESTED,
    BACKTEST_CANCELLED,
    BACKTEST_COMPLETED,
    BACKTEST_DELETED,
    BACKTEST_REQUESTED,
)
from tradelab_engine.backtests.repository import NewRun
from tradelab_engine.backtests.worker import claimed_turn
from tradelab_engine.domain.cache_key import cache_key
from tradelab_engine.idempotency import submit_once
from tradelab_engine.lifecycle.idempotency import key_columns
from tradelab_engine.lifecycle.store import Announcement
from tradelab_engine.quotas.repository import admission
from tradelab_engine.service import EngineDeps, error_reply, refusal, reply
from tradelab_engine.strategies.base import UnknownStrategyError
from tradelab_engine.strategy_resolution import StrategyRefusedError, resolve_strategy
from tradelab_runtime.pages import fit_page
from tradelab_runtime.responder import RequestHandlers


async def submit_backtest(cmd: SubmitBacktest, deps: EngineDeps) -> EngineReply:
    """Answer with the run the request's Idempotency-Key already names, if any; otherwise validate
    the request, answer it from the cache or queue it for a worker."""
    return await submit_once(
        cmd,
        deps.repo.by_idempotency_key,
        lambda: _submit(cmd, deps),
        lambda info: reply(cmd, run=info),
    )


async def _submit(cmd: SubmitBacktest, deps: EngineDeps) -> EngineReply:
    try:
        resolved = await resolve_strategy(
            deps.strategies, cmd.owner_id, cmd.strategy, cmd.parameters
        )
    except (UnknownStrategyError, ValidationError, StrategyRefusedError) as exc:
        return refusal(cmd, exc)
    parameters = resolved.params.model_dump(mode="json")
    options = cmd.options.model_dump(mode="json")
    key = cache_key(cmd.dataset_sha256, resolved.name, parameters, options, deps.engine_version)
    now = deps.clock.now()
    values: dict[str, Any] = {
        "id": cmd.run_id,
        "owner_id": cmd.owner_id,
        "dataset_id": cmd.dataset_id,
        "dataset_uri": cmd.dataset_uri,
        "dataset_sha256": cmd.dataset_sha256,
        "timeframe": cmd.timeframe,
        "strategy": resolved.name,
        "parameters": parameters,
        "options": options,
        "cache_key": key,
        "status": RunStatus.QUEUED.value,
        "progress": 0.0,
        "attempt": 0,
        "cached": False,
        "engine_version": deps.engine_version,
        "created_at": now,
        "updated_at": now,
        **key_columns(cmd),
    }

    job = RunBacktest(
        run_id=cmd.run_id,
        owner_id=cmd.owner_id,
        dataset_id=cmd.dataset_id,
        dataset_uri=cmd.dataset_uri,
        dataset_sha256=cmd.dataset_sha256,
        strategy=resolved.name,
        parameters=parameters,
        options=cmd.options,
        timeframe=cmd.timeframe,
        correlation_id=correlation_of(cmd),
    )

    def dispatch(_: sa.RowMapping) -> Announcement:
        return job, BACKTEST_REQUESTED, cmd.run_id.bytes

    def new_run(original: sa.RowMapping | None) -> NewRun:
        if original is None:
            deps.result_cache.miss()
            admit = admission(cmd.owner_id, deps.quota_limits, (Quota.BACKTESTS, 1))
            return NewRun(values, dispatch, admit)
        deps.result_cache.hit()
        cached = values | {
            "status": RunStatus.COMPLETED.value,
            "progress": 1.0,
            "cached": True,
            "summary": original["summary"],
            "equity_uri": original["equity_uri"],
            "trades_uri": original["trades_uri"],
            "started_at": now,
            "finished_at": now,
            "event_seq": 1,
        }
        return NewRun(cached, lambda _: _cached_completion(cmd, cached, deps))

    # The cache lookup, the insert and, when this replica's slot is free, the claim of the next
    # run in the fair order share one transaction; the claimed run then starts here at once
    # instead of waiting for its message to come back (``lifecycle.turns``).
    direct = deps.hold_turn()
    try:
        submitted = await deps.repo.add_or_reuse(
            key, new_run, claim_as=None if direct is None else deps.worker
        )
    except BaseException:
        if direct is not None:
            direct.give_back()
        raise
    if direct is not None:
        if submitted.claim is None:  # a cache answer: nothing queued, nothing claimed
            direct.give_back()
        else:
            direct.start(partial(claimed_turn, job, submitted.claim, deps))
    return reply(cmd, run=submitted.info)


def _cached_completion(
    cmd: SubmitBacktest, values: dict[str, Any], deps: EngineDeps
) -> Announcement | None:
    if values["summary"] is None:
        return None
    event = BacktestCompleted(
        run_id=cmd.run_id,
        owner_id=cmd.owner_id,
        dataset_id=cmd.dataset_id,
        strategy=values["strategy"],
        parameters=values["parameters"],
        options=EngineOptions.model_validate(values["options"]),
        summary=BacktestSummary.model_validate(values["summary"]),
        equity_uri=values["equity_uri"],
        trades_uri=values["trades_uri"],
        engine_version=deps.engine_version,
        timeframe=cmd.timeframe,
        duration_s=0.0,
        cached=True,
        sequence=1,
        correlation_id=correlation_of(cmd),
    )
    return event, BACKTEST_COMPLETED, cmd.run_id.bytes


async def list_backtests(cmd: ListBacktests, deps: EngineDeps) -> EngineReply:
    """Return a page of the owner's runs."""
    page, total = await deps.repo.page(cmd)
    return reply(cmd, runs=fit_page(page, deps.page_bytes), total=total)


async def get_backtest(cmd: GetBacktest, deps: EngineDeps) -> EngineReply:
    """Return one of the owner's runs."""
    info = await deps.repo.get(cmd.owner_id, cmd.run_id)
    if info is None:
        return error_reply(cmd, EngineErrorCode.NOT_FOUND, "No such backtest.")
    return reply(cmd, run=info)


async def cancel_backtest(cmd: CancelBacktestRequest, deps: EngineDeps) -> EngineReply:
    """Stop a queued run at once, or ask the worker running it to stop."""
    info = await deps.repo.get(cmd.owner_id, cmd.run_id)
    if info is None:
        return error_reply(cmd, EngineErrorCode.NOT_FOUND, "No such backtest.")
    if info.status == RunStatus.QUEUED:

        def cancelled(done: RunInfo) -> Announcement:
            event = BacktestCancelled(
                run_id=cmd.run_id, owner_id=cmd.owner_id, sequence=done.sequence
            )
            return event, BACKTEST_CANCELLED, cmd.run_id.bytes

        values = {"status": RunStatus.CANCELLED.value}
        now = deps.clock.now()
        done = await deps.repo.finish(
            cmd.run_id, None, values, now, cancelled, statuses=(RunStatus.QUEUED.value,)
        )
        if done is not None:
            return reply(cmd, run=done)
        info = await deps.repo.get(cmd.owner_id, cmd.run_id) or info
    if info.status == RunStatus.RUNNING:
        # Every engine replica hears this; the one running the job stops between chunks.
        command = CancelBacktest(run_id=cmd.run_id, owner_id=cmd.owner_id)
        await deps.publish(command, BACKTEST_CANCEL_REQUESTED, cmd.run_id.bytes)
        return reply(cmd, run=info)
    return error_reply(
        cmd, EngineErrorCode.CONFLICT, f"The backtest is already {info.status.value}."
    )


async def delete_backtest(cmd: DeleteBacktest, deps: EngineDeps) -> EngineReply:
    """Delete a finished run and, when no cached copy uses them, its result files."""

    def deleted_event(info: RunInfo) -> Announcement:
        # Stored with the delete, so analytics always hears of it and drops what it keeps.
        event = BacktestDeleted(
            run_id=info.id,
            owner_id=info.owner_id,
            dataset_id=info.dataset_id,
            correlation_id=correlation_of(cmd),
        )
        return event, BACKTEST_DELETED, info.id.bytes

    deleted = await deps.repo.delete(cmd.owner_id, cmd.run_id, deleted_event)
    if deleted is None:
        info = await deps.repo.get(cmd.owner_id, cmd.run_id)
        if info is None:
            return error_reply(cmd, EngineErrorCode.NOT_FOUND, "No such backtest.")
        return error_reply(cmd, EngineErrorCode.CONFLICT, "Cancel the backtest before deleting it.")
    info, unused = deleted
    if unused:
        for uri in (info.equity_uri, info.trades_uri):
            if uri:
                await asyncio.to_thread(deps.store.delete, uri)
    return reply(cmd, run=info)


def request_handlers(deps: EngineDeps) -> RequestHandlers[EngineReply]:
    """Return the handler of each backtest request."""
    return {
        SubmitBacktest: partial(submit_backtest, deps=deps),
        ListBacktests: partial(list_backtests, deps=deps),
        GetBacktest: partial(get_backtest, deps=deps),
        CancelBacktestRequest: partial(cancel_backtest, deps=deps),
        DeleteBacktest: partial(delete_backtest, deps=deps),
    }
