"""Monte Carlo studies over request/reply: submit (validate, queue, publish the job), get, list,
cancel. The worker is ``worker.py``; the queue discipline in
``adapters/montecarlo_repository.py``."""

from dataclasses import dataclass
from functools import partial
from typing import Any

from pydantic import ValidationError

from tradelab_contracts.base import correlation_of
from tradelab_contracts.engine_rpc import (
    CancelMonteCarloRequest,
    EngineErrorCode,
    EngineReply,
    GetMonteCarlo,
    ListMonteCarlo,
    MonteCarloInfo,
    RunStatus,
    SubmitMonteCarlo,
)
from tradelab_contracts.montecarlo import (
    BOOTSTRAP_METHODS,
    CancelMonteCarlo,
    MonteCarloCancelled,
    MonteCarloMethod,
    MonteCarloSpec,
    RunMonteCarlo,
)
from tradelab_contracts.quotas import Quota
from tradelab_contracts.topics import (
    MONTECARLO_CANCEL_REQUESTED,
    MONTECARLO_CANCELLED,
    MONTECARLO_REQUESTED,
)
from tradelab_engine.idempotency import submit_once
from tradelab_engine.lifecycle.store import Announcement
from tradelab_engine.quotas.limits import simulation_bars
from tradelab_engine.quotas.repository import admission
from tradelab_engine.service import EngineDeps, error_reply, refusal, reply
from tradelab_engine.strategies.base import UnknownStrategyError
from tradelab_engine.strategy_resolution import StrategyRefusedError, resolve_strategy
from tradelab_runtime.pages import fit_page
from tradelab_runtime.responder import RequestHandlers

from .repository import MonteCarloRepository
from .work import study_bars

NOT_FOUND = "No such Monte Carlo study."


@dataclass
class MonteCarloDeps:
    """The engine's dependencies plus the Monte Carlo table."""

    engine: EngineDeps
    repo: MonteCarloRepository


def _spec_fields(spec: MonteCarloSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in MonteCarloSpec.model_fields}


async def _source_problem(cmd: SubmitMonteCarlo, deps: MonteCarloDeps) -> EngineReply | None:
    """Why the run to resample cannot be used, or None if it can."""
    run_id = cmd.source_run_id
    run = None if run_id is None else await deps.engine.repo.get(cmd.owner_id, run_id)
    if run is None:
        message = "No such backtest."
        return error_reply(
            cmd, EngineErrorCode.NOT_FOUND, message, [{"field": "run_id", "message": message}]
        )
    if run.status != RunStatus.COMPLETED or run.equity_uri is None or run.trades_uri is None:
        message = f"The backtest is {run.status.value}; only completed backtests can be resampled."
        return error_reply(
            cmd, EngineErrorCode.CONFLICT, message, [{"field": "run_id", "message": message}]
        )
    if cmd.method == MonteCarloMethod.BOOTSTRAP_TRADES and (
        run.summary is None or run.summary.trades == 0
    ):
        message = "The backtest has no closed trades to resample."
        return error_reply(
            cmd, EngineErrorCode.INVALID, message, [{"field": "run_id", "message": message}]
        )
    return None


async def submit_monte_carlo(cmd: SubmitMonteCarlo, deps: MonteCarloDeps) -> EngineReply:
    """Answer with the study the request's Idempotency-Key already names, if any; otherwise check
    the source (a completed run of the owner, or a strategy and its parameters), queue the study
    and publish its job."""
    return await submit_once(
        cmd,
        deps.repo.by_idempotency_key,
        lambda: _submit(cmd, deps),
        lambda info: reply(cmd, monte_carlo=info),
    )


