"""Deadlines in the responder: a request nobody waits for any more is dropped, not answered."""

from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Sum

from libs.runtime.tests.unit.test_responder import Ping, Slow, Wiring
from tradelab_runtime.deadlines import (
    EXPIRED_COUNTER,
    DeadlineExceededError,
    check_deadline,
    is_past,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SECOND = timedelta(seconds=1)


class FakeClock:
    """A clock standing at ``at`` until a test moves it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


class Counted:
    """A responder whose clock stands at NOW and whose expired counter can be read."""

    def __init__(self, background: frozenset[type] = frozenset()) -> None:
        self.clock = FakeClock(NOW)
        self.reader = InMemoryMetricReader()
        self.wiring = Wiring(
            background=background,
            clock=self.clock,
            meter_provider=MeterProvider(metric_readers=[self.reader]),
        )

    def expired(self) -> dict[str, int]:
        """Return the expired counter's value by request kind (empty: never counted)."""
        data = self.reader.get_metrics_data()
        counts: dict[str, int] = {}
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name != EXPIRED_COUNTER or not isinstance(metric.data, Sum):
                        continue
                    for point in metric.data.data_points:
                        counts[str((point.attributes or {})["kind"])] = int(point.value)
        return counts


@pytest.mark.asyncio
async def test_a_request_whose_deadline_has_passed_is_dropped_unanswered_and_counted() -> None:
    counted = Counted()
    await counted.wiring.send(Ping(deadline=NOW - SECOND))
    await counted.wiring.send(Ping(deadline=NOW))  # the deadline itself is too late
    assert counted.wiring.published == []
    assert counted.expired() == {"ping": 2}


@pytest.mark.asyncio
async def test_a_request_before_its_deadline_is_answered_and_not_counted() -> None:
    counted = Counted()
    ping = Ping(deadline=NOW + SECOND)
    await counted.wiring.send(ping)
    assert [(r.request_id, r.text) for r, _, _ in counted.wiring.published] == [
        (ping.message_id, "pong")
    ]
    assert counted.expired() == {}


@pytest.mark.asyncio
async def test_a_request_without_a_deadline_is_answered_however_late() -> None:
    counted = Counted()
    counted.clock.at = datetime(2100, 1, 1, tzinfo=UTC)
    await counted.wiring.send(Ping())
    assert counted.wiring.texts() == ["pong"]
    assert counted.expired() == {}


@pytest.mark.asyncio
async def test_a_handler_finding_its_request_late_gets_it_dropped_not_answered_internal() -> None:
    counted = Counted()
    counted.wiring.service.fail_with = DeadlineExceededError("ping")
    await counted.wiring.send(Ping(deadline=NOW + SECOND))
    assert counted.wiring.published == []
    assert counted.expired() == {"ping": 1}


@pytest.mark.asyncio
async def test_the_deadline_is_checked_when_the_requests_turn_comes_not_on_arrival() -> None:
    counted = Counted(background=frozenset({Slow}))
    # In a task, the deadline is checked when the request's turn comes, not when it arrived.
    await counted.wiring.send(Slow(deadline=NOW + SECOND))
    counted.clock.at = NOW + 2 * SECOND
    counted.wiring.service.gate.set()
    await counted.wiring.responder.drain()
    assert counted.wiring.texts() == []
    assert counted.expired() == {"slow": 1}


def test_check_deadline_raises_only_once_the_deadline_has_passed() -> None:
    clock = FakeClock(NOW)
    check_deadline(Ping(deadline=NOW + SECOND), clock)
    check_deadline(Ping(), clock)
    with pytest.raises(DeadlineExceededError, match="ping"):
        check_deadline(Ping(deadline=NOW), clock)


def test_no_deadline_is_never_past() -> None:
    assert not is_past(None, datetime.max.replace(tzinfo=UTC))
    assert is_past(NOW - SECOND, NOW)
    assert not is_past(NOW + SECOND, NOW)
