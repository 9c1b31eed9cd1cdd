"""Build the engine's app from its settings; nothing is created at import time."""

import asyncio
from functools import partial
from importlib.metadata import version

from fastapi import FastAPI

from tradelab_contracts.base import Message
from tradelab_contracts.engine import RunBacktest
from tradelab_contracts.search_limits import SearchLimits
from tradelab_runtime.broker import GRACEFUL_TIMEOUT_S
from tradelab_runtime.consumers import RetryPolicy
from tradelab_runtime.dead_letters import DeadLetters
from tradelab_runtime.failpoints import Failpoints
from tradelab_runtime.lag import consumer_lag
from tradelab_runtime.logging import get_logger
from tradelab_runtime.pages import page_budget
from tradelab_runtime.service_app import build_service_app, create_runtime
from tradelab_runtime.storage import LocalObjectStore

from .adapters.strategy_repository import StrategyRepository
from .adapters.tables import SCHEMA
from .backtests.kind import BacktestJobs
from .backtests.repository import RunRepository
from .backtests.worker import take_turn
from .cascades.handlers import register_cascade_handlers
from .cascades.repository import CascadeRepository
from .cascades.service import CascadeDeps
from .domain.simulate import compile_kernels
from .domain.sweep import compile_sweep_kernels
from .handlers import register_handlers
from .lifecycle.queue_depth import queue_depth_refresh
from .lifecycle.store import JobStore, LeaseTerms
from .lifecycle.sweeper import Sweeper
from .lifecycle.turns import LocalTurns
from .montecarlo.kind import MonteCarloJobs
from .montecarlo.repository import MonteCarloRepository
from .montecarlo.use_cases import MonteCarloDeps
from .optimizations.deps import OptimizationDeps
from .optimizations.kind import OptimizationJobs
from .optimizations.repository import OptimizationRepository
from .performance.use_cases import PerformanceDeps
from .service import RESULT_CACHE, EngineDeps
from .settings import EngineSettings

MIGRATIONS = "tradelab_engine:migrations"
log = get_logger(__name__)


def build_app(settings: EngineSettings) -> FastAPI:
    """Assemble the engine: job consumers over PostgreSQL and the object store."""
    runtime = create_runtime(settings)
    broker = runtime.broker
    outbox = runtime.use_outbox(SCHEMA)
    terms = LeaseTerms(
        lease_s=settings.lease_s,
        max_attempts=settings.max_attempts,
        redispatch_after_s=settings.redispatch_after_s,
    )
    metrics = runtime.metrics
    backtest_jobs = JobStore(BacktestJobs(), outbox, terms, metrics)
    study_jobs = JobStore(MonteCarloJobs(), outbox, terms, metrics)
    optimization_jobs = JobStore(OptimizationJobs(), outbox, terms, metrics)
    stores = [backtest_jobs, study_jobs, optimization_jobs]
    queue_depth_refresh(metrics, runtime.database(), stores)

    async def publish(message: Message, topic: str, key: bytes) -> None:
        await broker.publish(message, topic, key=key)

    deps = EngineDeps(
        repo=RunRepository(runtime.database(), backtest_jobs),
        store=LocalObjectStore.from_url(settings.object_store_url),
        publish=publish,
        clock=runtime.clock,
        worker=settings.instance_id,
        engine_version=version("tradelab-engine"),
        chunk_bars=settings.chunk_bars,
        chunk_pause_s=settings.chunk_pause_s,
        quick_slots=asyncio.Semaphore(settings.quick_max_concurrent),
        strategies=StrategyRepository(runtime.database()),
        failpoints=Failpoints.parse(settings.failpoints),
        page_bytes=page_budget(settings.kafka_max_message_bytes),
        quota_limits=settings.quota_limits(),
        database=runtime.database(),
        tracer=runtime.tracer_provider.get_tracer("tradelab_engine"),
        result_cache=metrics.cache(RESULT_CACHE),
    )
    optimization_deps = OptimizationDeps(
        engine=deps,
        repo=OptimizationRepository(runtime.database(), optimization_jobs),
        chunk_size=settings.optimization_chunk_size,
        chunk_work=settings.optimization_chunk_work,
        limits=SearchLimits(
            max_combinations=settings.optimization_max_combinations,
            max_parameter_values=settings.optimization_max_parameter_values,
        ),
        heatmap_max_cells=settings.heatmap_max_cells,
    )
    montecarlo_deps = MonteCarloDeps(
        engine=deps, repo=MonteCarloRepository(runtime.database(), study_jobs)
    )
    letters = DeadLetters(settings.service_name, outbox)
    policy = RetryPolicy(
        max_attempts=settings.retry_max_attempts, first_delay_s=settings.retry_first_delay_s
    )
    performance_deps = PerformanceDeps(
        database=runtime.database(),
        clock=runtime.clock,
        instance_id=settings.instance_id,
        lag=partial(consumer_lag, broker),
    )
    backtest_turns: LocalTurns[RunBacktest] = LocalTurns(
        partial(take_turn, deps=deps), on_taken=partial(metrics.turn_taken, "backtest")
    )
    deps.hold_turn = backtest_turns.hold
    register_handlers(
        broker,
        deps,
        settings.instance_id,
        optimization_deps,
        montecarlo_deps,
        letters,
        policy,
        performance_deps,
        backtest_turns,
        max_message_bytes=settings.kafka_max_message_bytes,
    )
    cascades = CascadeDeps(mc=montecarlo_deps, rows=CascadeRepository(runtime.database(), outbox))
    register_cascade_handlers(broker, cascades, letters, policy)
    sweeper = Sweeper(stores, runtime.clock, settings.sweep_interval_s)

    async def compile_before_ready() -> None:
        # Compile (or load from cache) every kernel before /readyz says yes, so the first
        # request is fast.
        seconds = await asyncio.to_thread(compile_kernels)
        sweep_seconds = await asyncio.to_thread(compile_sweep_kernels)
        log.info(
            "kernels compiled", seconds=round(seconds, 2), sweep_seconds=round(sweep_seconds, 2)
        )

    runtime.on_startup.append(compile_before_ready)
    runtime.on_startup.append(sweeper.start)
    runtime.on_shutdown.append(sweeper.stop)
    runtime.on_shutdown.append(partial(backtest_turns.stop, GRACEFUL_TIMEOUT_S))
    return build_service_app(runtime, migrations=(MIGRATIONS, SCHEMA))