async def _submit(cmd: SubmitMonteCarlo, deps: MonteCarloDeps) -> EngineReply:
    fields = _spec_fields(cmd)
    if cmd.method in BOOTSTRAP_METHODS:
        problem = await _source_problem(cmd, deps)
        if problem is not None:
            return problem
    else:
        try:
            resolved = await resolve_strategy(
                deps.engine.strategies, cmd.owner_id, cmd.strategy or "", cmd.parameters
            )
        except (UnknownStrategyError, ValidationError, StrategyRefusedError) as exc:
            return refusal(cmd, exc)
        fields["strategy"] = resolved.name
        fields["parameters"] = resolved.params.model_dump(mode="json")
    job = RunMonteCarlo(**fields, correlation_id=correlation_of(cmd))
    bars = await _bars(cmd, deps)
    admit = admission(
        cmd.owner_id,
        deps.engine.quota_limits,
        (Quota.MONTE_CARLO, 1),
        (Quota.MONTE_CARLO_SIMULATION_BARS, simulation_bars(cmd.n_simulations, bars)),
    )
    info = await deps.repo.add(
        job,
        deps.engine.clock.now(),
        lambda _: (job, MONTECARLO_REQUESTED, job.simulation_id.bytes),
        cmd,
        admit,
        bars,
    )
    return reply(cmd, monte_carlo=info)


async def _bars(cmd: SubmitMonteCarlo, deps: MonteCarloDeps) -> int:
    """The bars each of the study's simulations steps through (see ``work.py``)."""
    run_id = cmd.source_run_id if cmd.method in BOOTSTRAP_METHODS else None
    run = None if run_id is None else await deps.engine.repo.get(cmd.owner_id, run_id)
    return await study_bars(cmd, run, deps.engine.store)


async def get_monte_carlo(cmd: GetMonteCarlo, deps: MonteCarloDeps) -> EngineReply:
    """One of the owner's studies."""
    info = await deps.repo.get(cmd.owner_id, cmd.simulation_id)
    if info is None:
        return error_reply(cmd, EngineErrorCode.NOT_FOUND, NOT_FOUND)
    return reply(cmd, monte_carlo=info)


async def list_monte_carlo(cmd: ListMonteCarlo, deps: MonteCarloDeps) -> EngineReply:
    """A page of the owner's studies, newest first."""
    page, total = await deps.repo.page(cmd)
    return reply(cmd, monte_carlos=fit_page(page, deps.engine.page_bytes), total=total)


async def cancel_monte_carlo(cmd: CancelMonteCarloRequest, deps: MonteCarloDeps) -> EngineReply:
    """Stop a queued study at once, or ask the replica running it to stop."""
    info = await deps.repo.get(cmd.owner_id, cmd.simulation_id)
    if info is None:
        return error_reply(cmd, EngineErrorCode.NOT_FOUND, NOT_FOUND)
    if info.status == RunStatus.QUEUED:

        def cancelled(done: MonteCarloInfo) -> Announcement:
            event = MonteCarloCancelled(
                simulation_id=done.id,
                owner_id=done.owner_id,
                sequence=done.sequence,
                correlation_id=correlation_of(cmd),
            )
            return event, MONTECARLO_CANCELLED, done.id.bytes

        done = await deps.repo.finish(
            cmd.simulation_id,
            None,
            {"status": RunStatus.CANCELLED.value},
            deps.engine.clock.now(),
            cancelled,
            statuses=(RunStatus.QUEUED.value,),
        )
        if done is not None:
            return reply(cmd, monte_carlo=done)
        info = await deps.repo.get(cmd.owner_id, cmd.simulation_id) or info
    if info.status == RunStatus.RUNNING:
        # Every engine replica hears this; the one running the study stops between batches.
        command = CancelMonteCarlo(
            simulation_id=info.id, owner_id=info.owner_id, correlation_id=correlation_of(cmd)
        )
        await deps.engine.publish(command, MONTECARLO_CANCEL_REQUESTED, info.id.bytes)
        return reply(cmd, monte_carlo=info)
    return error_reply(
        cmd, EngineErrorCode.CONFLICT, f"The Monte Carlo study is already {info.status.value}."
    )


def request_handlers(deps: MonteCarloDeps) -> RequestHandlers[EngineReply]:
    """Return the handler of each Monte Carlo request."""
    return {
        SubmitMonteCarlo: partial(submit_monte_carlo, deps=deps),
        GetMonteCarlo: partial(get_monte_carlo, deps=deps),
        ListMonteCarlo: partial(list_monte_carlo, deps=deps),
        CancelMonteCarloRequest: partial(cancel_monte_carlo, deps=deps),
    }
