"""API schemas of ``/api/v1/performance`` (administrators only).

The database and jobs reports are the engine's contracts as they arrive; the system report is
built here from the heartbeats, the cache report from the gateway's Redis.
"""

from datetime import datetime

from pydantic import BaseModel, Field

from tradelab_contracts.performance import DatabaseReport, JobsReport
from tradelab_contracts.system import ProcessStats


class InstancePerformance(BaseModel):
    """One service process and what it uses, from its latest heartbeat."""

    instance_id: str
    status: str = Field(description="up, degraded or down")
    last_seen: datetime = Field(description="When its latest heartbeat arrived.")
    version: str
    process: ProcessStats | None = Field(
        description="CPU, memory, threads, open files, uptime and database pool; None from an "
        "instance that does not report them."
    )


class ServicePerformance(BaseModel):
    """A service's instances."""

    service: str
    instances: list[InstancePerformance]


class GatewayProcess(BaseModel):
    """The gateway replica that answered, sampled as it answered."""

    instance_id: str
    process: ProcessStats


class SystemPerformancePublic(BaseModel):
    """``GET /api/v1/performance/system``."""

    collected_at: datetime
    gateway: GatewayProcess = Field(description="This gateway replica, sampled now.")
    services: list[ServicePerformance] = Field(
        description="Every service instance the heartbeats report (the gateways' included)."
    )


class RedisPublic(BaseModel):
    """The gateway's Redis, from ``INFO``."""

    version: str = Field(description="redis_version.")
    used_memory_bytes: int = Field(ge=0, description="used_memory.")
    max_memory_bytes: int = Field(ge=0, description="maxmemory (0: no limit).")
    keys: int = Field(ge=0, description="Keys over every database (keyspace).")
    hits: int = Field(ge=0, description="keyspace_hits since the server started.")
    misses: int = Field(ge=0, description="keyspace_misses since the server started.")
    hit_ratio: float | None = Field(
        ge=0, le=1, description="hits / (hits + misses); None before any look-up."
    )
    evicted_keys: int = Field(ge=0, description="Keys evicted for maxmemory.")
    expired_keys: int = Field(ge=0, description="Keys that expired.")
    connected_clients: int = Field(ge=0, description="Client connections now.")


class CachePerformancePublic(BaseModel):
    """``GET /api/v1/performance/cache``."""

    collected_at: datetime
    redis: RedisPublic


class DatabasePerformancePublic(DatabaseReport):
    """``GET /api/v1/performance/database``: the shared PostgreSQL database."""


class JobsPerformancePublic(JobsReport):
    """``GET /api/v1/performance/jobs``: job queues, throughput, durations and lag."""
