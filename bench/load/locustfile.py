"""The load scenario: users uploading, backtesting, reading analyses, optimising and watching.

Run by ``bench/load/run.py`` (``make load``), which gives the host and ``LOAD_OUT``. Every user
registers an account of its own (from an ``X-Forwarded-For`` address of its own: the gateway
counts registrations per client address and trusts the runner as a proxy), uploads a
``LOAD_BARS``-bar CSV (5,000) and waits for it to be ready, then, once every user is spawned:

- ``MixedUser`` (most users): uploads more CSVs, submits backtests and polls them to completion
  and until their analysis is available, reads analyses of completed runs (metrics, charts,
  rolling metrics, equity, trades), runs small grid optimisations (16 combinations);
- ``WatcherUser``: holds ``/api/v1/ws`` open and waits for its backtests' final events there;
- ``HeavyUser`` (one): floods, keeping ``HEAVY_BACKTESTS`` backtests and ``HEAVY_OPTIMIZATIONS``
  grids queued or running at all times (under the default per-user quotas, 50 and 10);
- ``LightUser`` (one): one backtest at a time, watched on its socket; its submit -> completed
  time is the latency reported while the heavy user floods.

Every request is named by its route template. Responses other than the expected status, jobs
that fail or do not finish within ``JOB_DEADLINE_S``, and sockets that close are errors. The
samples go to ``LOAD_OUT/samples.json`` for ``load_summary.py``. The base user is in
``account.py``, the WebSocket client in ``live.py``.
"""

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from account import ALL_SPAWNED, JOB_DEADLINE_S, Account
from live import Live
from load_summary import LIGHT, TASK
from locust import between, constant, events, task
from locust.env import Environment
from websockets.exceptions import ConnectionClosed

HEAVY_BACKTESTS = 40
HEAVY_OPTIMIZATIONS = 8
SAMPLES: list[tuple[str, str, float, str | None]] = []
_clock: dict[str, float] = {}


@events.request.add_listener
def _record(
    request_type: str, name: str, response_time: float, exception: BaseException | None, **_: Any
) -> None:
    SAMPLES.append(
        (request_type, name, response_time, None if exception is None else str(exception))
    )


@events.user_error.add_listener
def _task_failed(user_instance: Any, exception: BaseException, tb: Any, **_: Any) -> None:
    # A task that raised (a socket closed under it, say): counted as an error too.
    name = type(user_instance).__name__
    SAMPLES.append((TASK, name, 0.0, f"{type(exception).__name__}: {exception}"))


@events.test_start.add_listener
def _started(environment: Environment, **_: Any) -> None:
    _clock["start"] = time.monotonic()


@events.spawning_complete.add_listener
def _all_spawned(user_count: int, **_: Any) -> None:
    ALL_SPAWNED.set()


@events.test_stop.add_listener
def _stopped(environment: Environment, **_: Any) -> None:
    seconds = time.monotonic() - _clock.get("start", time.monotonic())
    out = Path(os.environ.get("LOAD_OUT", "."))
    out.mkdir(parents=True, exist_ok=True)
    (out / "samples.json").write_text(json.dumps({"seconds": seconds, "samples": SAMPLES}))


class MixedUser(Account):
    """Uploads, backtests (polled), analytics reads and small optimisations."""

    weight = 4

    @task(1)
    def upload_dataset(self) -> None:
        """Upload another CSV and wait until it is ready."""
        self.upload()

    @task(3)
    def backtest(self) -> None:
        """Submit a backtest, poll it to completion, then until its analysis is available."""
        started = time.perf_counter()
        run_id = self.submit_backtest()
        if run_id is None:
            return
        path, name = f"/api/v1/backtests/{run_id}", "/api/v1/backtests/{run_id}"
        if not self.to_end("backtest", path, name, started):
            return
        completed = time.perf_counter()
        if self.analysed_in_time(run_id):
            self.measured(
                "completed -> analysis available (polling)", time.perf_counter() - completed
            )
            self.analysed.append(run_id)

    @task(4)
    def read_analysis(self) -> None:
        """Read an analysed run: metrics, charts, rolling metrics, equity, trades."""
        if not self.analysed:
            return
        run_id = self.analysed[secrets.randbelow(len(self.analysed))]
        analytics, backtests = f"/api/v1/analytics/{run_id}", f"/api/v1/backtests/{run_id}"
        self.call("GET", analytics, "/api/v1/analytics/{run_id}")
        self.call("GET", f"{analytics}/charts", "/api/v1/analytics/{run_id}/charts")
        self.call("GET", f"{analytics}/rolling", "/api/v1/analytics/{run_id}/rolling")
        self.call("GET", f"{backtests}/equity?points=500", "/api/v1/backtests/{run_id}/equity")
        self.call("GET", f"{backtests}/trades?limit=100", "/api/v1/backtests/{run_id}/trades")

    @task(1)
    def optimise(self) -> None:
        """Run a small grid to completion and read its results."""
        started = time.perf_counter()
        opt_id = self.submit_grid()
        if opt_id is None:
            return
        path, name = f"/api/v1/optimizations/{opt_id}", "/api/v1/optimizations/{optimization_id}"
        if self.to_end("optimisation", path, name, started):
            self.call("GET", f"{path}/results", f"{name}/results")


