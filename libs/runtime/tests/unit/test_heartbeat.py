from datetime import UTC, datetime

import pytest
from faststream.kafka import KafkaBroker

from tradelab_contracts.system import ProcessStats, ServiceStatus
from tradelab_runtime.health import Readiness
from tradelab_runtime.heartbeat import HeartbeatPublisher, status_from_checks
from tradelab_runtime.process_stats import Sampler


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


@pytest.mark.parametrize(
    ("checks", "expected"),
    [
        ({"broker": True, "database": True}, ServiceStatus.UP),
        ({"broker": True, "database": False}, ServiceStatus.DEGRADED),
        ({"started": False}, ServiceStatus.DEGRADED),
    ],
)
def test_status_is_up_only_when_every_check_passes(
    checks: dict[str, bool], expected: ServiceStatus
) -> None:
    assert status_from_checks(checks) is expected


def engine_publisher(clock: FixedClock, sample: Sampler | None = None) -> HeartbeatPublisher:
    return HeartbeatPublisher(
        KafkaBroker("127.0.0.1:1"),  # never connected: building a beat does no I/O
        service="engine",
        instance_id="engine-1",
        version="0.1.0",
        interval_s=3.0,
        readiness=Readiness({}, timeout_s=1),
        clock=clock,
        sample=sample,
    )


def test_heartbeat_carries_identity_checks_and_clock_time() -> None:
    clock = FixedClock(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    publisher = engine_publisher(clock)
    beat = publisher.build(ServiceStatus.DEGRADED, {"database": False})
    assert (beat.service, beat.instance_id, beat.version) == ("engine", "engine-1", "0.1.0")
    assert beat.status is ServiceStatus.DEGRADED
    assert beat.checks == {"database": False}
    assert beat.occurred_at == beat.created_at == clock.current
    assert beat.interval_s == 3.0


def test_heartbeat_carries_the_sampled_process_figures() -> None:
    clock = FixedClock(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    figures = ProcessStats(
        pid=7, cpu_percent=50.0, cpu_time_s=1.5, rss_bytes=10, threads=2, open_files=1, uptime_s=9
    )
    publisher = engine_publisher(clock, sample=lambda: figures)
    assert publisher.build(ServiceStatus.UP, {}).process == figures
