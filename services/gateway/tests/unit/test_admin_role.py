"""Administrators: the role claim of a verified token, the admin dependency's refusals, the
figures read out of Redis' INFO, and the process figures the registry keeps per instance."""

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from services.gateway.tests.unit.test_token_verification import JWK, claims, sign
from tradelab_contracts.auth import UserRole
from tradelab_contracts.system import ProcessStats, ServiceHeartbeat, ServiceStatus
from tradelab_gateway.adapters.redis_info import hit_ratio, redis_stats
from tradelab_gateway.api.deps import current_admin
from tradelab_gateway.api.problems import ProblemError
from tradelab_gateway.domain.service_registry import ServiceRegistry
from tradelab_gateway.security.tokens import InvalidTokenError, Principal, verify

ISSUER, AUDIENCE = "tradelab-auth", "tradelab-api"


def principal(**overrides: object) -> Principal:
    return verify(sign(claims(**overrides)), JWK, issuer=ISSUER, audience=AUDIENCE)


def test_the_role_claim_is_read_and_a_token_without_one_is_a_users() -> None:
    assert principal(role="admin").role is UserRole.ADMIN
    assert principal(role="user").role is UserRole.USER
    assert principal().role is UserRole.USER  # issued before roles existed


def test_a_token_with_an_unknown_role_is_invalid() -> None:
    with pytest.raises(InvalidTokenError):
        principal(role="root")


def test_the_admin_dependency_refuses_a_user_with_403_forbidden() -> None:
    user = Principal(uuid4(), "ann@example.org", "jti")
    with pytest.raises(ProblemError) as refused:
        asyncio.run(current_admin(user))
    assert (refused.value.status, refused.value.code) == (403, "forbidden")
    admin = Principal(uuid4(), "ada@example.org", "jti", role=UserRole.ADMIN)
    assert asyncio.run(current_admin(admin)) is admin


def test_redis_figures_sum_the_keyspace_and_divide_hits_by_lookups() -> None:
    info = {
        "redis_version": "7.0.15",
        "used_memory": 1_048_576,
        "maxmemory": 0,
        "keyspace_hits": 30,
        "keyspace_misses": 10,
        "evicted_keys": 2,
        "expired_keys": 5,
        "connected_clients": 4,
        "db0": {"keys": 7, "expires": 3, "avg_ttl": 0},
        "db3": {"keys": 5, "expires": 0, "avg_ttl": 0},
        "dbsize_note": {"keys": 1000},  # not a database: left out
    }
    stats = redis_stats(info)
    assert (stats.keys, stats.hits, stats.misses) == (12, 30, 10)
    assert stats.hit_ratio == 0.75  # 30 / 40
    assert (stats.used_memory_bytes, stats.evicted_keys, stats.version) == (1_048_576, 2, "7.0.15")
    assert hit_ratio(0, 0) is None


def test_the_registry_keeps_each_instances_latest_process_figures() -> None:
    t0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    process = ProcessStats(
        pid=42,
        cpu_percent=12.5,
        cpu_time_s=3.0,
        rss_bytes=100_000_000,
        threads=9,
        open_files=3,
        uptime_s=60.0,
    )
    registry = ServiceRegistry(timedelta(seconds=10))
    registry.observe(
        ServiceHeartbeat(
            service="engine",
            instance_id="e1",
            status=ServiceStatus.UP,
            version="0.1.0",
            started_at=t0,
            interval_s=3,
            process=process,
            occurred_at=t0,
            created_at=t0,
        ),
        t0,
    )
    [engine] = registry.snapshot(t0)
    [instance] = engine.instances
    assert instance.process == process
