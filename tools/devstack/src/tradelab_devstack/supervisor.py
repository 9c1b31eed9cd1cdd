"""Keep every process ``make up`` started running, like a compose ``restart: always`` policy.

A child that exits is started again after a delay that doubles from ``initial_s`` up to ``max_s``,
and falls back to ``initial_s`` once the child has stayed up ``stable_s``. Infrastructure (the
broker) comes before services: while it is down or waiting to be restarted no service is
restarted, and the broker's own restart includes creating its topics again (it is memory-only and
comes back empty), so nothing else runs against a broker without them.
"""

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from .kafka import TansuProcess


def _say(line: str) -> None:
    print(line, flush=True)


class Child(Protocol):
    """A process the supervisor watches."""

    @property
    def name(self) -> str:
        """Name used in log lines."""

    @property
    def returncode(self) -> int | None:
        """Exit status once it has exited."""

    def running(self) -> bool:
        """Return whether it is alive (reaping it once it has exited)."""

    def restart(self) -> None:
        """Start it again; raise when that fails."""

    def stop(self) -> None:
        """Stop it (gracefully, bounded)."""


@dataclass(frozen=True)
class RestartPolicy:
    """Bounded exponential back-off between restarts of one child."""

    initial_s: float = 1.0
    max_s: float = 30.0
    stable_s: float = 60.0

    def delay(self, quick_exits: int) -> float:
        """Return the wait before the restart that follows ``quick_exits`` exits in a row."""
        return float(min(self.initial_s * 2 ** min(quick_exits, 32), self.max_s))


@dataclass
class _Watch:
    child: Child
    started_at: float
    quick_exits: int = 0
    due_at: float | None = None
    restarts: int = 0


class Supervisor:
    """Restart children that exit, infrastructure first.

    Parameters
    ----------
    infrastructure
        Children the others depend on (the broker), restarted first.
    services
        Children restarted only while every infrastructure child runs.
    policy
        The back-off between restarts.
    clock
        Monotonic seconds (injected so the policy is tested without sleeping).
    log
        Where a line about each exit and restart goes.
    """

    def __init__(
        self,
        infrastructure: Sequence[Child],
        services: Sequence[Child],
        *,
        policy: RestartPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] = _say,
    ) -> None:
        self.policy = policy or RestartPolicy()
        self._clock = clock
        self._log = log
        now = clock()
        self._infrastructure = [_Watch(child, now) for child in infrastructure]
        self._services = [_Watch(child, now) for child in services]

    def restarts(self, name: str) -> int:
        """Return how many times ``name`` has been restarted."""
        watch = next(w for w in self._infrastructure + self._services if w.child.name == name)
        return watch.restarts

    def tick(self) -> None:
        """Notice exits and perform the restarts that are due; never blocks on a child's exit."""
        now = self._clock()
        for watch in self._infrastructure:
            self._check(watch, now)
        infrastructure_up = all(
            w.due_at is None and w.child.running() for w in self._infrastructure
        )
        for watch in self._services:
            self._check(watch, self._clock(), may_restart=infrastructure_up)

    def run(self, interval_s: float = 0.5) -> None:
        """Tick until interrupted (``make up`` leaves by an exception from its signal handler)."""
        while True:
            self.tick()
            time.sleep(interval_s)

    def _check(self, watch: _Watch, now: float, *, may_restart: bool = True) -> None:
        if watch.due_at is None:
            if watch.child.running():
                return
            if now - watch.started_at >= self.policy.stable_s:
                watch.quick_exits = 0
            self._schedule(watch, now, f"exited with code {watch.child.returncode}")
        if may_restart and watch.due_at is not None and now >= watch.due_at:
            self._restart(watch)

    def _schedule(self, watch: _Watch, now: float, what: str) -> None:
        delay = self.policy.delay(watch.quick_exits)
        watch.quick_exits += 1
        watch.due_at = now + delay
        self._log(f"[tradelab] {watch.child.name} {what}; restarting in {delay:g} s")

    def _restart(self, watch: _Watch) -> None:
        infrastructure = any(watch is w for w in self._infrastructure)
        if infrastructure:
            self._stop_dependents(watch.child.name)
        watch.restarts += 1
        try:
            watch.child.restart()
        except Exception as exc:
            self._schedule(watch, self._clock(), f"failed to restart ({exc})")
            return
        watch.due_at = None
        watch.started_at = self._clock()
        self._log(f"[tradelab] {watch.child.name} restarted (restart {watch.restarts})")

    def _stop_dependents(self, name: str) -> None:
        """Stop every running service before the broker is started again empty; they are
        started again once it runs, as a compose ``depends_on`` restart would.

        Their consumer groups, offsets and per-instance topics die with the broker, and fresh
        processes rejoin cleanly, where clients left running were seen to wait on groups the new
        broker never formed. Stopping them *before* the broker comes back also means no client
        publishes while its topics are created again: a publish to a topic not created yet has
        the broker auto-create it with 4 partitions (a heartbeat did, in CI). What they held is
        resumed from PostgreSQL (leases, the sweeper, the outbox). They are stopped together:
        one by one, each taking ~7 s to close its clients of the dead broker, kept the broker
        down for half a minute.
        """
        running = [watch.child for watch in self._services if watch.child.running()]
        # At once: each waits seconds for its broker clients to give up on the dead broker.
        with ThreadPoolExecutor(max_workers=max(1, len(running))) as pool:
            list(pool.map(lambda child: child.stop(), running))
        for child in running:
            self._log(f"[tradelab] {child.name} stopped: {name} is restarted empty")
        now = self._clock()
        for watch in self._services:
            watch.due_at = now


class BrokerChild:
    """The Tansu broker as a child: a restart is the same port, then every topic again."""

    def __init__(self, process: TansuProcess, restore_topics: Callable[[str], object]) -> None:
        self.process = process
        self._restore_topics = restore_topics

    @property
    def name(self) -> str:
        """The broker's name."""
        return self.process.name

    @property
    def returncode(self) -> int | None:
        """The broker's exit status."""
        return self.process.returncode

    def running(self) -> bool:
        """Return whether the broker runs."""
        return self.process.running()

    def stop(self) -> None:
        """Stop the broker."""
        self.process.stop()

    def restart(self) -> None:
        """Start the broker on its port and create its topics; stop it again if that fails."""
        self.process.stop()  # reaps the dead process and closes its log
        broker = self.process.start()
        try:
            self._restore_topics(broker.bootstrap)
        except Exception:
            self.process.stop()
            raise
