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
samples go to ``LOAD_OUT/samples.json`` for ``load_summary.py``.
"""

import itertools
import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from load_summary import LATENCY, LIGHT, TASK, failure_reason
from locust import HttpUser, between, constant, events, task
from locust.env import Environment
from locust.exception import StopUser
from minute_bars import minute_bars_csv
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect
from websockets.typing import Subprotocol

BARS = int(os.environ.get("LOAD_BARS", "5000"))
PASSWORD = "load test password 1234"  # noqa: S105 - throwaway accounts of a load test
FINAL = {"completed", "failed", "cancelled"}
JOB_DEADLINE_S = 180.0
POLL_S = 0.2
HEAVY_BACKTESTS = 40
HEAVY_OPTIMIZATIONS = 8
SMALL_GRID: dict[str, Any] = {
    "strategy": "sma_cross",
    "parameter_space": {
        "fast": {"start": 5, "stop": 20, "step": 5},
        "slow": {"start": 30, "stop": 60, "step": 10},
    },
    "constraints": [{"left": "fast", "op": "<", "right": "slow"}],
    "objective": {"metric": "sharpe", "direction": "maximize"},
}
REGISTER_RETRY_S = 15.0
"""Under the default 5 registrations a minute per address, and off the 5 s after which uvicorn
closes an idle keep-alive connection (a request sent as it closes fails)."""
SAMPLES: list[tuple[str, str, float, str | None]] = []
_clock: dict[str, float] = {}
ALL_SPAWNED = threading.Event()  # gevent's after its monkey-patching: waits cooperatively
"""Set once every user is spawned: users register and upload their first dataset as they are
spawned, and start their tasks together from then on, so the ramp's registrations (argon2, the
slowest request there is) do not compete with the heavy user's flood."""


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


