"""``/api/v1/performance/{system,database,cache,jobs}``: how the platform is doing (admins only).

``system`` comes from the heartbeats every service instance publishes (CPU, memory, pool) plus
this gateway replica sampled now; ``database`` and ``jobs`` are the engine's answers (it reads
the shared database's statistics views and the job tables); ``cache`` is the gateway's Redis.
"""

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Request

from tradelab_contracts.engine_rpc import (
    DatabasePerformanceReply,
    GetDatabasePerformance,
    GetJobsPerformance,
    JobsPerformanceReply,
)
from tradelab_contracts.performance import MAX_REPORT_ROWS
from tradelab_gateway.adapters.redis_info import RedisUnavailableError, read_redis_stats
from tradelab_gateway.api.backtests import ask_engine, engine_client
from tradelab_gateway.api.deps import AdminUser, Settings, unavailable
from tradelab_gateway.api.problems import ProblemError
from tradelab_gateway.domain.service_registry import ServiceRegistry
from tradelab_runtime.clock import Clock
from tradelab_runtime.process_stats import ProcessSampler

from .performance_schemas import (
    CachePerformancePublic,
    DatabasePerformancePublic,
    GatewayProcess,
    InstancePerformance,
    JobsPerformancePublic,
    RedisPublic,
    ServicePerformance,
    SystemPerformancePublic,
)

Top = Annotated[int, Query(ge=1, le=MAX_REPORT_ROWS, description="Rows of each list, at most.")]


def _incomplete() -> ProblemError:
    return ProblemError(500, "The engine gave an incomplete answer.")


def performance_router(registry: ServiceRegistry, clock: Clock) -> APIRouter:
    """Build the router over the heartbeat registry; this replica is sampled with psutil."""
    router = APIRouter(prefix="/api/v1/performance", tags=["performance"])
    sampler = ProcessSampler()

    @router.get("/system")
    async def system(user: AdminUser, settings: Settings) -> SystemPerformancePublic:
        """CPU, memory, threads, open files, uptime and database pool of every service
        instance (from its latest heartbeat), and of this gateway replica (sampled now)."""
        now = clock.now()
        services = [
            ServicePerformance(
                service=s.service,
                instances=[
                    InstancePerformance(
                        instance_id=i.instance_id,
                        status=i.health.value,
                        last_seen=i.last_seen,
                        version=i.version,
                        process=i.process,
                    )
                    for i in s.instances
                ],
            )
            for s in registry.snapshot(now)
        ]
        gateway = GatewayProcess(instance_id=settings.instance_id, process=sampler.sample())
        return SystemPerformancePublic(collected_at=now, gateway=gateway, services=services)

    @router.get("/database")
    async def database(
        request: Request, user: AdminUser, settings: Settings, top: Top = 20
    ) -> DatabasePerformancePublic:
        """Connections by application and state, the largest tables and indexes with their
        scans, and the slowest statements (``pg_stat_statements``, when installed)."""
        ask = GetDatabasePerformance(reply_to=engine_client(request).reply_topic, top=top)
        answer = await ask_engine(request, ask, DatabasePerformanceReply, settings.retry_after_s)
        if answer.report is None:
            raise _incomplete()
        return DatabasePerformancePublic.model_validate(answer.report.model_dump())

    @router.get("/cache")
    async def cache(user: AdminUser, settings: Settings) -> CachePerformancePublic:
        """The gateway's Redis: memory, keys, hits and misses (hit ratio), evictions."""
        try:
            stats = await read_redis_stats(settings.redis_url, settings.rate_limit_timeout_s)
        except RedisUnavailableError as exc:
            raise unavailable(settings.retry_after_s, "redis") from exc
        redis = RedisPublic.model_validate(asdict(stats))
        return CachePerformancePublic(collected_at=clock.now(), redis=redis)

    @router.get("/jobs")
    async def jobs(
        request: Request, user: AdminUser, settings: Settings, top: Top = 20
    ) -> JobsPerformancePublic:
        """Jobs by kind and status (queue depth), running jobs, jobs ended in the last 5
        minutes and hour, duration percentiles, and the answering engine's consumer lag."""
        ask = GetJobsPerformance(reply_to=engine_client(request).reply_topic, top=top)
        answer = await ask_engine(request, ask, JobsPerformanceReply, settings.retry_after_s)
        if answer.report is None:
            raise _incomplete()
        return JobsPerformancePublic.model_validate(answer.report.model_dump())

    return router
