"""The supervisor's restart policy as pure logic: a fake clock and fake children, no sleeping."""

from dataclasses import dataclass, field

import pytest

from tradelab_devstack.supervisor import RestartPolicy, Supervisor


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeChild:
    name: str
    clock: FakeClock
    alive: bool = True
    returncode: int | None = None
    failing_starts: int = 0
    started_at: list[float] = field(default_factory=list)
    started_after: list[str] = field(default_factory=list)
    down_at_start: list[str] = field(default_factory=list)
    others: list["FakeChild"] = field(default_factory=list)

    def running(self) -> bool:
        return self.alive

    def die(self, code: int) -> None:
        self.alive, self.returncode = False, code

    def stop(self) -> None:
        self.alive, self.returncode = False, 0

    def restart(self) -> None:
        self.started_after = [o.name for o in self.others if o.started_at]
        self.down_at_start = [o.name for o in self.others if not o.alive]
        if self.failing_starts:
            self.failing_starts -= 1
            msg = "port busy"
            raise RuntimeError(msg)
        self.alive, self.returncode = True, None
        self.started_at.append(self.clock.now)


POLICY = RestartPolicy(initial_s=1, max_s=30, stable_s=60)


def supervise(
    *children: FakeChild, infrastructure: tuple[FakeChild, ...] = ()
) -> tuple[Supervisor, list[str]]:
    lines: list[str] = []
    clock = (children or infrastructure)[0].clock
    supervisor = Supervisor(infrastructure, children, policy=POLICY, clock=clock, log=lines.append)
    return supervisor, lines


def crash_and_restart(child: FakeChild, supervisor: Supervisor, clock: FakeClock) -> float:
    """Kill ``child``, tick until it is restarted; return the delay it waited."""
    child.die(-9)
    died_at = clock.now
    supervisor.tick()
    while not child.alive:
        clock.now += 0.5
        supervisor.tick()
    return clock.now - died_at


def test_delay_doubles_from_one_second_and_stops_at_thirty() -> None:
    assert [POLICY.delay(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert POLICY.delay(10_000) == 30


def test_each_quick_crash_doubles_the_wait_and_is_logged_with_code_and_delay() -> None:
    clock = FakeClock()
    engine = FakeChild("engine", clock)
    supervisor, lines = supervise(engine)

    waits = [crash_and_restart(engine, supervisor, clock) for _ in range(7)]

    assert waits == [1, 2, 4, 8, 16, 30, 30]
    assert lines[0] == "[tradelab] engine exited with code -9; restarting in 1 s"
    assert lines[1] == "[tradelab] engine restarted (restart 1)"
    assert lines[-2] == "[tradelab] engine exited with code -9; restarting in 30 s"
    assert supervisor.restarts("engine") == 7


def test_wait_falls_back_to_one_second_after_the_child_stayed_up_a_while() -> None:
    clock = FakeClock()
    engine = FakeChild("engine", clock)
    supervisor, _ = supervise(engine)
    for _ in range(4):
        crash_and_restart(engine, supervisor, clock)

    clock.now += 59  # not long enough: the next wait keeps doubling
    assert crash_and_restart(engine, supervisor, clock) == 16
    clock.now += 60
    assert crash_and_restart(engine, supervisor, clock) == 1


def test_nothing_is_restarted_before_its_delay() -> None:
    clock = FakeClock()
    auth = FakeChild("auth", clock)
    supervisor, _ = supervise(auth)
    auth.die(1)
    supervisor.tick()
    clock.now += 0.99
    supervisor.tick()
    assert auth.started_at == []
    clock.now += 0.01
    supervisor.tick()
    assert auth.started_at == [clock.now]


def test_a_failed_restart_is_retried_with_a_longer_wait() -> None:
    clock = FakeClock()
    gateway = FakeChild("gateway", clock, failing_starts=1)
    supervisor, lines = supervise(gateway)

    assert crash_and_restart(gateway, supervisor, clock) == 1 + 2
    assert "[tradelab] gateway failed to restart (port busy); restarting in 2 s" in lines


def test_services_wait_for_the_broker_which_is_restarted_first() -> None:
    clock = FakeClock()
    broker = FakeChild("tansu", clock)
    auth = FakeChild("auth", clock, others=[broker])
    supervisor, lines = supervise(auth, infrastructure=(broker,))

    broker.die(-9)
    auth.die(1)
    supervisor.tick()
    assert lines == [
        "[tradelab] tansu exited with code -9; restarting in 1 s",
        "[tradelab] auth exited with code 1; restarting in 1 s",
    ]
    broker.failing_starts = 1  # the broker's first restart fails: auth keeps waiting
    clock.now += 1
    supervisor.tick()
    assert auth.started_at == []
    clock.now += 2
    supervisor.tick()
    assert broker.started_at == [clock.now]
    assert auth.started_at == [clock.now]
    assert auth.started_after == ["tansu"]


def test_a_broker_restart_restarts_every_service_with_it() -> None:
    clock = FakeClock()
    broker = FakeChild("tansu", clock)
    auth = FakeChild("auth", clock, others=[broker])
    engine = FakeChild("engine", clock, others=[broker])
    broker.others = [auth, engine]
    supervisor, lines = supervise(auth, engine, infrastructure=(broker,))

    broker.die(-9)
    supervisor.tick()
    clock.now += 1
    supervisor.tick()
    assert lines[1:] == [
        "[tradelab] auth stopped: tansu is restarted empty",
        "[tradelab] engine stopped: tansu is restarted empty",
        "[tradelab] tansu restarted (restart 1)",
        "[tradelab] auth restarted (restart 1)",
        "[tradelab] engine restarted (restart 1)",
    ]
    assert auth.alive
    assert engine.alive
    assert auth.started_after == engine.started_after == ["tansu"]
    assert broker.down_at_start == ["auth", "engine"]  # no publisher while topics are restored
    restarted_at = clock.now
    clock.now += 1
    supervisor.tick()  # nothing more: they run
    assert (auth.started_at, engine.started_at) == ([restarted_at], [restarted_at])


@pytest.mark.parametrize("code", [0, 1, -9, -15])
def test_any_exit_is_restarted_whatever_its_status(code: int) -> None:
    clock = FakeClock()
    datasets = FakeChild("datasets", clock)
    supervisor, lines = supervise(datasets)
    datasets.die(code)
    supervisor.tick()
    clock.now += 1
    supervisor.tick()
    assert datasets.alive
    assert f"exited with code {code};" in lines[0]
