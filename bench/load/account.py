"""The load scenario's base user: an account, a ready dataset, and calls named by route."""

import itertools
import os
import secrets
import threading
import time
from typing import Any

from live import FINAL, Live, protocols
from load_summary import LATENCY, TASK, failure_reason
from locust import HttpUser, between
from locust.exception import StopUser
from minute_bars import minute_bars_csv
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

BARS = int(os.environ.get("LOAD_BARS", "5000"))
PASSWORD = "load test password 1234"  # noqa: S105 - throwaway accounts of a load test
JOB_DEADLINE_S = 180.0
POLL_S = 0.2
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
"""Under the default 5 registrations a minute per address."""
ALL_SPAWNED = threading.Event()  # gevent's after its monkey-patching: waits cooperatively
"""Set once every user is spawned (``locustfile.py``): users register and upload their first
dataset as they are spawned, and start their tasks together from then on, so the ramp's
registrations (argon2, the slowest request there is) do not compete with the heavy user's
flood."""


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
