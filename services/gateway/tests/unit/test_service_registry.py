from datetime import UTC, datetime, timedelta

from tradelab_contracts.system import ServiceHeartbeat, ServiceStatus
from tradelab_gateway.domain.service_registry import Health, ServiceRegistry

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TIMEOUT = timedelta(seconds=10)


def beat(
    service: str, instance: str, status: ServiceStatus = ServiceStatus.UP, at: datetime = T0
) -> ServiceHeartbeat:
    return ServiceHeartbeat(
        service=service,
        instance_id=instance,
        status=status,
        version="0.1.0",
        started_at=T0,
        interval_s=3,
        checks={"broker": status is ServiceStatus.UP},
        occurred_at=at,
        created_at=at,
    )


def health_of(registry: ServiceRegistry, service: str, now: datetime) -> Health:
    return next(s.health for s in registry.snapshot(now) if s.service == service)


def test_expected_service_never_heard_of_is_down() -> None:
    registry = ServiceRegistry(TIMEOUT, expected=("engine",))
    [engine] = registry.snapshot(T0)
    assert (engine.service, engine.health, engine.instances) == ("engine", Health.DOWN, ())


def test_service_is_up_while_heartbeats_are_recent() -> None:
    registry = ServiceRegistry(TIMEOUT)
    registry.observe(beat("engine", "e1"), T0)
    assert health_of(registry, "engine", T0 + timedelta(seconds=9)) is Health.UP


def test_silent_service_is_down_once_the_timeout_has_passed() -> None:
    registry = ServiceRegistry(TIMEOUT)
    registry.observe(beat("engine", "e1"), T0)
    assert health_of(registry, "engine", T0 + timedelta(seconds=11)) is Health.DOWN


def test_stopping_heartbeat_marks_the_instance_down_at_once() -> None:
    registry = ServiceRegistry(TIMEOUT)
    registry.observe(beat("auth", "a1"), T0)
    registry.observe(beat("auth", "a1", ServiceStatus.STOPPING, T0 + timedelta(seconds=1)), T0)
    assert health_of(registry, "auth", T0 + timedelta(seconds=1)) is Health.DOWN


def test_late_older_heartbeat_does_not_resurrect_a_stopped_instance() -> None:
    registry = ServiceRegistry(TIMEOUT)
    registry.observe(beat("auth", "a1", ServiceStatus.STOPPING, T0 + timedelta(seconds=5)), T0)
    registry.observe(beat("auth", "a1", ServiceStatus.UP, T0), T0 + timedelta(seconds=6))
    assert health_of(registry, "auth", T0 + timedelta(seconds=6)) is Health.DOWN


def test_degraded_instance_makes_the_service_degraded() -> None:
    registry = ServiceRegistry(TIMEOUT)
    registry.observe(beat("datasets", "d1", ServiceStatus.DEGRADED), T0)
    assert health_of(registry, "datasets", T0) is Health.DEGRADED


def test_one_live_replica_keeps_the_service_up_and_both_are_listed() -> None:
    registry = ServiceRegistry(TIMEOUT)
    registry.observe(beat("engine", "e1"), T0)
    registry.observe(beat("engine", "e2"), T0 + timedelta(seconds=30))
    [engine] = registry.snapshot(T0 + timedelta(seconds=31))
    assert engine.health is Health.UP
    assert [(i.instance_id, i.health) for i in engine.instances] == [
        ("e1", Health.DOWN),
        ("e2", Health.UP),
    ]


def test_instances_unheard_of_for_long_are_forgotten() -> None:
    registry = ServiceRegistry(TIMEOUT)
    registry.observe(beat("engine", "old"), T0)
    registry.observe(beat("engine", "new"), T0 + timedelta(hours=2))
    registry.forget_older_than(T0 + timedelta(hours=1))
    [engine] = registry.snapshot(T0 + timedelta(hours=2))
    assert [i.instance_id for i in engine.instances] == ["new"]