class Account(HttpUser):
    """A user with an account, a ready dataset and helpers to call the API."""

    abstract = True
    wait_time = between(1, 3)

    def on_start(self) -> None:
        """Register from an address of its own (the answer holds a token), upload a dataset."""
        address = "10." + ".".join(str(secrets.randbelow(256)) for _ in range(3))
        self.client.headers["X-Forwarded-For"] = address
        self.email = f"load-{secrets.token_hex(6)}@example.com"
        self.params = itertools.count()
        self.analysed: list[str] = []
        credentials = {"email": self.email, "password": PASSWORD}
        # A refused registration is an error; the user tries again, as a person would, with a
        # new address in case the refused one was registered all the same (a 503 after the
        # gateway's deadline does not undo what auth does later).
        path = "/api/v1/auth/register"
        while (registered := self.call("POST", path, expect=(201,), json=credentials)) is None:
            time.sleep(REGISTER_RETRY_S)
            credentials["email"] = f"load-{secrets.token_hex(6)}@example.com"
        self.token: str = registered["access_token"]
        self.client.headers["Authorization"] = f"Bearer {self.token}"
        dataset_id = self.upload()
        if dataset_id is None:
            raise StopUser  # nothing works without a dataset; the failure is recorded
        self.dataset_id = dataset_id
        ALL_SPAWNED.wait()

    def call(
        self,
        method: str,
        path: str,
        name: str | None = None,
        expect: tuple[int, ...] = (200,),
        **kwargs: Any,
    ) -> Any:
        """One request named ``name`` (the route template); its JSON, or None on a failure."""
        with self.client.request(
            method, path, name=name or path, catch_response=True, **kwargs
        ) as response:
            if response.status_code in expect:
                response.success()
                return response.json() if response.content else {}
            error = getattr(response, "error", None)
            response.failure(failure_reason(response.status_code, response.text, str(error)))
            return None

    def measured(self, name: str, seconds: float, error: str | None = None) -> None:
        """Record a job latency (not a request) under ``name``."""
        self.environment.events.request.fire(
            request_type=LATENCY,
            name=name,
            response_time=seconds * 1000,
            response_length=0,
            exception=None if error is None else RuntimeError(error),
            context={},
        )

    def until(self, path: str, name: str, done: set[str]) -> dict[str, Any] | None:
        """GET ``path`` every ``POLL_S`` until its ``status`` is in ``done``."""
        deadline = time.monotonic() + JOB_DEADLINE_S
        while time.monotonic() < deadline:
            body = self.call("GET", path, name)
            if body is None:
                return None
            if body.get("status") in done:
                return dict(body)
            time.sleep(POLL_S)
        self.measured(f"{name} (waited)", JOB_DEADLINE_S, f"not done in {JOB_DEADLINE_S:.0f} s")
        return None

    def to_end(self, kind: str, path: str, name: str, started: float) -> bool:
        """Poll a submitted job until it ends and record its submit -> end time; whether it
        completed."""
        job = self.until(path, name, FINAL)
        if job is None:
            return False
        error = None if job["status"] == "completed" else f"{kind} {job['status']}"
        self.measured(f"{kind} submit -> completed (polling)", time.perf_counter() - started, error)
        return error is None

    def analysed_in_time(self, run_id: str) -> bool:
        """GET the run's analysis every ``POLL_S`` until it is there (a 409 ``not_ready`` is
        pending, any other answer but 200 an error)."""
        name = "/api/v1/analytics/{run_id} (until analysed)"
        deadline = time.monotonic() + JOB_DEADLINE_S
        while time.monotonic() < deadline:
            with self.client.request(
                "GET", f"/api/v1/analytics/{run_id}", name=name, catch_response=True
            ) as response:
                if response.status_code == 200:
                    response.success()
                    return True
                reason = failure_reason(response.status_code, response.text)
                if reason != "HTTP 409 not_ready":
                    response.failure(reason)
                    return False
                response.success()
            time.sleep(POLL_S)
        self.measured(f"{name} (waited)", JOB_DEADLINE_S, f"not done in {JOB_DEADLINE_S:.0f} s")
        return False

    def upload(self) -> str | None:
        """Upload a fresh random walk of ``BARS`` bars; its id once ready."""
        csv = minute_bars_csv(BARS, secrets.randbelow(2**31))
        files = {"file": ("bars.csv", csv, "text/csv")}
        created = self.call("POST", "/api/v1/datasets", expect=(200, 202), files=files)
        if created is None:
            return None
        name = "/api/v1/datasets/{dataset_id}"
        ready = self.until(f"/api/v1/datasets/{created['id']}", name, {"ready", "rejected"})
        if ready is None or ready["status"] != "ready":
            return None
        dataset_id: str = created["id"]
        return dataset_id

    def backtest_body(self) -> dict[str, Any]:
        """sma_cross with parameters this user has not used yet (no result-cache answers)."""
        n = next(self.params)
        return {
            "dataset_id": self.dataset_id,
            "strategy": "sma_cross",
            "parameters": {"fast": 2 + n % 40, "slow": 50 + n // 40},
            "options": {"fee_rate": 0.001},
        }

    def submit_backtest(self) -> str | None:
        """POST a backtest; its run id."""
        run = self.call("POST", "/api/v1/backtests", expect=(202,), json=self.backtest_body())
        return None if run is None else str(run["id"])

    def submit_grid(self) -> str | None:
        """POST a 16-combination grid optimisation; its id."""
        body = {"dataset_id": self.dataset_id, **SMALL_GRID}
        body["options"] = {"fee_rate": 1e-5 * (next(self.params) % 1000)}  # not cached
        created = self.call("POST", "/api/v1/optimizations", expect=(202,), json=body)
        return None if created is None else str(created["id"])

    def watch(self) -> "Live | None":
        """Open ``/api/v1/ws`` with the token; None (recorded) when it fails."""
        url = (self.host or "").replace("http://", "ws://", 1) + "/api/v1/ws"
        started = time.perf_counter()
        error: str | None = None
        live = None
        try:
            live = Live(ws_connect(url, legacy=True, subprotocols=protocols(self.token)))
        except (OSError, ConnectionClosed, RuntimeError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        self.environment.events.request.fire(
            request_type="WS",
            name="/api/v1/ws",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=None if error is None else RuntimeError(error),
            context={},
        )
        return live

    def reconnect(self, closed: ConnectionClosed) -> "Live | None":
        """Record a socket the server closed as an error and open another."""
        self.environment.events.request.fire(
            request_type=TASK,
            name="/api/v1/ws",
            response_time=0,
            response_length=0,
            exception=RuntimeError(f"socket closed: {closed}"),
            context={},
        )
        return self.watch()


def protocols(token: str) -> list[Subprotocol]:
    """The subprotocols that carry an access token (docs/websocket.md)."""
    return [Subprotocol("tradelab.v1"), Subprotocol(f"bearer.{token}")]


class Live:
    """One ``/api/v1/ws`` connection: answers pings, keeps the final event of each job."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        ready = json.loads(socket.recv(timeout=30))
        if ready.get("type") != "ready":
            msg = f"expected ready, got {ready.get('type')}"
            raise RuntimeError(msg)
        self.finals: dict[str, tuple[str, float]] = {}

    def read(self, timeout_s: float) -> None:
        """Handle messages for up to ``timeout_s`` (at least one read)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                message = json.loads(
                    self.socket.recv(timeout=max(0.0, deadline - time.monotonic()))
                )
            except TimeoutError:
                return
            if message.get("type") == "ping":
                self.socket.send('{"type": "pong"}')
            elif message.get("type") in FINAL and "run_id" in message:
                self.finals[message["run_id"]] = (message["type"], time.perf_counter())
            if time.monotonic() >= deadline:
                return

    def final(self, run_id: str, deadline_s: float) -> tuple[str, float] | None:
        """Wait for the job's final event: (type, when received) or None past the deadline."""
        deadline = time.monotonic() + deadline_s
        while run_id not in self.finals and time.monotonic() < deadline:
            self.read(min(1.0, deadline - time.monotonic()))
        return self.finals.pop(run_id, None)

    def close(self) -> None:
        """Close the socket."""
        self.socket.close()


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