class WatcherUser(Account):
    """Holds ``/api/v1/ws`` open and waits there for each of its backtests to end."""

    weight = 1
    latency_name = "watcher: backtest submit -> completed (WebSocket)"

    def on_start(self) -> None:
        """Set up the account, then open the socket."""
        self.live: Live | None = None
        super().on_start()
        self.live = self.watch()

    def on_stop(self) -> None:
        """Close the socket."""
        if self.live is not None:
            self.live.close()

    @task
    def backtest_watched(self) -> None:
        """Submit a backtest and wait for its final event on the socket."""
        if self.live is None:
            self.live = self.watch()  # it failed to open (recorded): try again
            return
        try:
            self.live.read(0)  # pings and events that came while waiting
            started = time.perf_counter()
            run_id = self.submit_backtest()
            if run_id is None:
                return
            final = self.live.final(run_id, JOB_DEADLINE_S)
        except ConnectionClosed as closed:
            self.live = self.reconnect(closed)
            return
        if final is None:
            self.measured(self.latency_name, JOB_DEADLINE_S, "no final event on the socket")
            return
        error = None if final[0] == "completed" else f"backtest {final[0]}"
        self.measured(self.latency_name, final[1] - started, error)


class LightUser(WatcherUser):
    """The one light user: a backtest every few seconds, timed on its socket."""

    fixed_count = 1
    wait_time = between(1, 2)
    latency_name = LIGHT


class HeavyUser(Account):
    """The one heavy user: keeps the engine's queue full of its backtests and grids."""

    fixed_count = 1
    wait_time = constant(0)

    def on_start(self) -> None:
        """Set up the account, then open the socket it counts its jobs' ends on."""
        self.live: Live | None = None
        self.backtests: dict[str, float] = {}
        self.grids: dict[str, float] = {}
        super().on_start()
        self.live = self.watch()

    def on_stop(self) -> None:
        """Close the socket."""
        if self.live is not None:
            self.live.close()

    def settle(self, jobs: dict[str, float], name: str) -> None:
        """Record and forget the jobs whose final event came."""
        assert self.live is not None  # noqa: S101 - flood() read it just before
        for job_id in [j for j in jobs if j in self.live.finals]:
            kind, when = self.live.finals.pop(job_id)
            error = None if kind == "completed" else f"{name.split()[1]} {kind}"
            self.measured(name, when - jobs.pop(job_id), error)

    def read(self, timeout_s: float) -> bool:
        """Read the socket for up to ``timeout_s``; False (recorded, reopened) if it closed."""
        if self.live is None:
            self.live = self.watch()  # it failed to open (recorded): try again
            time.sleep(timeout_s)
            return False
        try:
            self.live.read(timeout_s)
        except ConnectionClosed as closed:
            self.live = self.reconnect(closed)
            self.backtests.clear()  # their ends went with the socket: start a new backlog
            self.grids.clear()
            return False
        return True

    @task
    def flood(self) -> None:
        """Top the backlog up; when it is full, wait on the socket for jobs to end."""
        if not self.read(0.05):
            return
        self.settle(self.backtests, "heavy user: backtest submit -> completed")
        self.settle(self.grids, "heavy user: optimisation submit -> completed")
        topped = False
        started = time.perf_counter()
        if len(self.backtests) < HEAVY_BACKTESTS and (run_id := self.submit_backtest()):
            self.backtests[run_id] = started
            topped = True
        started = time.perf_counter()
        if len(self.grids) < HEAVY_OPTIMIZATIONS and (opt_id := self.submit_grid()):
            self.grids[opt_id] = started
            topped = True
        if not topped:
            self.read(1.0)
